import Foundation
import TestSupport
import XCTest

/// A real Prometheus (Debian's `prometheus`) scrapes the built ingestd: it sees every series of
/// /metrics, loads deploy/prometheus/ingestd-alerts.yml, and every query of the Grafana dashboard
/// (deploy/grafana/ingestd.json) returns data from it.
final class PrometheusTests: XCTestCase {
    private static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    private var harness: IngestdHarness!
    private var prometheus: PrometheusServer?

    override func setUp() async throws {
        harness = try await IngestdHarness.start()
        var fleet = Fleet()
        fleet.add("d1")
        fleet.add("d2")
        try fleet.write(to: harness.registryPath)
    }

    override func tearDown() async throws {
        if let run = testRun, run.failureCount > 0 {
            print("---- ingestd log ----\n\(harness.log)\n---- prometheus log ----\n\(prometheus?.log() ?? "")")
        }
        await prometheus?.stop()
        await harness.tearDown()
    }

    /// Grafana's own variables, and the dashboard's `$instance`, as Grafana would fill them in.
    static func grafanaExpanded(_ expression: String) -> String {
        expression.replacingOccurrences(of: "$__rate_interval", with: "1m")
            .replacingOccurrences(of: "$__range", with: "5m")
            .replacingOccurrences(of: "$instance", with: ".*")
    }

    /// Every `expr` of the dashboard, however deep, and the query of its template variables
    /// (`label_values(<selector>, label)` is Grafana's; its selector is PromQL).
    static func dashboardExpressions() throws -> [String] {
        let data = try Data(contentsOf: root.appendingPathComponent("deploy/grafana/ingestd.json"))
        var found: [String] = []
        func walk(_ value: Any) {
            if let object = value as? [String: Any] {
                for (key, inner) in object {
                    if key == "expr", let text = inner as? String { found.append(text) }
                    if key == "definition", let text = inner as? String, text.hasPrefix("label_values("),
                       let comma = text.lastIndex(of: ",") {
                        found.append(String(text[text.index(text.startIndex, offsetBy: "label_values(".count)..<comma]))
                    }
                    walk(inner)
                }
            } else if let array = value as? [Any] {
                array.forEach(walk)
            }
        }
        walk(try JSONSerialization.jsonObject(with: data))
        return found
    }

    func testPrometheusScrapesEverySeriesAndEveryDashboardQueryReturnsData() async throws {
        let address = "127.0.0.1:\(FreePort.next())"
        let process = try await harness.startIngestd(["HEALTH_LISTEN": address])
        let alerts = Self.root.appendingPathComponent("deploy/prometheus/ingestd-alerts.yml").path
        let prometheus = try await PrometheusServer.start(targets: [address], ruleFiles: [alerts])
        self.prometheus = prometheus
        try await eventually("prometheus scrapes ingestd", timeout: 60, every: 0.5) {
            try await prometheus.query("up{job=\"ingestd\"} == 1").count == 1
        }

        // Traffic after the first scrapes, so rates and histograms have something to show.
        try await harness.broker.publish(topic: Fleet.topic("d1"), lines: (0..<30).map { Fleet.telemetry("d1", seq: $0) })
        try await harness.broker.publish(topic: Fleet.topic("stranger"), lines: (0..<5).map { Fleet.telemetry("stranger", seq: $0) })
        try await harness.waitUntilReceived(35)
        try await eventually("everything written") { process.latestStats()["influx_buffer"] == "0" && process.latestStats()["influx_batch_ok"] != "0" }

        // Every series name of /metrics is in Prometheus, and Prometheus holds no other ingestd_ name.
        let metricsText = String(decoding: try await testHTTP(method: "GET", url: "http://\(address)/metrics").body, as: UTF8.self)
        let exposed = Set(try await PrometheusText.parse(metricsText).samples.keys.map { sample in String(sample.prefix { $0 != "{" }) })
        XCTAssertTrue(exposed.contains("ingestd_spool_bytes") && exposed.contains("ingestd_build_info"), "\(exposed.sorted())")
        var scraped: Set<String> = []
        try await eventually("prometheus has every series of /metrics", timeout: 60, every: 0.5) {
            scraped = try await prometheus.seriesNames(prefix: "ingestd_")
            return scraped == exposed
        }
        XCTAssertEqual(scraped.sorted(), exposed.sorted())

        // The alert rules load and evaluate.
        let rulesAnswer = try await testHTTP(method: "GET", url: "\(prometheus.baseURL)/api/v1/rules")
        let rules = (try JSONSerialization.jsonObject(with: rulesAnswer.body) as? [String: Any]) ?? [:]
        let groups = ((rules["data"] as? [String: Any])?["groups"] as? [[String: Any]]) ?? []
        let loaded = groups.flatMap { ($0["rules"] as? [[String: Any]]) ?? [] }
        XCTAssertEqual(loaded.count, 8, "\(rules)")
        XCTAssertEqual(loaded.filter { $0["health"] as? String == "err" }.map { "\($0["name"] ?? "")" }, [])

        // Every dashboard query returns at least one series with a number (not NaN) in it.
        let expressions = try Self.dashboardExpressions()
        XCTAssertGreaterThan(expressions.count, 20)
        var empty: [String] = []
        try await eventually("every dashboard query returns data", timeout: 60, every: 1) {
            empty = []
            for expression in expressions {
                let result = try await prometheus.query(Self.grafanaExpanded(expression))
                let numbers = result.compactMap { ($0["value"] as? [Any])?.last as? String }.filter { $0 != "NaN" }
                if numbers.isEmpty { empty.append(expression) }
            }
            return empty.isEmpty
        }
        XCTAssertEqual(empty, [])
        let stopped = try await harness.stopIngestd()
        XCTAssertEqual(stopped, 0)
    }

    /// The check above can fail: a query of a series ingestd does not have returns nothing.
    func testAQueryOfAnUnknownSeriesReturnsNothing() async throws {
        let address = "127.0.0.1:\(FreePort.next())"
        try await harness.startIngestd(["HEALTH_LISTEN": address])
        let prometheus = try await PrometheusServer.start(targets: [address])
        self.prometheus = prometheus
        try await eventually("prometheus scrapes ingestd", timeout: 60, every: 0.5) {
            try await prometheus.query("ingestd_received_total").count == 1
        }
        let none = try await prometheus.query("ingestd_no_such_series")
        XCTAssertEqual(none.count, 0)
        do {
            _ = try await prometheus.query("rate(ingestd_received_total[")
            XCTFail("a syntax error is refused")
        } catch {}
        let stopped = try await harness.stopIngestd()
        XCTAssertEqual(stopped, 0)
    }
}
