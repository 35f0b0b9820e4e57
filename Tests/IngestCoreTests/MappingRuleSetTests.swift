import IngestCore
import XCTest

final class MappingRuleSetTests: XCTestCase {
    private let sensors = """
    {"rules":[
      {"name":"z2m","topic":"zigbee2mqtt/{device}","tenant":"home","measurement":"zigbee",
       "tags":{"device":"{device}","model":"/device/model"},
       "fields":{"temperature":"float","battery":"integer","state":"boolean","action":"string",
                 "rssi":{"pointer":"/radio/0/rssi","type":"integer"}}},
      {"name":"envelope","topic":"tenant/+/device/+/+","payload":"envelope"}
    ]}
    """

    func testExplicitFieldsTagsFromTopicAndPointerDatabaseFromTenant() throws {
        let rules = try MappingFixture.rules(sensors)
        let mapped = try XCTUnwrap(assertAccepts { () throws(RejectReason) in
            try MappingFixture.map(rules, topic: "zigbee2mqtt/kitchen",
                                   payload: #"{"temperature":21,"battery":"97","state":"ON","action":"single","device":{"model":"WSDCGQ11LM"},"radio":[{"rssi":-60}],"other":[1,{"x":null}]}"#)
        })
        XCTAssertEqual(mapped?.rule, "z2m")
        XCTAssertEqual(mapped?.database, "telemetry_home")
        XCTAssertEqual(mapped?.lines, [
            #"zigbee,device=kitchen,model=WSDCGQ11LM action="single",battery=97i,rssi=-60i,state=true,temperature=21.0 7"#,
        ])
        XCTAssertEqual(mapped?.skipped, 0)
    }

    func testFirstMatchingRuleWinsAndTheEnvelopeRuleIsHandedBack() throws {
        let rules = try MappingFixture.rules(sensors)
        var limiter = RateLimiter(ratePerSecond: 0, burst: 1, maxDevices: 1)
        var scratch = MappingScratch()
        let outcome = assertAccepts { () throws(RejectReason) in
            try rules.map(topic: "tenant/acme/device/d1/telemetry", payload: Array("{}".utf8), receivedAtNanos: 0,
                          rateLimiter: &limiter, scratch: &scratch)
        }
        XCTAssertEqual(outcome, .envelope(rule: 1))
    }

    func testNoRuleIsNoMapping() throws {
        let rules = try MappingFixture.rules(sensors)
        for topic in ["zigbee2mqtt/bridge/state", "zigbee2mqtt", "zigbee2mqtt/", "other/kitchen", "tenant/a/device/b"] {
            assertRejects(.noMapping, topic) { () throws(RejectReason) in try MappingFixture.map(rules, topic: topic, payload: "{}") }
        }
    }

    func testAMessageWithNoFieldLeftIsNoFields() throws {
        let rules = try MappingFixture.rules(sensors)
        assertRejects(.noFields) { () throws(RejectReason) in
            try MappingFixture.map(rules, topic: "zigbee2mqtt/hall",
                                   payload: #"{"temperature":"warm","battery":97.5,"state":"maybe","action":"a\nb","radio":[{"rssi":true}]}"#)
        }
        assertRejects(.noFields) { () throws(RejectReason) in try MappingFixture.map(rules, topic: "zigbee2mqtt/hall", payload: #"{"linkquality":3}"#) }
        assertRejects(.noFields) { () throws(RejectReason) in try MappingFixture.map(rules, topic: "zigbee2mqtt/hall", payload: #"{"temperature":null}"#) }
    }

    func testSkippedCountWithSomeFieldsLeft() throws {
        let rules = try MappingFixture.rules(sensors)
        let mapped = try XCTUnwrap(assertAccepts { () throws(RejectReason) in
            try MappingFixture.map(rules, topic: "zigbee2mqtt/hall", payload: #"{"temperature":"21.5","battery":97.5,"state":"off"}"#)
        })
        XCTAssertEqual(mapped?.lines, ["zigbee,device=hall state=false,temperature=21.5 7"])
        XCTAssertEqual(mapped?.skipped, 1)
    }

    func testOnTypeErrorRejectRefusesTheMessage() throws {
        let rules = try MappingFixture.rules("""
        {"rules":[{"name":"strict","topic":"s/{d}","measurement":"m","on_type_error":"reject","fields":{"v":"float"}}]}
        """)
        assertRejects(.fieldTypeMismatch) { () throws(RejectReason) in try MappingFixture.map(rules, topic: "s/x", payload: #"{"v":"high"}"#) }
        XCTAssertEqual(try MappingFixture.map(rules, topic: "s/x", payload: #"{"v":1}"#)?.lines, ["m v=1.0 7"])
    }

    func testConversionsOfEveryType() throws {
        let rules = try MappingFixture.rules("""
        {"rules":[{"name":"t","topic":"t","measurement":"m","fields":{
          "f":"float","i":"integer","b":"boolean","s":"string"}}]}
        """)
        func line(_ payload: String) throws(RejectReason) -> String? { try MappingFixture.map(rules, topic: "t", payload: payload)?.lines.first }
        XCTAssertEqual(try line(#"{"f":1e2,"i":42.0,"b":1,"s":12.50}"#), #"m b=true,f=100.0,i=42i,s="12.50" 7"#)
        XCTAssertEqual(try line(#"{"f":"-0.5","i":"-7","b":"Off","s":true}"#), #"m b=false,f=-0.5,i=-7i,s="true" 7"#)
        XCTAssertEqual(try line(#"{"f":true,"i":4.5,"b":2,"s":"q\"\\"}"#), #"m s="q\"\\" 7"#)
        XCTAssertEqual(try line(#"{"i":9223372036854775807,"b":"YES"}"#), "m b=true,i=9223372036854775807i 7")
        assertRejects(.noFields) { () throws(RejectReason) in try line(#"{"i":9223372036854775808,"f":"1e400","b":"yes!"}"#) }
    }

    func testTimestampFormats() throws {
        func rules(_ format: String) throws -> MappingRuleSet {
            try MappingFixture.rules("""
            {"rules":[{"name":"t","topic":"t","measurement":"m","fields":{"v":"float"},"time":{"pointer":"/ts","format":"\(format)"}}]}
            """)
        }
        func stamp(_ format: String, _ ts: String) throws(RejectReason) -> String? {
            let set = try! rules(format)
            return try MappingFixture.map(set, topic: "t", payload: #"{"v":1,"ts":\#(ts)}"#)?.lines.first?.split(separator: " ").last.map(String.init)
        }
        XCTAssertEqual(try stamp("s", "1631186545.04"), "1631186545040000000")
        XCTAssertEqual(try stamp("s", #""1631186545""#), "1631186545000000000")
        XCTAssertEqual(try stamp("ms", "1631186545040"), "1631186545040000000")
        XCTAssertEqual(try stamp("us", "1631186545040000"), "1631186545040000000")
        XCTAssertEqual(try stamp("ns", "1631186545040000001"), "1631186545040000001")
        XCTAssertEqual(try stamp("ms", "5"), "5000000")
        XCTAssertEqual(try stamp("rfc3339", #""2020-12-21T17:45:08.522233524Z""#), "1608572708522233524")
        XCTAssertEqual(try stamp("auto", "1631186545040"), "1631186545040000000")
        XCTAssertEqual(try stamp("auto", #""2019-11-03T19:34:28""#), "1572809668000000000")
        XCTAssertEqual(try stamp("auto", "null"), "7")
        assertRejects(.badTimestamp) { () throws(RejectReason) in try stamp("rfc3339", "1631186545") }
        assertRejects(.badTimestamp) { () throws(RejectReason) in try stamp("s", #""yesterday""#) }
        assertRejects(.badTimestamp) { () throws(RejectReason) in try stamp("auto", "true") }
        assertRejects(.badTimestamp) { () throws(RejectReason) in try stamp("s", "-1") }
    }

    func testFlattenNamesTypesExclusionsAndLimits() throws {
        let rules = try MappingFixture.rules("""
        {"rules":[{"name":"t","topic":"t/{d}","measurement":"m","tags":{"src":"/src"},
          "flatten":{"pointer":"/params","separator":"_","exclude":["/params/ts"]},
          "time":{"pointer":"/params/ts","format":"s"}}]}
        """, limits: EnvelopeLimits(maxMetricKeys: 5))
        let mapped = try XCTUnwrap(assertAccepts { () throws(RejectReason) in
            try MappingFixture.map(rules, topic: "t/x", payload: """
            {"src":"dev 1","params":{"ts":2,"switch:0":{"apower":12,"output":true,"source":"WS_in","aenergy":{"by_minute":[1,2.5]}},"n":null,"time":4,"x,y":1}}
            """)
        })
        XCTAssertEqual(mapped?.lines, [
            #"m,src=dev\ 1 switch:0_apower=12.0,switch:0_output=true,switch:0_source="WS_in",switch:0_aenergy_by_minute_0=1.0,switch:0_aenergy_by_minute_1=2.5 2000000000"#,
        ])
        // `time` is not a field name InfluxDB allows; `x,y` is beyond MAX_METRIC_KEYS (5).
        XCTAssertEqual(mapped?.skipped, 2)
    }

    func testFlattenWithPinnedTypeAndPrefix() throws {
        let rules = try MappingFixture.rules("""
        {"rules":[{"name":"t","topic":"t","measurement":"m","flatten":{"pointer":"","prefix":"p.","separator":".","type":"float"},
          "fields":{"label":"string"}}]}
        """)
        let mapped = try XCTUnwrap(assertAccepts { () throws(RejectReason) in
            try MappingFixture.map(rules, topic: "t", payload: #"{"a":{"b":"1.5","c":"x"},"label":"L","d":[true]}"#)
        })
        XCTAssertEqual(mapped?.lines, [#"m p.a.b=1.5,label="L" 7"#])
        XCTAssertEqual(mapped?.skipped, 2)
    }

    func testReadingsMakeOnePointPerElement() throws {
        let rules = try MappingFixture.rules("""
        {"rules":[{"name":"batch","topic":"b/{device}","measurement":"/kind","tags":{"device":"{device}","site":"/site"},
          "readings":"/samples","fields":{"t":{"pointer":"/temp","type":"float"}},"time":{"pointer":"/at","format":"ms"}}]}
        """)
        let mapped = try XCTUnwrap(assertAccepts { () throws(RejectReason) in
            try MappingFixture.map(rules, topic: "b/d1", payload: """
            {"samples":[{"temp":1,"at":1000},{"temp":"x","at":2000},{"temp":3}],"kind":"env","site":"s1"}
            """)
        })
        XCTAssertEqual(mapped?.lines, ["env,device=d1,site=s1 t=1.0 1000000000", "env,device=d1,site=s1 t=3.0 7"])
        XCTAssertEqual(mapped?.skipped, 2)
        assertRejects(.noFields) { () throws(RejectReason) in try MappingFixture.map(rules, topic: "b/d1", payload: #"{"kind":"env","samples":[]}"#) }
        assertRejects(.noFields) { () throws(RejectReason) in try MappingFixture.map(rules, topic: "b/d1", payload: #"{"kind":"env"}"#) }
        assertRejects(.badJSON) { () throws(RejectReason) in try MappingFixture.map(rules, topic: "b/d1", payload: #"{"kind":"env","samples":{}}"#) }
        assertRejects(.badJSON) { () throws(RejectReason) in try MappingFixture.map(rules, topic: "b/d1", payload: #"{"samples":[{"temp":1}]}"#) }
    }

    func testInvalidJSONIsBadJSONEvenWhereNoPointerLooks() throws {
        let rules = try MappingFixture.rules(sensors)
        for payload in [#"{"temperature":1,"x":[1,}"#, #"{"temperature":1} x"#, "[1]", "21.5", #"{"temperature":1,"x":"\ud800"}"#,
                        String(repeating: "[", count: 100) + String(repeating: "]", count: 100)] {
            assertRejects(.badJSON, payload) { () throws(RejectReason) in try MappingFixture.map(rules, topic: "zigbee2mqtt/a", payload: payload) }
        }
    }

    func testEscapedKeysAndPointerEscapes() throws {
        let rules = try MappingFixture.rules("""
        {"rules":[{"name":"t","topic":"t","measurement":"m","fields":{"a/b":"float","t":{"pointer":"/x~0y/0","type":"integer"}}}]}
        """)
        XCTAssertEqual(try MappingFixture.map(rules, topic: "t", payload: #"{"a\/b":1,"x~y":[5]}"#)?.lines, ["m a/b=1.0,t=5i 7"])
    }

    func testValuePayloads() throws {
        let rules = try MappingFixture.rules("""
        {"rules":[
          {"name":"sensor","topic":"shellies/{device}/sensor/{metric}","payload":"value","measurement":"shelly",
           "tags":{"device":"{device}"},"value":{"field":"{metric}","type":"float"}},
          {"name":"relay","topic":"shellies/{device}/relay/{ch}","payload":"value","measurement":"shelly",
           "tags":{"device":"{device}","channel":"{ch}"},"value":{"field":"on","type":"boolean"},"on_type_error":"reject"},
          {"name":"text","topic":"txt/{d}","payload":"value","measurement":"t","value":{"field":"s","type":"string"}}
        ]}
        """)
        XCTAssertEqual(try MappingFixture.map(rules, topic: "shellies/ht-1/sensor/temperature", payload: " 21.5\n")?.lines,
                       ["shelly,device=ht-1 temperature=21.5 7"])
        XCTAssertEqual(try MappingFixture.map(rules, topic: "shellies/sw/relay/0", payload: "on")?.lines,
                       ["shelly,channel=0,device=sw on=true 7"])
        XCTAssertEqual(try MappingFixture.map(rules, topic: "txt/a", payload: #""hello""#)?.lines, [#"t s="hello" 7"#])
        assertRejects(.noFields) { () throws(RejectReason) in try MappingFixture.map(rules, topic: "shellies/ht-1/sensor/temperature", payload: "unavailable") }
        assertRejects(.noFields) { () throws(RejectReason) in try MappingFixture.map(rules, topic: "shellies/ht-1/sensor/temperature", payload: "") }
        assertRejects(.fieldTypeMismatch) { () throws(RejectReason) in try MappingFixture.map(rules, topic: "shellies/sw/relay/0", payload: "toggle") }
        var limiter = RateLimiter(ratePerSecond: 0, burst: 1, maxDevices: 1)
        var scratch = MappingScratch()
        assertRejects(.badJSON, "not UTF-8") { () throws(RejectReason) in
            try rules.map(topic: "txt/a", payload: [0x61, 0xFF], receivedAtNanos: 0, rateLimiter: &limiter, scratch: &scratch)
        }
        assertRejects(.noFields) { () throws(RejectReason) in try MappingFixture.map(rules, topic: "txt/a", payload: "a\nb") }
        assertRejects(.metricKeyInvalid) { () throws(RejectReason) in try MappingFixture.map(rules, topic: "shellies/x/sensor/time", payload: "1") }
    }

    func testLineProtocolPassThrough() throws {
        let rules = try MappingFixture.rules("""
        {"rules":[{"name":"lp","topic":"lp/{d}","payload":"line-protocol","database":"raw_{d}"}]}
        """)
        let mapped = try XCTUnwrap(assertAccepts { () throws(RejectReason) in
            try MappingFixture.map(rules, topic: "lp/a", payload: "# comment\ncpu,host=a usage=1.5,n=3i,ok=t,s=\"x y\" 123\r\n\nmem free=2u\n")
        })
        XCTAssertEqual(mapped?.database, "raw_a")
        XCTAssertEqual(mapped?.lines, [#"cpu,host=a usage=1.5,n=3i,ok=t,s="x y" 123"#, "mem free=2u 7"])
        for bad in ["cpu", "cpu usage", "cpu usage=", "cpu usage=abc", "cpu usage=1 12x", ",t=1 v=1", "cpu usage=\"open",
                    "cpu v=1\u{1}", "cpu v=1\ncpu"] {
            assertRejects(.badJSON, bad) { () throws(RejectReason) in try MappingFixture.map(rules, topic: "lp/a", payload: bad) }
        }
        assertRejects(.noFields) { () throws(RejectReason) in try MappingFixture.map(rules, topic: "lp/a", payload: "\n# only a comment\n") }
    }

    func testDatabaseTemplateWithoutTenantAddsTheTenantTagInOrder() throws {
        let rules = try MappingFixture.rules("""
        {"rules":[{"name":"t","topic":"t/{d}","tenant":"home","measurement":"m","tags":{"a":"{d}","z":"z"},"fields":{"v":"float"}}]}
        """, databaseTemplate: "iot")
        let mapped = try MappingFixture.map(rules, topic: "t/x", payload: #"{"v":1}"#)
        XCTAssertEqual(mapped?.database, "iot")
        XCTAssertEqual(mapped?.lines, ["m,a=x,tenant_id=home,z=z v=1.0 7"])
    }

    func testTagValuesThatCannotBeWrittenAreLeftOutAndCounted() throws {
        let rules = try MappingFixture.rules("""
        {"rules":[{"name":"t","topic":"t","measurement":"m","tags":{"a":"/a","b":"/b","c":"/c"},"fields":{"v":"float"}}]}
        """)
        let mapped = try MappingFixture.map(rules, topic: "t", payload: #"{"v":1,"a":"x\\","b":"","c":12.5}"#)
        XCTAssertEqual(mapped?.lines, ["m,c=12.5 v=1.0 7"])
        XCTAssertEqual(mapped?.skipped, 1)
    }

    func testRateLimitAppliesPerDeviceOfTheRule() throws {
        let rules = try MappingFixture.rules("""
        {"rules":[{"name":"t","topic":"t/{d}","device":"{d}","measurement":"m","fields":{"v":"float"}}]}
        """)
        var limiter = RateLimiter(ratePerSecond: 1, burst: 2, maxDevices: 10)
        var scratch = MappingScratch()
        let payload = Array(#"{"v":1}"#.utf8)
        for _ in 0..<2 {
            _ = assertAccepts { () throws(RejectReason) in try rules.map(topic: "t/a", payload: payload, receivedAtNanos: 0, rateLimiter: &limiter, scratch: &scratch) }
        }
        assertRejects(.rateLimited) { () throws(RejectReason) in try rules.map(topic: "t/a", payload: payload, receivedAtNanos: 0, rateLimiter: &limiter, scratch: &scratch) }
        _ = assertAccepts { () throws(RejectReason) in try rules.map(topic: "t/b", payload: payload, receivedAtNanos: 0, rateLimiter: &limiter, scratch: &scratch) }
    }

    func testPayloadSizeIsCheckedFirst() throws {
        let rules = try MappingFixture.rules(sensors)
        var limiter = RateLimiter(ratePerSecond: 0, burst: 1, maxDevices: 1)
        var scratch = MappingScratch()
        assertRejects(.payloadTooLarge) { () throws(RejectReason) in
            try rules.map(topic: "nothing/matches", payload: Array(repeating: 0x20, count: 11), receivedAtNanos: 0,
                          maxPayloadBytes: 10, rateLimiter: &limiter, scratch: &scratch)
        }
    }

    func testSubscriptionsAreTheRulesTopicsWithoutRepeats() throws {
        let rules = try MappingFixture.rules("""
        {"rules":[{"name":"a","topic":"x/{d}/#","payload":"line-protocol"},{"name":"b","topic":"x/+/#","payload":"line-protocol"},
                  {"name":"c","topic":"y/{d}/{m}","payload":"line-protocol"}]}
        """)
        XCTAssertEqual(rules.subscriptions, ["x/+/#", "y/+/+"])
    }

    func testScratchIsReusedAcrossMessagesAndRules() throws {
        let rules = try MappingFixture.rules(sensors)
        var limiter = RateLimiter(ratePerSecond: 0, burst: 1, maxDevices: 1)
        var scratch = MappingScratch()
        // Both arrived at 10: the second point's receipt time is one nanosecond later, so neither overwrites the other.
        for (topic, expected) in [("zigbee2mqtt/a", "zigbee,device=a temperature=1.0 10\n"), ("zigbee2mqtt/bb", "zigbee,device=bb temperature=1.0 11\n")] {
            let outcome = assertAccepts { () throws(RejectReason) in
                try rules.map(topic: topic, payload: Array(#"{"temperature":1}"#.utf8), receivedAtNanos: 10, rateLimiter: &limiter, scratch: &scratch)
            }
            XCTAssertEqual(outcome, .mapped(rule: 0, database: "telemetry_home", lineCount: 1, skippedFields: 0, registryDevice: nil))
            XCTAssertEqual(String(decoding: scratch.output, as: UTF8.self), expected)
        }
    }
}
