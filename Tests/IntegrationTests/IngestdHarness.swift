import Foundation
import TestSupport
import XCTest

/// A real mosquitto, a real InfluxDB 1.x and the built ingestd binary, wired together on free
/// loopback ports in a temporary folder. Each test makes its own and tears it down.
final class IngestdHarness: @unchecked Sendable {
    // @unchecked: the mutable `ingestd` is only touched from the test's own task, one step at a time.
    let directory: TemporaryDirectory
    let broker: MosquittoServer
    let influx: InfluxServer
    var ingestd: IngestdProcess?
    var runs = 0

    static func start() async throws -> IngestdHarness {
        let directory = try TemporaryDirectory(prefix: "ingestd-e2e")
        let broker = try await MosquittoServer.start()
        let influx = try await InfluxServer.start()
        return IngestdHarness(directory: directory, broker: broker, influx: influx)
    }

    private init(directory: TemporaryDirectory, broker: MosquittoServer, influx: InfluxServer) {
        self.directory = directory
        self.broker = broker
        self.influx = influx
    }

    var registryPath: String { directory.file("devices.json") }
    var spoolDirectory: String { directory.file("spool") }

    /// The environment of a test run: v1 API against the test InfluxDB, stats every second.
    func environment(_ overrides: [String: String] = [:]) -> [String: String] {
        var environment = [
            "MQTT_HOST": broker.host,
            "MQTT_PORT": "\(broker.port)",
            "MQTT_CLIENT_ID": "ingestd-test-\(directory.url.lastPathComponent)",
            "INFLUXDB_URL": influx.baseURL,
            "INFLUXDB_API": "v1",
            "REGISTRY_FILE": registryPath,
            "LOG_STATS_EVERY_SECONDS": "1",
            "LOG_LEVEL": "info",
            "INFLUX_FLUSH_INTERVAL_MS": "200",
            "RATE_LIMIT_RPS": "0",
            "SPOOL_DIR": spoolDirectory,
        ]
        environment.merge(overrides) { _, new in new }
        return environment
    }

    /// Starts ingestd and waits until it has subscribed.
    @discardableResult
    func startIngestd(_ overrides: [String: String] = [:]) async throws -> IngestdProcess {
        runs += 1
        let process = try IngestdProcess(environment: environment(overrides), logPath: directory.file("ingestd-\(runs).log"))
        ingestd = process
        try await eventually("ingestd subscribed", timeout: 60) {
            if !process.process.isRunning { throw HarnessError("ingestd exited early:\n\(process.process.log())") }
            return process.process.log().contains("msg=\"mqtt subscribed\"")
        }
        return process
    }

    /// Waits until the stats line says `received` reached `count`.
    func waitUntilReceived(_ count: Int, timeout: Double = 120) async throws {
        guard let ingestd else { throw HarnessError("ingestd is not running") }
        do {
            try await eventually("ingestd received \(count) messages", timeout: timeout) {
                Int(ingestd.latestStats()["received"] ?? "0") ?? 0 >= count
            }
        } catch {
            throw HarnessError("\(error); last stats: \(ingestd.logLines(message: "stats").last ?? "none")")
        }
    }

    /// Waits until the newest stats line satisfies `condition`.
    func waitForStats(_ what: String, timeout: Double = 120, _ condition: @escaping ([String: String]) -> Bool) async throws {
        guard let ingestd else { throw HarnessError("ingestd is not running") }
        do {
            try await eventually(what, timeout: timeout) { condition(ingestd.latestStats()) }
        } catch {
            throw HarnessError("\(error); last stats: \(ingestd.logLines(message: "stats").last ?? "none")")
        }
    }

    /// Publishes `count` telemetry messages per device, seq numbers from `from`.
    func publish(devices: [String], count: Int, from: Int = 0, qos: Int = 1) async throws {
        for device in devices {
            try await broker.publish(topic: Fleet.topic(device), lines: (from..<from + count).map { Fleet.telemetry(device, seq: $0) },
                                     qos: qos)
        }
    }

    /// SIGTERM, and the exit code once ingestd has drained.
    func stopIngestd() async throws -> Int32 {
        guard let ingestd else { throw HarnessError("ingestd is not running") }
        ingestd.process.signal(SIGTERM)
        return try await ingestd.process.waitForExit(timeout: 90)
    }

    func count(_ measurement: String = "telemetry", database: String = "telemetry_acme") async throws -> Int {
        try await influx.count(measurement: measurement, field: "seq", database: database)
    }

    func tearDown() async {
        if let ingestd { await ingestd.process.stop(grace: 30) }
        await broker.remove()
        await influx.stop()
        influx.remove()
        directory.remove()
    }

    /// What ingestd logged, for failure messages.
    var log: String { ingestd?.process.log() ?? "" }
}

struct HarnessError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
