import Logging
import TestSupport
import XCTest
@testable import IngestService

/// InfluxClient against the fake InfluxDB (scripts/fake_influx.py): what a real 1.x server cannot do.
final class InfluxClientFakeServerTests: XCTestCase {
    private let body = Array("telemetry,device_id=d1,site_id=s1 seq=42i,temp_c=21.5 1770628523045000000\n".utf8)
    private var logger: Logger {
        var logger = Logger(label: "test.influxclient")
        logger.logLevel = .warning
        return logger
    }

    func testV3RequestLineAndHeaders() async throws {
        let fake = try await FakeInflux.start()
        let client = InfluxClient(configuration: .init(baseURL: fake.baseURL, api: .v3, token: "tok3n"), logger: logger)
        let result = await client.write(database: "telemetry_t 1", body: body, lineCount: 1)
        client.shutdown()
        XCTAssertEqual(result, .written)
        let requests = try await fake.requests()
        await fake.stop()
        XCTAssertEqual(requests.count, 1)
        let request = try XCTUnwrap(requests.first)
        XCTAssertEqual(request.method, "POST")
        XCTAssertEqual(request.path, "/api/v3/write_lp?db=telemetry_t%201&precision=nanosecond")
        XCTAssertEqual(request.headers["authorization"], "Bearer tok3n")
        XCTAssertEqual(request.headers["content-type"], "text/plain; charset=utf-8")
        XCTAssertNil(request.headers["content-encoding"])
        XCTAssertNil(request.headers["expect"])
        XCTAssertEqual(request.body, body)
    }

    func testV2RequestLineAndHeaders() async throws {
        let fake = try await FakeInflux.start()
        let client = InfluxClient(configuration: .init(baseURL: fake.baseURL, api: .v2, token: "tok2", org: "acme"), logger: logger)
        let result = await client.write(database: "telemetry_t1", body: body, lineCount: 1)
        client.shutdown()
        XCTAssertEqual(result, .written)
        let requests = try await fake.requests()
        await fake.stop()
        let request = try XCTUnwrap(requests.first)
        XCTAssertEqual(request.path, "/api/v2/write?org=acme&bucket=telemetry_t1&precision=ns")
        XCTAssertEqual(request.headers["authorization"], "Token tok2")
        XCTAssertEqual(request.headers["content-type"], "text/plain; charset=utf-8")
        XCTAssertEqual(request.body, body)
    }

    func testGzipBodyDecodesToTheOriginal() async throws {
        let fake = try await FakeInflux.start()
        let client = InfluxClient(configuration: .init(baseURL: fake.baseURL, api: .v3, gzip: true), logger: logger)
        let large = Array((0..<500).map { "m,device_id=d\($0) v=\($0)i 17706285230450\($0)\n" }.joined().utf8)
        let result = await client.write(database: "db", body: large, lineCount: 500)
        client.shutdown()
        XCTAssertEqual(result, .written)
        let recorded = try await fake.requests()
        let request = try XCTUnwrap(recorded.first)
        await fake.stop()
        XCTAssertEqual(request.headers["content-encoding"], "gzip")
        XCTAssertLessThan(request.body.count, large.count)
        XCTAssertEqual(request.decodedBody, large)
    }

    func testStatusesAreClassifiedWithRetryAfter() async throws {
        let fake = try await FakeInflux.start()
        try await fake.script([
            .init(status: 503, body: #"{"error":"overloaded"}"#, retryAfter: "2"),
            .init(status: 400, body: #"{"error":"partial write: unable to parse 'x': invalid field format dropped=1"}"#),
            .init(status: 401, body: #"{"error":"unauthorized"}"#),
        ])
        let client = InfluxClient(configuration: .init(baseURL: fake.baseURL, api: .v3, concurrency: 1), logger: logger)
        let first = await client.write(database: "db", body: body, lineCount: 1)
        let second = await client.write(database: "db", body: body, lineCount: 1)
        let third = await client.write(database: "db", body: body, lineCount: 1)
        client.shutdown()
        await fake.stop()
        XCTAssertEqual(first, .retryable(.status(code: 503, body: #"{"error":"overloaded"}"#, retryAfterSeconds: 2)))
        guard case .rejected(.status(400, let message, nil)) = second else { return XCTFail("\(second)") }
        XCTAssertTrue(message.contains("partial write"))
        guard case .retryable(.status(401, _, _)) = third else { return XCTFail("\(third)") }
    }

    func testTimeoutIsARetryableTransportFailure() async throws {
        let fake = try await FakeInflux.start()
        try await fake.script([.init(status: 204, delay: 3)])
        let client = InfluxClient(configuration: .init(baseURL: fake.baseURL, api: .v3, timeoutMilliseconds: 300), logger: logger)
        let result = await client.write(database: "db", body: body, lineCount: 1)
        client.shutdown()
        await fake.stop()
        guard case .retryable(.transport(let code, _)) = result else { return XCTFail("\(result)") }
        XCTAssertEqual(code, 28, "CURLE_OPERATION_TIMEDOUT")
    }

    func testConnectionRefusedIsRetryable() async throws {
        let port = FreePort.next()
        let client = InfluxClient(configuration: .init(baseURL: "http://127.0.0.1:\(port)", api: .v3), logger: logger)
        let result = await client.write(database: "db", body: body, lineCount: 1)
        client.shutdown()
        guard case .retryable(.transport(7, _)) = result else { return XCTFail("\(result)") }
    }

    func testDryRunSendsNothing() async throws {
        let fake = try await FakeInflux.start()
        let client = InfluxClient(configuration: .init(baseURL: fake.baseURL, api: .v3, writeEnabled: false), logger: logger)
        let result = await client.write(database: "db", body: body, lineCount: 1)
        client.shutdown()
        XCTAssertEqual(result, .written)
        let recorded = try await fake.requests()
        XCTAssertEqual(recorded.count, 0)
        await fake.stop()
    }

    func testWriterRetries503WithRetryAfterThenWritesOnce() async throws {
        let fake = try await FakeInflux.start()
        try await fake.script([.init(status: 503, body: #"{"error":"busy"}"#, retryAfter: "1")])
        let client = InfluxClient(configuration: .init(baseURL: fake.baseURL, api: .v3, token: "t"), logger: logger)
        let writer = BatchWriter(
            configuration: .init(batchSize: 10, flushIntervalMilliseconds: 60_000, retryBaseMilliseconds: 1, retryMaxDelayMilliseconds: 5_000),
            client: client, logger: logger)
        let lines = Array((0..<10).map { "m,device_id=d\($0) v=1i 1770628523045000\($0)00\n" }.joined().utf8)
        await writer.append(database: "db", lines: lines, lineCount: 10)
        try await eventually("written after the retry", timeout: 60) { writer.metrics.batchesOK.load(ordering: .relaxed) == 1 }
        let requests = try await fake.requests()
        client.shutdown()
        await fake.stop()
        XCTAssertEqual(requests.count, 2, "one 503, one 204")
        XCTAssertEqual(requests.map(\.body), [lines, lines])
        XCTAssertEqual(writer.metrics.retries.load(ordering: .relaxed), 1)
        XCTAssertEqual(writer.metrics.linesWritten.load(ordering: .relaxed), 10)
        try await eventually("nothing left in memory", timeout: 30) { writer.metrics.bufferedLines.load(ordering: .relaxed) == 0 }
    }
}
