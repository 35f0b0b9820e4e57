import Logging
import TestSupport
import XCTest
@testable import IngestService

/// InfluxClient against a real InfluxDB 1.x (Debian's influxd), v1 write API.
final class InfluxClientRealServerTests: XCTestCase {
    private var logger: Logger {
        var logger = Logger(label: "test.influx-real")
        logger.logLevel = .warning
        return logger
    }

    func testWritesCreateTheMissingDatabaseAndManyWritesReuseConnections() async throws {
        let influx = try await InfluxServer.start()
        do {
            let client = InfluxClient(configuration: .init(baseURL: influx.baseURL, api: .v1, concurrency: 2), logger: logger)
            defer { client.shutdown() }
            let database = "telemetry_t-1"

            // The database does not exist yet: the client creates it and the write lands.
            let first = Array("telemetry,device_id=d1,site_id=s1 seq=1i,temp_c=21.5 1770628523045000000\n".utf8)
            let result = await client.write(database: database, body: first, lineCount: 1)
            XCTAssertEqual(result, .written)
            let afterFirst = try await influx.count(measurement: "telemetry", field: "seq", database: database)
            XCTAssertEqual(afterFirst, 1)

            // Keep-alive: many writes in a row (concurrently on both workers) all succeed.
            let results = await withTaskGroup(of: InfluxWriteResult.self) { group in
                for batch in 0..<50 {
                    group.addTask {
                        let lines = (0..<20).map { i in
                            "telemetry,device_id=d\(i),site_id=s1 seq=\(batch)i \(1_770_628_600_000_000_000 + batch * 1000 + i)\n"
                        }
                        return await client.write(database: database, body: Array(lines.joined().utf8), lineCount: 20)
                    }
                }
                var results: [InfluxWriteResult] = []
                for await result in group { results.append(result) }
                return results
            }
            XCTAssertEqual(results.filter { $0 == .written }.count, 50, "\(results.filter { $0 != .written })")
            let total = try await influx.count(measurement: "telemetry", field: "seq", database: database)
            XCTAssertEqual(total, 1 + 50 * 20)

            // A bad line: InfluxDB 1.x keeps the good ones and answers 400 partial write.
            let mixed = Array("telemetry,device_id=d9,site_id=s1 seq=7i 1770628700000000000\ntelemetry,device_id=d9 seq=\n".utf8)
            guard case .rejected(.status(400, let message, _)) = await client.write(database: database, body: mixed, lineCount: 2) else {
                return XCTFail("expected a 400 rejection")
            }
            XCTAssertTrue(message.contains("partial write") || message.contains("unable to parse"), message)
        } catch {
            XCTFail("\(error)\n\(influx.log())")
        }
        await influx.stop()
        influx.remove()
    }

    func testBatchWriterWithRealServerSurvivesARestart() async throws {
        let influx = try await InfluxServer.start()
        let client = InfluxClient(configuration: .init(baseURL: influx.baseURL, api: .v1, timeoutMilliseconds: 2000), logger: logger)
        let writer = BatchWriter(
            configuration: .init(batchSize: 100, flushIntervalMilliseconds: 50, retryBaseMilliseconds: 50, retryMaxDelayMilliseconds: 500),
            client: client, logger: logger)
        let run = Task { try await writer.run() }
        func chunk(_ range: Range<Int>) -> [UInt8] {
            Array(range.map { "telemetry,device_id=d\($0 % 7),site_id=s1 seq=\($0)i \(1_770_628_523_000_000_000 + $0)\n" }.joined().utf8)
        }
        await writer.append(database: "db_restart", lines: chunk(0..<250), lineCount: 250)
        try await eventually("first lines written", timeout: 60) { writer.metrics.linesWritten.load(ordering: .relaxed) == 250 }

        await influx.stop()
        await writer.append(database: "db_restart", lines: chunk(250..<400), lineCount: 150)
        try await eventually("a failed attempt while InfluxDB is down", timeout: 60) { writer.metrics.batchesFailed.load(ordering: .relaxed) > 0 }
        try await influx.restart()
        try await eventually("everything written after the restart", timeout: 90) { writer.metrics.linesWritten.load(ordering: .relaxed) == 400 }
        run.cancel()
        try await run.value
        client.shutdown()
        let count = try await influx.count(measurement: "telemetry", field: "seq", database: "db_restart")
        XCTAssertEqual(count, 400)
        await influx.stop()
        influx.remove()
    }
}
