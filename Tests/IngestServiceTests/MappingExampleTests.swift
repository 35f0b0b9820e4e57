import Foundation
import IngestCore
import IngestService
import XCTest

/// The rule files of `config/mappings/`, read as the daemon reads them (YAML), against payloads
/// shaped like each project's documented examples.
final class MappingExampleTests: XCTestCase {
    private static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("config/mappings")

    private let loader = MappingFileLoader(compiler: MappingCompiler())

    private func rules(_ name: String) throws -> MappingRuleSet {
        try loader.load(path: Self.directory.appendingPathComponent(name).path)
    }

    /// (rule, database, lines) or the reject reason.
    private func map(_ rules: MappingRuleSet, _ topic: String, _ payload: String) -> String {
        var limiter = RateLimiter(ratePerSecond: 0, burst: 1, maxDevices: 1)
        var scratch = MappingScratch()
        do throws(RejectReason) {
            switch try rules.map(topic: topic, payload: Array(payload.utf8), receivedAtNanos: 99, rateLimiter: &limiter, scratch: &scratch) {
            case .envelope: return "envelope"
            case let .mapped(index, database, _, skipped, _):
                return "\(rules.rules[index].name) \(database) skipped=\(skipped)\n" + String(decoding: scratch.output, as: UTF8.self)
            }
        } catch {
            return error.rawValue
        }
    }

