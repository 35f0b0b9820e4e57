import Foundation
import TestSupport
import XCTest

/// Zigbee2MQTT, TTN v3 and Shelly streams through the shipped rule files (`config/mappings/`) into a
/// real InfluxDB: the points carry the fields, tags, types and times the rules say.
final class MappingEndToEndTests: XCTestCase {
    private var harness: IngestdHarness!

    override func setUp() async throws {
        harness = try await IngestdHarness.start()
    }

    override func tearDown() async throws {
        if let run = testRun, run.failureCount > 0 { print("---- ingestd log ----\n\(harness.log)") }
        await harness.tearDown()
    }

    func testZigbee2MQTTTTNAndShellyStreamsArriveWithTheirRulesTypes() async throws {
        let mappingPath = harness.directory.file("mapping.yaml")
        try MappingExamples.combined(["zigbee2mqtt.yaml", "ttn.yaml", "shelly.yaml"])
            .write(toFile: mappingPath, atomically: true, encoding: .utf8)
        try await harness.startIngestd(["REGISTRY": "none", "MAPPING_FILE": mappingPath])
        let log = harness.ingestd!.process.log()
        XCTAssertTrue(log.contains("zigbee2mqtt/+"), log)
        XCTAssertTrue(log.contains("v3/+/devices/+/up"), log)

        var published = 0
        // Zigbee2MQTT: two sensors, the temperature sometimes an integer, sometimes a string.
        for device in ["kitchen", "hall"] {
            let lines = (0..<20).map { seq in
                let temperature = seq % 3 == 0 ? "21" : seq % 3 == 1 ? #""21.5""# : "22.25"
                return #"{"temperature":\#(temperature),"humidity":58.3,"battery":100,"voltage":3015,"linkquality":\#(seq),"state":"\#(seq % 2 == 0 ? "ON" : "OFF")"}"#
            }
            try await harness.broker.publish(topic: "zigbee2mqtt/\(device)", lines: lines)
            published += lines.count
        }
        // Nothing the rule knows: refused as NO_FIELDS, counted.
        try await harness.broker.publish(topic: "zigbee2mqtt/kitchen", payload: #"{"update":{"state":"idle"}}"#)
        published += 1

        // TTN v3: ten uplinks, one second apart.
        let ttn = (0..<10).map { seq in
            """
            {"end_device_ids":{"device_id":"eui-0004a30b001c0530","application_ids":{"application_id":"my-app"},"dev_eui":"0004A30B001C0530"},"received_at":"2020-12-21T17:45:0\(seq).522233524Z","uplink_message":{"f_port":1,"f_cnt":\(seq),"frm_payload":"AQI=","decoded_payload":{"temperature":21.5,"humidity":\(40 + seq)},"rx_metadata":[{"gateway_ids":{"gateway_id":"my-gateway"},"rssi":-57,"snr":9.25}]}}
            """
        }
        try await harness.broker.publish(topic: "v3/my-app@ttn/devices/eui-0004a30b001c0530/up", lines: ttn)
        published += ttn.count

        // Shelly Gen1 per-topic values and Gen2 NotifyStatus.
        for (index, value) in ["21.5", "22", "22.5"].enumerated() {
            try await harness.broker.publish(topic: "shellies/shellyht-AABBCC/sensor/temperature", payload: value)
            try await harness.broker.publish(topic: "shellies/shelly1pm-DDEEFF/relay/0", payload: index % 2 == 0 ? "on" : "off")
            published += 2
        }
        let notifications = (0..<5).map { seq in
            #"{"src":"shellyplus1pm-a8032ab12345","dst":"shellyplus1pm-a8032ab12345/events","method":"NotifyStatus","params":{"ts":163118654\#(seq).04,"switch:0":{"id":0,"apower":12.3,"voltage":230.1,"aenergy":{"total":12.345}}}}"#
        }
        try await harness.broker.publish(topic: "shellyplus1pm-a8032ab12345/events/rpc", lines: notifications)
        published += notifications.count

        try await harness.waitUntilReceived(published)
        let code = try await harness.stopIngestd()
        XCTAssertEqual(code, 0)
        let stats = harness.ingestd!.logLines(message: "stats").last.map(IngestdProcess.logfmtFields) ?? [:]
        XCTAssertEqual(stats["rejected_NO_FIELDS"], "1", "\(stats)")
        XCTAssertEqual(stats["enqueued"], "\(published - 1)", "\(stats)")

        let influx = harness.influx
        let zigbeeCount = try await influx.count(measurement: "zigbee", field: "temperature", database: "telemetry_home")
        XCTAssertEqual(zigbeeCount, 40)
        let zigbeeTypes = try await fieldTypes(measurement: "zigbee", database: "telemetry_home")
        XCTAssertEqual(zigbeeTypes["temperature"], "float")
        XCTAssertEqual(zigbeeTypes["humidity"], "float")
        XCTAssertEqual(zigbeeTypes["voltage"], "integer")
        XCTAssertEqual(zigbeeTypes["linkquality"], "integer")
        XCTAssertEqual(zigbeeTypes["state"], "boolean")
        let kitchen = try await values("SELECT sum(\"temperature\") FROM \"zigbee\" WHERE \"device\" = 'kitchen'", database: "telemetry_home")
        // 7 × 21 + 7 × 21.5 + 6 × 22.25 over seq 0…19.
        XCTAssertEqual((kitchen.first?[1] as? NSNumber)?.doubleValue, 7 * 21 + 7 * 21.5 + 6 * 22.25)

        let ttnTypes = try await fieldTypes(measurement: "lorawan", database: "telemetry_lorawan")
        XCTAssertEqual(ttnTypes["rssi"], "integer")
        XCTAssertEqual(ttnTypes["f_cnt"], "integer")
        XCTAssertEqual(ttnTypes["snr"], "float")
        XCTAssertEqual(ttnTypes["temperature"], "float")
        XCTAssertEqual(ttnTypes["humidity"], "float")
        let uplinks = try await values(
            "SELECT \"humidity\", \"dev_eui\", \"gateway\", \"application\" FROM \"lorawan\"", database: "telemetry_lorawan")
        XCTAssertEqual(uplinks.count, 10)
        XCTAssertEqual(uplinks.first?[0] as? String, "2020-12-21T17:45:00.522233524Z")
        XCTAssertEqual((uplinks.last?[1] as? NSNumber)?.doubleValue, 49)
        XCTAssertEqual(uplinks.first?[2] as? String, "0004A30B001C0530")
        XCTAssertEqual(uplinks.first?[3] as? String, "my-gateway")
        XCTAssertEqual(uplinks.first?[4] as? String, "my-app@ttn")

        let shellyTypes = try await fieldTypes(measurement: "shelly", database: "telemetry_home")
        XCTAssertEqual(shellyTypes["temperature"], "float")
        XCTAssertEqual(shellyTypes["on"], "boolean")
        XCTAssertEqual(shellyTypes["switch:0_apower"], "float")
        XCTAssertEqual(shellyTypes["switch:0_id"], "float")
        let gen1 = try await influx.count(measurement: "shelly", field: "temperature", database: "telemetry_home")
        XCTAssertEqual(gen1, 3)
        let gen2 = try await values("SELECT \"switch:0_aenergy_total\" FROM \"shelly\" WHERE \"device\" = 'shellyplus1pm-a8032ab12345'",
                                    database: "telemetry_home")
        XCTAssertEqual(gen2.count, 5)
        XCTAssertEqual(gen2.first?[0] as? String, "2021-09-09T11:22:20.04Z")
    }

    func testAMessageNoRuleTakesIsNoMappingAndABadReloadKeepsTheRules() async throws {
        let mappingPath = harness.directory.file("mapping.yaml")
        let good = try String(contentsOfFile: MappingExamples.path("zigbee2mqtt.yaml"), encoding: .utf8)
        try good.write(toFile: mappingPath, atomically: true, encoding: .utf8)
        try await harness.startIngestd(["REGISTRY": "none", "MAPPING_FILE": mappingPath,
                                        "MQTT_TOPIC": "zigbee2mqtt/#,tenant/+/device/+/+"])
        try await harness.broker.publish(topic: "zigbee2mqtt/bridge/state", payload: #"{"state":"online"}"#)
        try await harness.broker.publish(topic: "tenant/acme/device/d1/telemetry", payload: #"{"site_id":"s","metrics":{"v":1}}"#)
        try await harness.broker.publish(topic: "zigbee2mqtt/a", payload: #"{"temperature":1}"#)
        try await harness.waitForStats("two NO_MAPPING") { $0["rejected_NO_MAPPING"] == "2" && $0["enqueued"] == "1" }

        // A broken file on SIGHUP: logged, the rules in force stay.
        try "rules:\n  - name: broken\n    topic: zigbee2mqtt/{device}\n    measurement: m\n    fields: {t: double}\n"
            .write(toFile: mappingPath, atomically: true, encoding: .utf8)
        harness.ingestd!.process.signal(SIGHUP)
        let process = harness.ingestd!
        try await eventually("reload failure logged", timeout: 30) {
            process.process.log().contains("mapping file reload failed, keeping the previous rules")
        }
        XCTAssertTrue(process.process.log().contains("field=fields.t.type"), process.process.log())
        try await harness.broker.publish(topic: "zigbee2mqtt/a", payload: #"{"temperature":2}"#)
        try await harness.waitForStats("still mapped") { $0["enqueued"] == "2" }

        // A good file on SIGHUP: the new rules apply.
        try good.replacingOccurrences(of: "measurement: zigbee", with: "measurement: zigbee_v2")
            .write(toFile: mappingPath, atomically: true, encoding: .utf8)
        harness.ingestd!.process.signal(SIGHUP)
        try await eventually("reloaded", timeout: 30) { process.process.log().contains("mapping rules reloaded") }
        try await harness.broker.publish(topic: "zigbee2mqtt/a", payload: #"{"temperature":3}"#)
        try await harness.waitForStats("mapped with the new rules") { $0["enqueued"] == "3" }
        let code = try await harness.stopIngestd()
        XCTAssertEqual(code, 0)
        let old = try await harness.influx.count(measurement: "zigbee", field: "temperature", database: "telemetry_home")
        let new = try await harness.influx.count(measurement: "zigbee_v2", field: "temperature", database: "telemetry_home")
        XCTAssertEqual(old, 2)
        XCTAssertEqual(new, 1)
    }

    /// `SHOW FIELD KEYS`: field name → InfluxDB type.
    private func fieldTypes(measurement: String, database: String) async throws -> [String: String] {
        var types: [String: String] = [:]
        for row in try await values("SHOW FIELD KEYS FROM \"\(measurement)\"", database: database) {
            if let name = row[0] as? String, let type = row[1] as? String { types[name] = type }
        }
        return types
    }

    private func values(_ query: String, database: String) async throws -> [[Any]] {
        let json = try await harness.influx.query(query, database: database)
        guard let results = json["results"] as? [[String: Any]], let series = results.first?["series"] as? [[String: Any]],
              let values = series.first?["values"] as? [[Any]] else { return [] }
        return values
    }
}
