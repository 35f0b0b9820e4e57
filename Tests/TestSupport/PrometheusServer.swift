import Foundation

/// A real Prometheus (Debian's `prometheus`) in a temporary folder, on a free loopback port, scraping
/// the given targets every second under `job="ingestd"` and loading the given rule files.
///
/// ```swift
/// let prometheus = try await PrometheusServer.start(targets: ["127.0.0.1:9464"], ruleFiles: [alerts])
/// let series = try await prometheus.query("up")   // the `data.result` array of /api/v1/query
/// await prometheus.stop()
/// ```
public final class PrometheusServer: Sendable {
    public let directory: TemporaryDirectory
    public let port: UInt16
    public var baseURL: String { "http://127.0.0.1:\(port)" }
    private let process: ChildProcess

    private init(directory: TemporaryDirectory, port: UInt16, process: ChildProcess) {
        self.directory = directory
        self.port = port
        self.process = process
    }

    /// Starts Prometheus and waits until it answers `/-/ready`; retries with another port if one was
    /// taken meanwhile.
    public static func start(targets: [String], ruleFiles: [String] = []) async throws -> PrometheusServer {
        guard let executable = ExecutableLocator.find("prometheus") else {
            throw TestServerError("prometheus not found (Debian package prometheus; scripts/install-deps.sh installs it)")
        }
        var lastError: Error = TestServerError("prometheus did not start")
        for _ in 1...3 {
            let directory = try TemporaryDirectory(prefix: "prometheus")
            let port = FreePort.next()
            let quotedTargets = targets.map { "\"\($0)\"" }.joined(separator: ", ")
            let rules = ruleFiles.map { "  - \"\($0)\"" }.joined(separator: "\n")
            let configuration = """
                global:
                  scrape_interval: 1s
                  evaluation_interval: 1s
                rule_files:
                \(rules.isEmpty ? "  []" : rules)
                scrape_configs:
                  - job_name: ingestd
                    static_configs:
                      - targets: [\(quotedTargets)]
                """
            try configuration.write(toFile: directory.file("prometheus.yml"), atomically: true, encoding: .utf8)
            let child = try ChildProcess(
                name: "prometheus", executable: executable,
                arguments: ["--config.file=\(directory.file("prometheus.yml"))", "--storage.tsdb.path=\(directory.file("data"))",
                            "--web.listen-address=127.0.0.1:\(port)", "--log.level=warn"],
                logPath: directory.file("prometheus.log"))
            let server = PrometheusServer(directory: directory, port: port, process: child)
            do {
                try await eventually("prometheus ready on \(port)", timeout: 60, every: 0.2) {
                    if !child.isRunning { throw TestServerError("prometheus exited:\n\(child.log())") }
                    guard FreePort.isListening(port) else { return false }
                    return (try? await testHTTP(method: "GET", url: "\(server.baseURL)/-/ready", timeout: 5).status) == 200
                }
                return server
            } catch {
                lastError = error
                await server.stop()
            }
        }
        throw lastError
    }

    /// An instant query; returns `data.result` (one object per series, `metric` and `value`).
    /// Throws when Prometheus refuses the query (a syntax error in a dashboard's expression).
    public func query(_ expression: String) async throws -> [[String: Any]] {
        var components = URLComponents(string: "\(baseURL)/api/v1/query")!
        components.queryItems = [URLQueryItem(name: "query", value: expression)]
        // `+` is a space in a query string: encode it, or `a + b` reaches Prometheus as `a   b`.
        components.percentEncodedQuery = components.percentEncodedQuery?.replacingOccurrences(of: "+", with: "%2B")
        let answer = try await testHTTP(method: "GET", url: components.url!.absoluteString, timeout: 30)
        guard let object = try JSONSerialization.jsonObject(with: answer.body) as? [String: Any],
              object["status"] as? String == "success",
              let data = object["data"] as? [String: Any], let result = data["result"] as? [[String: Any]] else {
            throw TestServerError("prometheus refused \(expression): HTTP \(answer.status) \(String(decoding: answer.body, as: UTF8.self))")
        }
        return result
    }

    /// The names of every series Prometheus holds whose name starts with `prefix`.
    public func seriesNames(prefix: String) async throws -> Set<String> {
        let result = try await query("{__name__=~\"\(prefix).*\"}")
        return Set(result.compactMap { ($0["metric"] as? [String: String])?["__name__"] })
    }

    /// The log so far (for a failing test's message).
    public func log() -> String { process.log() }

    public func stop() async {
        await process.stop()
        directory.remove()
    }
}
