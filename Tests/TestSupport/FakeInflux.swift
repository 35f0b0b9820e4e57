import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// A fake InfluxDB (`scripts/fake_influx.py`, Python standard library only) on a free loopback
/// port: records every request and answers 204 unless scripted otherwise. Use it only for what a
/// real InfluxDB cannot be made to do on demand (v2/v3 endpoints, 429/503, delays, partial writes).
///
/// ```swift
/// let fake = try await FakeInflux.start()
/// defer { Task { await fake.stop() } }   // or `await fake.stop()` at the end of the test
/// try await fake.script([.init(status: 503, retryAfter: "1")])   // next request gets 503, then 204
/// … point the client at fake.baseURL …
/// let requests = try await fake.requests()
/// ```
public final class FakeInflux: Sendable {
    /// One answer the fake gives.
    public struct Response: Sendable, Encodable {
        public var status: Int
        public var body: String
        public var retryAfter: String?
        /// Seconds to wait before answering (to provoke client timeouts).
        public var delay: Double
        public var headers: [String: String]

        public init(status: Int = 204, body: String = "", retryAfter: String? = nil, delay: Double = 0, headers: [String: String] = [:]) {
            self.status = status
            self.body = body
            self.retryAfter = retryAfter
            self.delay = delay
            self.headers = headers
        }

        enum CodingKeys: String, CodingKey {
            case status, body, delay, headers
            case retryAfter = "retry_after"
        }
    }

    /// One request as the fake saw it.
    public struct RecordedRequest: Sendable, Decodable {
        public let method: String
        /// Path with query string, e.g. `/api/v3/write_lp?db=x&precision=nanosecond`.
        public let path: String
        /// Header names lower-cased.
        public let headers: [String: String]
        public let bodyBase64: String
        /// The body after gunzip, when it was sent with `Content-Encoding: gzip` and decoded.
        public let decodedBase64: String?

        public var body: [UInt8] { [UInt8](Data(base64Encoded: bodyBase64) ?? Data()) }
        public var decodedBody: [UInt8]? { decodedBase64.flatMap { Data(base64Encoded: $0) }.map { [UInt8]($0) } }
        public var bodyText: String { String(decoding: body, as: UTF8.self) }

        enum CodingKeys: String, CodingKey {
            case method, path, headers
            case bodyBase64 = "body_base64"
            case decodedBase64 = "decoded_base64"
        }
    }

    public let port: UInt16
    public var baseURL: String { "http://127.0.0.1:\(port)" }
    public let directory: TemporaryDirectory
    private let process: ChildProcess

    private init(port: UInt16, directory: TemporaryDirectory, process: ChildProcess) {
        self.port = port
        self.directory = directory
        self.process = process
    }

    /// The script next to the package: `scripts/fake_influx.py`.
    public static var scriptPath: String { ListeningScript.path("fake_influx.py") }

    /// Starts the fake; `default` is its answer when nothing is scripted.
    public static func start(default response: Response = Response()) async throws -> FakeInflux {
        let directory = try TemporaryDirectory(prefix: "fake-influx")
        do {
            let (port, process) = try await ListeningScript.start(name: "fake_influx", script: scriptPath, directory: directory) { port in
                var arguments = ["--port", "\(port)", "--record", directory.file("requests.jsonl"),
                                 "--status", "\(response.status)", "--body", response.body, "--delay", "\(response.delay)"]
                if let retryAfter = response.retryAfter { arguments += ["--retry-after", retryAfter] }
                return arguments
            }
            return FakeInflux(port: port, directory: directory, process: process)
        } catch {
            directory.remove()
            throw error
        }
    }

    /// The requests recorded so far (control endpoints excluded), oldest first.
    public func requests() async throws -> [RecordedRequest] {
        let data = try await testHTTP(method: "GET", url: "\(baseURL)/_requests").body
        return try JSONDecoder().decode([RecordedRequest].self, from: data)
    }

    /// The next requests get `responses` in order; after them, `default` (if given) or the
    /// previous default answers.
    public func script(_ responses: [Response], default response: Response? = nil) async throws {
        struct Script: Encodable {
            let responses: [Response]
            let `default`: Response?
        }
        let body = try JSONEncoder().encode(Script(responses: responses, default: response))
        _ = try await testHTTP(method: "POST", url: "\(baseURL)/_script", body: body)
    }

    /// Forgets recorded requests and the script.
    /// From now on, every write whose body contains `text` is refused like InfluxDB 1.x refuses a
    /// batch with a bad line: `status` (400) and a message that does not say which line.
    public func refuse(writesContaining text: String, status: Int = 400,
                       body: String = #"{"error":"partial write: field type conflict"}"#) async throws {
        let spec = try JSONSerialization.data(withJSONObject: ["containing": text, "status": status, "body": body])
        _ = try await testHTTP(method: "POST", url: "\(baseURL)/_refuse", body: spec)
    }

    public func reset() async throws {
        _ = try await testHTTP(method: "POST", url: "\(baseURL)/_reset")
    }

    public func log() -> String { process.log() }

    public func stop() async {
        await process.stop(grace: 5)
        directory.remove()
    }
}

public struct TestServerError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// A plain HTTP request for test helpers (URLSession; the code under test uses libcurl).
public func testHTTP(
    method: String, url: String, body: Data? = nil, contentType: String? = nil, timeout: Double = 30
) async throws -> (status: Int, body: Data) {
    guard let target = URL(string: url) else { throw TestServerError("bad URL \(url)") }
    var request = URLRequest(url: target, timeoutInterval: timeout)
    request.httpMethod = method
    request.httpBody = body
    if let contentType { request.setValue(contentType, forHTTPHeaderField: "Content-Type") }
    let (data, response) = try await URLSession.shared.data(for: request)
    return ((response as? HTTPURLResponse)?.statusCode ?? 0, data)
}