    func testZigbee2MQTT() throws {
        let rules = try rules("zigbee2mqtt.yaml")
        XCTAssertEqual(map(rules, "zigbee2mqtt/0x00158d0001d8e1d2", #"{"battery":100,"humidity":58.3,"linkquality":87,"pressure":1012.4,"temperature":21.6,"voltage":3015}"#),
                       "zigbee2mqtt telemetry_home skipped=0\nzigbee,device=0x00158d0001d8e1d2 battery=100.0,humidity=58.3,linkquality=87i,pressure=1012.4,temperature=21.6,voltage=3015i 99\n")
        XCTAssertEqual(map(rules, "zigbee2mqtt/living_room_light", #"{"state":"ON","brightness":254,"color_temp":370,"power":"12.5","update":{"state":"idle"}}"#),
                       "zigbee2mqtt telemetry_home skipped=0\nzigbee,device=living_room_light brightness=254i,power=12.5,state=true 99\n")
        XCTAssertEqual(map(rules, "zigbee2mqtt/button", #"{"action":"single","battery":"low"}"#),
                       "zigbee2mqtt telemetry_home skipped=1\nzigbee,device=button action=\"single\" 99\n")
        XCTAssertEqual(map(rules, "zigbee2mqtt/bridge/state", #"{"state":"online"}"#), "NO_MAPPING")
    }

    func testTasmota() throws {
        let rules = try rules("tasmota.yaml")
        XCTAssertEqual(map(rules, "tele/tasmota_4F2A1C/SENSOR", #"{"Time":"2019-11-03T19:34:28","ENERGY":{"TotalStartTime":"2019-11-03T19:34:28","Total":0.003,"Yesterday":0.000,"Today":0.003,"Period":0,"Power":8,"ApparentPower":11,"ReactivePower":7,"Factor":0.73,"Voltage":235,"Current":0.046},"AM2301":{"Temperature":22.6,"Humidity":54.1},"TempUnit":"C"}"#),
                       "tasmota-sensor telemetry_home skipped=0\ntasmota,device=tasmota_4F2A1C ENERGY_Total=0.003,ENERGY_Yesterday=0.0,ENERGY_Today=0.003,ENERGY_Period=0.0,ENERGY_Power=8.0,ENERGY_ApparentPower=11.0,ENERGY_ReactivePower=7.0,ENERGY_Factor=0.73,ENERGY_Voltage=235.0,ENERGY_Current=0.046,AM2301_Temperature=22.6,AM2301_Humidity=54.1 1572809668000000000\n")
        XCTAssertEqual(map(rules, "tele/tasmota_4F2A1C/STATE", #"{"Time":"2019-11-03T19:34:28","Uptime":"0T00:00:15","UptimeSec":15,"Heap":29,"SleepMode":"Dynamic","Sleep":50,"LoadAvg":19,"MqttCount":1,"POWER":"ON","Wifi":{"AP":1,"SSId":"home","BSSId":"30:B5:C2:5D:7E:1F","Channel":1,"RSSI":100,"Signal":-50,"LinkCount":1,"Downtime":"0T00:00:03"}}"#),
                       "tasmota-state telemetry_home skipped=0\ntasmota_state,device=tasmota_4F2A1C heap_kb=29i,load_avg=19i,power=true,uptime_s=15i,wifi_rssi=100i,wifi_signal_dbm=-50i 1572809668000000000\n")
        XCTAssertEqual(map(rules, "stat/tasmota_4F2A1C/POWER", "OFF"),
                       "tasmota-power telemetry_home skipped=0\ntasmota_state,device=tasmota_4F2A1C power=false 99\n")
    }

    func testShelly() throws {
        let rules = try rules("shelly.yaml")
        XCTAssertEqual(map(rules, "shellies/shellyht-AABBCC/sensor/temperature", "21.50"),
                       "shelly-gen1-sensor telemetry_home skipped=0\nshelly,device=shellyht-AABBCC temperature=21.5 99\n")
        XCTAssertEqual(map(rules, "shellies/shelly1pm-DDEEFF/relay/0/power", "12.3"),
                       "shelly-gen1-relay-power telemetry_home skipped=0\nshelly,channel=0,device=shelly1pm-DDEEFF power=12.3 99\n")
        XCTAssertEqual(map(rules, "shellies/shelly1pm-DDEEFF/relay/0/energy", "1377"),
                       "shelly-gen1-relay-energy telemetry_home skipped=0\nshelly,channel=0,device=shelly1pm-DDEEFF energy_wmin=1377i 99\n")
        XCTAssertEqual(map(rules, "shellies/shelly1pm-DDEEFF/relay/0", "on"),
                       "shelly-gen1-relay telemetry_home skipped=0\nshelly,channel=0,device=shelly1pm-DDEEFF on=true 99\n")
        XCTAssertEqual(map(rules, "shellyplus1pm-a8032ab12345/events/rpc", #"{"src":"shellyplus1pm-a8032ab12345","dst":"shellyplus1pm-a8032ab12345/events","method":"NotifyStatus","params":{"ts":1631186545.04,"switch:0":{"id":0,"apower":12.3,"voltage":230.1,"current":0.05,"aenergy":{"total":12.345,"by_minute":[0,0,0],"minute_ts":1631186545},"temperature":{"tC":41.2,"tF":106.2},"output":true}}}"#),
                       "shelly-gen2 telemetry_home skipped=0\nshelly,device=shellyplus1pm-a8032ab12345,method=NotifyStatus switch:0_id=0.0,switch:0_apower=12.3,switch:0_voltage=230.1,switch:0_current=0.05,switch:0_aenergy_total=12.345,switch:0_aenergy_by_minute_0=0.0,switch:0_aenergy_by_minute_1=0.0,switch:0_aenergy_by_minute_2=0.0,switch:0_aenergy_minute_ts=1631186545.0,switch:0_temperature_tC=41.2,switch:0_temperature_tF=106.2,switch:0_output=true 1631186545040000000\n")
        XCTAssertEqual(map(rules, "shellies/shellyht-AABBCC/sensor/temperature", "nan"), "NO_FIELDS")
    }

    func testTheThingsNetworkV3() throws {
        let rules = try rules("ttn.yaml")
        XCTAssertEqual(map(rules, "v3/my-app@ttn/devices/eui-0004a30b001c0530/up", #"{"end_device_ids":{"device_id":"eui-0004a30b001c0530","application_ids":{"application_id":"my-app"},"dev_eui":"0004A30B001C0530","join_eui":"800000000000000C","dev_addr":"00BCB929"},"correlation_ids":["as:up:01ETNVZE3A1CB2BBYFK4QKHKS4"],"received_at":"2020-12-21T17:45:08.522233524Z","uplink_message":{"session_key_id":"AXY+9aO0Y2dx0IZsoDgTxQ==","f_port":1,"f_cnt":42,"frm_payload":"AQI=","decoded_payload":{"temperature":21.5,"humidity":40,"status":"ok"},"rx_metadata":[{"gateway_ids":{"gateway_id":"my-gateway","eui":"B827EBFFFE4DBD2E"},"time":"2020-12-21T17:45:08.277Z","timestamp":3235207436,"rssi":-57,"channel_rssi":-57,"snr":9.25,"uplink_token":"ChIKEAoKbXktZ2F0ZXdheRIIuCfr//5NvS4QjL6I+gsaDAjk7ML+BRCNyrqSARDgy9L1Cw=="}],"settings":{"data_rate":{"lora":{"bandwidth":125000,"spreading_factor":7}},"coding_rate":"4/5","frequency":"868300000"},"received_at":"2020-12-21T17:45:08.522233524Z","consumed_airtime":"0.046336s"}}"#),
                       "ttn-uplink telemetry_lorawan skipped=0\nlorawan,application=my-app@ttn,dev_eui=0004A30B001C0530,device=eui-0004a30b001c0530,gateway=my-gateway temperature=21.5,humidity=40.0,status=\"ok\",f_cnt=42i,f_port=1i,rssi=-57i,snr=9.25 1608572708522233524\n")
    }

    func testHomeAssistantStatestream() throws {
        let rules = try rules("home-assistant.yaml")
        XCTAssertEqual(map(rules, "homeassistant/sensor/living_room_temperature/state", "21.5"),
                       "ha-numeric telemetry_home skipped=0\nsensor,entity_id=sensor.living_room_temperature value=21.5 99\n")
        XCTAssertEqual(map(rules, "homeassistant/binary_sensor/front_door/state", "off"),
                       "ha-binary telemetry_home skipped=0\nbinary_sensor,entity_id=binary_sensor.front_door on=false 99\n")
        XCTAssertEqual(map(rules, "homeassistant/switch/heater/state", #""on""#),
                       "ha-switch telemetry_home skipped=0\nswitch,entity_id=switch.heater on=true 99\n")
        XCTAssertEqual(map(rules, "homeassistant/sensor/living_room_temperature/state", "unavailable"), "NO_FIELDS")
        XCTAssertEqual(map(rules, "homeassistant/sensor/living_room_temperature/unit_of_measurement", #""°C""#), "NO_MAPPING")
    }

    func testYAMLErrorsNameTheRuleAndTheField() {
        func error(_ yaml: String) -> MappingError? {
            do {
                _ = try loader.load(yaml: yaml)
                return nil
            } catch {
                return error
            }
        }
        let wrongType = error("rules:\n  - name: one\n    topic: a\n    measurement: m\n    fields: {t: float}\n  - name: two\n    topic: b\n    measurement: m\n    fields: [t]\n")
        XCTAssertEqual(wrongType?.rule, "two")
        XCTAssertEqual(wrongType?.field, "fields")
        let unknown = error("rules:\n  - name: one\n    topic: a\n    measurement: m\n    fields:\n      t: {pointer: /t, typ: float}\n")
        XCTAssertEqual(unknown?.rule, "one", "\(String(describing: unknown))")
        XCTAssertEqual(unknown?.field, "fields.t.typ")
        XCTAssertTrue(unknown?.message.contains("unknown key \"typ\"") ?? false, "\(String(describing: unknown))")
        let missing = error("rules:\n  - topic: a\n")
        XCTAssertEqual(missing?.rule, "rules[0]")
        XCTAssertEqual(missing?.field, "name")
        XCTAssertNotNil(error("rules: [\n"))
        XCTAssertEqual(error("rules: []\n")?.field, "rules")
        let notBoolean = error("rules:\n  - name: one\n    topic: a/{d}\n    device: \"{d}\"\n    registry: sometimes\n    payload: line-protocol\n")
        XCTAssertEqual(notBoolean?.rule, "one")
        XCTAssertEqual(notBoolean?.field, "registry")
        XCTAssertEqual(notBoolean?.message, "expected true or false", "\(String(describing: notBoolean))")
        let noDevice = error("rules:\n  - name: one\n    topic: a/{d}\n    registry: true\n    payload: line-protocol\n")
        XCTAssertEqual(noDevice?.rule, "one")
        XCTAssertEqual(noDevice?.field, "device")
    }
}
