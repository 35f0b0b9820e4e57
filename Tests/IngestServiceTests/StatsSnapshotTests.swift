import IngestCore
@testable import IngestService
import XCTest

final class StatsSnapshotTests: XCTestCase {
    /// The keys log scrapers depend on are always there, even before anything happened.
    func testTheContractKeysAreAlwaysPresent() {
        let metadata = StatsSnapshot().metadata(messagesPerSecond: 0)
        for key in ["received", "enqueued", "dropped", "rejected", "influx_batch_ok", "influx_batch_err", "influx_flushes",
                    "influx_buffer", "spool_batches", "auth_cache_hits", "auth_cache_misses", "auth_cache_size",
                    "mqtt_connected", "msgs_per_sec", "retries", "spool_bytes", "spool_replayed", "dead_letter_lines",
                    "influx_up", "spool_full", "registry_up", "ready", "corrupt_files", "corrupt_lines",
                    "registry_lookups_waiting", "registry_messages_waiting", "registry_lookup_ms"] {
            XCTAssertNotNil(metadata[key], key)
        }
        XCTAssertEqual(metadata["dropped"]?.description, "0")
        XCTAssertNil(metadata["last_write_error"], "only once a write failed")
    }

    func testRejectedIsTheSumOfThePerReasonCountersAndOnlySeenReasonsAreListed() {
        var snapshot = StatsSnapshot()
        snapshot.pipeline.reject(.badJSON)
        snapshot.pipeline.reject(.badJSON)
        snapshot.pipeline.reject(.tokenInvalid)
        let metadata = snapshot.metadata(messagesPerSecond: 12.6)
        XCTAssertEqual(metadata["rejected"]?.description, "3")
        XCTAssertEqual(metadata["rejected_BAD_JSON"]?.description, "2")
        XCTAssertEqual(metadata["rejected_TOKEN_INVALID"]?.description, "1")
        XCTAssertNil(metadata["rejected_RATE_LIMITED"])
        XCTAssertEqual(metadata["msgs_per_sec"]?.description, "13")
    }
}
