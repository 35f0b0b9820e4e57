import Foundation
import Synchronization

/// A real InfluxDB 1.x (Debian's `influxd`) in a temporary folder, on free loopback ports.
///
/// The configuration comes from `influxd config` with every path and bind address rewritten:
/// meta, data and WAL folders and the unix socket in the temporary folder, HTTP and RPC bound to
/// 127.0.0.1 on free ports, usage reporting and the `_internal` monitor store off, UDP, Graphite,
/// collectd, OpenTSDB and IFQL off.
///
/// ```swift
/// let influx = try await InfluxServer.start()
/// … InfluxClientConfiguration(baseURL: influx.baseURL, api: .v1) …
/// try await influx.createDatabase("telemetry_t1")
/// let n = try await influx.count(measurement: "telemetry", database: "telemetry_t1")
/// await influx.stop()          // keeps the data folder; `try await influx.restart()` starts it again
/// influx.remove()              // stop first; deletes the folder
/// ```
public final class InfluxServer: Sendable {
    public let directory: TemporaryDirectory
    public let httpPort: UInt16
    public let rpcPort: UInt16
    public var baseURL: String { "http://127.0.0.1:\(httpPort)" }
    public var configPath: String { directory.file("influxdb.conf") }
    private let executable: String
    private let process: Mutex<ChildProcess?>
    private let starts = Atomic<Int>(0)

    private init(directory: TemporaryDirectory, httpPort: UInt16, rpcPort: UInt16, executable: String) {
        self.directory = directory
        self.httpPort = httpPort
        self.rpcPort = rpcPort
        self.executable = executable
        self.process = Mutex(nil)
    }

    /// Starts a fresh server; retries with other ports if one was taken meanwhile.
    public static func start() async throws -> InfluxServer {
        guard let executable = ExecutableLocator.find("influxd") else { throw TestServerError("influxd not found") }
        var lastError: Error = TestServerError("influxd did not start")
        for _ in 1...3 {
            let directory = try TemporaryDirectory(prefix: "influxd")
            let server = InfluxServer(directory: directory, httpPort: FreePort.next(), rpcPort: FreePort.next(), executable: executable)
            do {
                try server.writeConfiguration()
                try await server.launch()
                return server
            } catch {
                lastError = error
                await server.stop()
                server.remove()
            }
        }
        throw lastError
    }

    private func writeConfiguration() throws {
        let generated = try Self.run(executable, ["config"])
        try rewrite(generated).write(toFile: configPath, atomically: true, encoding: .utf8)
    }

    /// Rewrites the generated configuration line by line, tracking the current section.
    func rewrite(_ configuration: String) -> String {
        let folder = directory.path
        var section = ""
        var output: [String] = []
        var sawReporting = false
        for line in configuration.split(separator: "\n", omittingEmptySubsequences: false).map(String.init) {
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            if trimmed.hasPrefix("[") {
                section = trimmed.trimmingCharacters(in: CharacterSet(charactersIn: "[]"))
                output.append(line)
                continue
            }
            let key = trimmed.split(separator: "=", maxSplits: 1).first.map { $0.trimmingCharacters(in: .whitespaces) } ?? ""
            switch (section, key) {
            case ("", "bind-address"): output.append("bind-address = \"127.0.0.1:\(rpcPort)\"")
            case ("", "reporting-disabled"), ("", "reporting-enabled"):
                sawReporting = true
                output.append("reporting-disabled = true")
            case ("meta", "dir"): output.append("  dir = \"\(folder)/meta\"")
            case ("data", "dir"): output.append("  dir = \"\(folder)/data\"")
            case ("data", "wal-dir"): output.append("  wal-dir = \"\(folder)/wal\"")
            case ("data", "query-log-enabled"): output.append("  query-log-enabled = false")
            case ("http", "bind-address"): output.append("  bind-address = \"127.0.0.1:\(httpPort)\"")
            case ("http", "bind-socket"): output.append("  bind-socket = \"\(folder)/influxdb.sock\"")
            case ("http", "unix-socket-enabled"): output.append("  unix-socket-enabled = false")
            case ("monitor", "store-enabled"): output.append("  store-enabled = false")
            case ("udp", "enabled"), ("graphite", "enabled"), ("collectd", "enabled"),
                 ("opentsdb", "enabled"), ("ifql", "enabled"):
                output.append("  enabled = false")
            case ("udp", "bind-address"), ("graphite", "bind-address"), ("collectd", "bind-address"),
                 ("opentsdb", "bind-address"), ("ifql", "bind-address"):
                output.append("  bind-address = \"127.0.0.1:0\"")
            default: output.append(line)
            }
        }
        if !sawReporting { output.insert("reporting-disabled = true", at: 0) }
        return output.joined(separator: "\n")
    }

