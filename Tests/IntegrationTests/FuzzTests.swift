import Foundation
import TestSupport
import XCTest

/// Runs each libFuzzer target (`scripts/fuzz.sh`, README "Tests") for a bounded time, so CI catches a
/// crash, a hang or a broken invariant in the decoders that take bytes from outside. The fuzzers start
/// from the seed corpus in `fuzz/corpus` and the inputs earlier runs found in `.build/fuzz/corpus`.
///
/// `FUZZ_SECONDS` sets the time per target (default 45).
final class FuzzTests: XCTestCase {
    private static let root = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    private var seconds: Int {
        ProcessInfo.processInfo.environment["FUZZ_SECONDS"].flatMap { Int($0) } ?? 45
    }

    func testMQTTPacketDecoderSurvivesFuzzing() async throws {
        try await fuzz("mqtt-packet")
    }

    func testEnvelopeDecoderSurvivesFuzzing() async throws {
        try await fuzz("envelope")
    }

    private func fuzz(_ target: String) async throws {
        let folder = try TemporaryDirectory(prefix: "fuzz-\(target)")
        defer { folder.remove() }
        let script = Self.root.appendingPathComponent("scripts/fuzz.sh").path
        let child = try ChildProcess(name: "fuzz.sh \(target)", executable: script, arguments: [target, "\(seconds)"],
                                     logPath: folder.file("fuzz.log"))
        // Building the target takes up to a few minutes on a loaded machine; -max_total_time bounds the run.
        let status: Int32
        do {
            status = try await child.waitForExit(timeout: Double(seconds) + 600)
        } catch {
            await child.stop()
            throw error
        }
        let log = child.log()
        XCTAssertEqual(status, 0, "fuzz target \(target) failed; the crashing input is in .build/fuzz/artifacts/:\n\(log.suffix(6000))")
        XCTAssertTrue(log.contains("Done "), "libFuzzer did not finish its run:\n\(log.suffix(3000))")
    }
}
