import Foundation
import TestSupport
import XCTest

/// The sd_notify protocol as systemd sees it: a datagram socket set as NOTIFY_SOCKET receives
/// READY=1 once ingestd subscribed, WATCHDOG=1 while it runs, and STOPPING=1 on SIGTERM.
final class SystemdTests: XCTestCase {
    private var harness: IngestdHarness!

    override func setUp() async throws {
        harness = try await IngestdHarness.start()
        var fleet = Fleet()
        fleet.add("d1")
        try fleet.write(to: harness.registryPath)
    }

    override func tearDown() async throws {
        if let run = testRun, run.failureCount > 0 { print("---- ingestd log ----\n\(harness.log)") }
        await harness.tearDown()
    }

    func testReadyWatchdogStatusAndStoppingOverAnAbstractSocket() async throws {
        try await runAndCheck(try NotifySocketListener.abstract())
    }

    func testReadyOverAPathSocket() async throws {
        try await runAndCheck(try NotifySocketListener(address: harness.directory.file("notify.sock")))
    }

    private func runAndCheck(_ listener: NotifySocketListener) async throws {
        defer { listener.stop() }
        // WATCHDOG_USEC of 1 s: pings every 0.5 s.
        let process = try await harness.startIngestd(["NOTIFY_SOCKET": listener.address, "WATCHDOG_USEC": "1000000"])
        try await eventually("READY=1") { listener.sawLine("READY=1") }
        try await harness.broker.publish(topic: Fleet.topic("d1"), lines: (0..<10).map { Fleet.telemetry("d1", seq: $0) })
        try await harness.waitUntilReceived(10)
        try await eventually("WATCHDOG=1 twice") { listener.received.filter { $0.contains("WATCHDOG=1") }.count >= 2 }
        try await eventually("a STATUS with the counters") { listener.received.contains { $0.contains("STATUS=") && $0.contains("received=10") } }
        XCTAssertFalse(listener.sawLine("STOPPING=1"))

        let value1 = try await harness.stopIngestd()
        XCTAssertEqual(value1, 0)
        try await eventually("STOPPING=1") { listener.sawLine("STOPPING=1") }
        let messages = listener.received
        let ready = messages.firstIndex { $0.contains("READY=1") }!
        let stopping = messages.firstIndex { $0.contains("STOPPING=1") }!
        XCTAssertLessThan(ready, stopping)
        XCTAssertTrue(process.process.log().contains("systemd notified: ready"))
    }

    func testWithoutNotifySocketNothingIsSent() async throws {
        let process = try await harness.startIngestd()
        XCTAssertFalse(process.process.log().contains("systemd notified"))
        let value2 = try await harness.stopIngestd()
        XCTAssertEqual(value2, 0)
    }
}
