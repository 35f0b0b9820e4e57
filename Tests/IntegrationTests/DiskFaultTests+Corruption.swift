import Foundation
import TestSupport
import XCTest

extension DiskFaultTests {
    /// Two spool segments (one damaged in the middle, one truncated) and a crash-journal file with a
    /// record damaged in the middle and a truncated last record, as a disk fault or a power cut leaves
    /// them: the next start sets the three files aside in corrupt/, names each in a log line, counts
    /// them and their lines, and delivers everything else.
    func testDamagedAndTruncatedSpoolSegmentsAndJournalFileAreSetAsideAndTheRestDelivered() async throws {
        let devices = ["d1", "d2", "d3"]
        try registry(devices)
        await harness.influx.stop()

        // 300 lines in the spool, in batches of 50: a SIGTERM while InfluxDB is down spools them
        // (DURABILITY=memory: acknowledged, so the broker does not send them to the next run again).
        try await harness.startIngestd(Self.quickRetries.merging([
            "INFLUX_BATCH_SIZE": "50", "SHUTDOWN_TIMEOUT_SECONDS": "1", "DURABILITY": "memory",
        ]) { _, new in new })
        try await harness.publish(devices: devices, count: 100)
        try await harness.waitUntilReceived(300)
        let stopped = try await harness.stopIngestd()
        XCTAssertEqual(stopped, 0)

        // 60 lines only in the crash journal, in three syncs at least a stats line apart, then kill -9.
        let journalled = try await harness.startIngestd([
            "DURABILITY": "journal", "JOURNAL_SYNC_MS": "50", "INFLUX_FLUSH_INTERVAL_MS": "3600000",
            "INFLUX_BATCH_SIZE": "100000",
        ])
        for (round, device) in devices.enumerated() {
            try await harness.publish(devices: [device], count: 20, from: 100)
            try await harness.waitUntilReceived(20 * (round + 1))
            let seen = journalled.logLines(message: "stats").count
            try await eventually("a stats line after round \(round)", timeout: 30) {
                journalled.logLines(message: "stats").count > seen
            }
        }
        journalled.process.signal(SIGKILL)
        _ = try await journalled.process.waitForExit(timeout: 30)

        // Damage: the second segment in its middle, the third cut short; the journal's first line
        // record in its body, and its last record cut short.
        let spool = harness.spoolDirectory
        let segments = try FileManager.default.contentsOfDirectory(atPath: spool)
            .filter { $0.hasPrefix("segment-") && $0.hasSuffix(".spool") }.sorted()
        XCTAssertGreaterThanOrEqual(segments.count, 3, "\(segments)")
        var lost = 0
        let damagedSegment = spool + "/" + segments[1]
        lost += try Self.rewrite(damagedSegment) { (bytes: inout [UInt8]) -> Int in
            bytes[bytes.count / 2] ^= 0x01
            return Self.littleEndian(bytes, at: 8)
        }
        let truncatedSegment = spool + "/" + segments[2]
        lost += try Self.rewrite(truncatedSegment) { (bytes: inout [UInt8]) -> Int in
            bytes.removeLast(10)
            return Self.littleEndian(bytes, at: 8)
        }
        let journalFiles = try FileManager.default.contentsOfDirectory(atPath: spool + "/journal")
            .filter { $0.hasPrefix("journal-") }
        XCTAssertEqual(journalFiles.count, 1, "\(journalFiles)")
        let journalFile = spool + "/journal/" + journalFiles[0]
        lost += try Self.rewrite(journalFile) { (bytes: inout [UInt8]) -> Int in
            let records = Self.journalRecords(bytes).filter { $0.kind == 1 }
            XCTAssertGreaterThanOrEqual(records.count, 3, "one line record per sync at least")
            XCTAssertEqual(records.last?.end, bytes.count, "the file ends with a line record")
            guard let first = records.first, let last = records.last, records.count >= 3 else { return 0 }
            bytes[first.bodyOffset + 4] ^= 0x01
            bytes.removeLast(5)
            return first.lineCount + last.lineCount
        }
        XCTAssertGreaterThan(lost, 0)

        try await harness.influx.restart()
        let last = try await harness.startIngestd(["DURABILITY": "journal"])
        try await harness.waitForStats("replayed around the damage", timeout: 180) {
            $0["spool_batches"] == "0" && $0["influx_buffer"] == "0" && $0["corrupt_files"] == "3"
        }
        XCTAssertEqual(last.latestStats()["corrupt_lines"], "\(lost)")
        try await eventually("every intact line in InfluxDB", timeout: 120) {
            (try? await self.harness.count()) == 360 - lost
        }
        let exitCode = try await harness.stopIngestd()
        XCTAssertEqual(exitCode, 0)
        let count = try await harness.count()
        XCTAssertEqual(count, 360 - lost)

        let log = last.process.log()
        for file in [damagedSegment, truncatedSegment] {
            XCTAssertTrue(log.split(separator: "\n").contains { $0.contains("moved to corrupt/") && $0.contains("file=\(file)") }, log)
        }
        XCTAssertTrue(log.split(separator: "\n").contains { $0.contains("journal file is damaged") && $0.contains("file=\(journalFile)") }, log)
        let corrupt = try FileManager.default.contentsOfDirectory(atPath: spool + "/corrupt").sorted()
        let expected: [String] = [journalFiles[0], segments[1], segments[2]]
        XCTAssertEqual(corrupt, expected.sorted())
        let status = try await IngestdProcess.runToCompletion(arguments: ["spool", "status"], environment: harness.environment())
        XCTAssertTrue(status.output.contains("corrupt files set aside: 3"), status.output)
    }

    /// Changes a file in place; returns what `change` returns (the lines the change destroys).
    private static func rewrite(_ path: String, _ change: (inout [UInt8]) -> Int) throws -> Int {
        var bytes = try Array(Data(contentsOf: URL(fileURLWithPath: path)))
        let result = change(&bytes)
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        return result
    }

    private static func littleEndian(_ bytes: [UInt8], at offset: Int) -> Int {
        (0..<4).reduce(0) { $0 | Int(bytes[offset + $1]) << (8 * $1) }
    }

    /// The records of a journal file, read independently of ingestd's code from the format in
    /// `JournalRecord.swift`: magic "IJR1", kind at 4, name length at 6, line count at 16, body
    /// length at 20, a 28-byte header, then the name and the body.
    private static func journalRecords(_ bytes: [UInt8]) -> [(kind: UInt8, lineCount: Int, bodyOffset: Int, end: Int)] {
        var records: [(kind: UInt8, lineCount: Int, bodyOffset: Int, end: Int)] = []
        var offset = 0
        while offset + 28 <= bytes.count, Array(bytes[offset..<offset + 4]) == Array("IJR1".utf8) {
            let nameLength = Int(bytes[offset + 6]) | Int(bytes[offset + 7]) << 8
            let bodyOffset = offset + 28 + nameLength
            let end = bodyOffset + littleEndian(bytes, at: offset + 20)
            records.append((bytes[offset + 4], littleEndian(bytes, at: offset + 16), bodyOffset, end))
            offset = end
        }
        return records
    }
}