    private func launch() async throws {
        let attempt = starts.add(1, ordering: .relaxed).newValue
        // influxd maps INFLUXDB_* environment variables onto its configuration; keep ours out.
        let environment = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("INFLUXDB_") }
        let child = try ChildProcess(
            name: "influxd", executable: executable, arguments: ["run", "-config", configPath],
            environment: environment, logPath: directory.file("influxd-\(attempt).log"))
        process.withLock { $0 = child }
        try await eventually("influxd answers /ping with 204 on \(httpPort)", timeout: 60, every: 0.1) {
            if !child.isRunning { throw TestServerError("influxd exited:\n\(child.log())") }
            guard FreePort.isListening(httpPort) else { return false }
            return (try? await testHTTP(method: "GET", url: "\(baseURL)/ping", timeout: 5).status) == 204
        }
    }

    /// `CREATE DATABASE "name"`.
    public func createDatabase(_ name: String) async throws {
        let escaped = name.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
        _ = try await query("CREATE DATABASE \"\(escaped)\"", method: "POST")
    }

    /// Runs an InfluxQL query and returns the parsed JSON answer; throws on a non-200 status.
    public func query(_ q: String, database: String? = nil, method: String = "GET") async throws -> [String: Any] {
        var items = [URLQueryItem(name: "q", value: q)]
        if let database { items.append(URLQueryItem(name: "db", value: database)) }
        var components = URLComponents(string: "\(baseURL)/query")!
        components.queryItems = items
        // '+' in a query component means space to InfluxDB's form parser.
        components.percentEncodedQuery = components.percentEncodedQuery?.replacingOccurrences(of: "+", with: "%2B")
        let answer = try await testHTTP(method: method, url: components.url!.absoluteString)
        guard answer.status == 200 else {
            throw TestServerError("query \(q) answered \(answer.status): \(String(decoding: answer.body, as: UTF8.self))")
        }
        guard let json = try JSONSerialization.jsonObject(with: answer.body) as? [String: Any] else {
            throw TestServerError("query \(q): answer is not a JSON object")
        }
        return json
    }

    /// `SELECT count(field) FROM measurement`: the number of points (0 when there are none or the
    /// database does not exist).
    public func count(measurement: String, field: String, database: String) async throws -> Int {
        let json = try await query("SELECT count(\"\(field)\") FROM \"\(measurement)\"", database: database)
        guard let results = json["results"] as? [[String: Any]], let first = results.first else { return 0 }
        if let error = first["error"] as? String {
            if error.contains("database not found") { return 0 }
            throw TestServerError("count: \(error)")
        }
        guard let series = first["series"] as? [[String: Any]], let values = series.first?["values"] as? [[Any]],
              let row = values.first, row.count > 1 else { return 0 }
        return (row[1] as? NSNumber)?.intValue ?? 0
    }

    public func log() -> String { process.withLock { $0?.log() } ?? "" }

    /// Stops the server (SIGTERM); the data folder stays for `restart()`.
    public func stop() async {
        guard let child = process.withLock({ $0 }) else { return }
        await child.stop(grace: 15)
    }

    /// Starts the server again on the same ports with the same data.
    public func restart() async throws {
        await stop()
        try await launch()
    }

    /// Deletes the temporary folder. Call after `stop()`.
    public func remove() { directory.remove() }

    private static func run(_ executable: String, _ arguments: [String]) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { throw TestServerError("\(executable) \(arguments) failed") }
        return String(decoding: data, as: UTF8.self)
    }
}
