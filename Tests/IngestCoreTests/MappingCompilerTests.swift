@testable import IngestCore
import XCTest

final class MappingCompilerTests: XCTestCase {
    private func rule(_ body: String) -> String {
        #"{"rules":[{"name":"r1","topic":"a/{dev}",\#(body)}]}"#
    }

    func testErrorsNameTheRuleAndTheField() {
        let cases: [(String, String, String)] = [
            (rule(#""measurement":"m","fields":{"t":"double"}"#), "fields.t.type", "unknown type \"double\""),
            (rule(#""measurement":"m","fields":{"t":{"pointer":"t","type":"float"}}"#), "fields.t.pointer", "not a JSON pointer"),
            (rule(#""measurement":"{device}","fields":{"t":"float"}"#), "measurement", "{device} is not a capture"),
            (rule(#""fields":{"t":"float"}"#), "measurement", "required"),
            (rule(#""measurement":"m""#), "fields", "needs fields, flatten or both"),
            (rule(#""measurement":"m","fields":{"time":"float"}"#), "fields.time", "not a field name"),
            (rule(#""measurement":"m","tags":{"time":"x"},"fields":{"t":"float"}"#), "tags.time", "not a tag name"),
            (rule(#""measurement":"m","fields":{"t":"float"},"time":{"pointer":"/ts","format":"minutes"}"#), "time.format", "unknown format"),
            (rule(#""measurement":"m","fields":{"t":"float"},"on_type_error":"drop""#), "on_type_error", "skip or reject"),
            (rule(#""payload":"xml""#), "payload", "unknown payload"),
            (rule(#""payload":"value","measurement":"m""#), "value", "needs value"),
            (rule(#""payload":"value","measurement":"/m","value":{"field":"v","type":"float"}"#), "measurement", "no JSON to point into"),
            (rule(#""payload":"value","measurement":"m","fields":{"t":"float"},"value":{"field":"v","type":"float"}"#), "fields", "not used with payload: value"),
            (rule(#""payload":"envelope","measurement":"m""#), "measurement", "not used with payload: envelope"),
            (rule(#""payload":"line-protocol","fields":{"t":"float"}"#), "fields", "not used with payload: line-protocol"),
            (rule(#""measurement":"m","flatten":{"pointer":"","separator":""}"#), "flatten.separator", "must not be empty"),
            (rule(#""measurement":"m","readings":"","fields":{"t":"float"}"#), "readings", "must point into the document"),
            (rule(#""measurement":"m","database":"db_{x","fields":{"t":"float"}"#), "database", "a { without its }"),
            (rule(#""measurement":"m\n","fields":{"t":"float"}"#), "measurement", "cannot be written in line protocol"),
        ]
        for (json, field, message) in cases {
            guard let error = MappingFixture.error(json) else {
                XCTFail("compiled: \(json)")
                continue
            }
            XCTAssertEqual(error.rule, "r1", json)
            XCTAssertEqual(error.field, field, json)
            XCTAssertTrue(error.message.contains(message), "\(error.message) for \(json)")
            XCTAssertTrue(error.description.hasPrefix("rule \"r1\", field \"\(field)\", "), error.description)
        }
    }

    func testFileLevelErrors() {
        XCTAssertEqual(MappingFixture.error(#"{"rules":[]}"#)?.field, "rules")
        let topic = MappingFixture.error(#"{"rules":[{"name":"a","topic":"x/{d}/{d}","payload":"line-protocol"}]}"#)
        XCTAssertEqual(topic?.field, "topic")
        let repeated = MappingFixture.error("""
        {"rules":[{"name":"a","topic":"x","payload":"line-protocol"},{"name":"a","topic":"y","payload":"line-protocol"}]}
        """)
        XCTAssertEqual(repeated?.field, "name")
        XCTAssertEqual(MappingFixture.error(#"{"rules":[{"name":"","topic":"x","payload":"line-protocol"}]}"#)?.rule, "rules[0]")
    }

    func testUnknownKeysAreRefusedByName() {
        XCTAssertThrowsError(try MappingFixture.rules(rule(#""measurement":"m","feilds":{"t":"float"}"#))) { error in
            let unknown = error as? DefinitionKeyError
            XCTAssertEqual(unknown?.key, "feilds")
            XCTAssertEqual(unknown?.codingPath.map { $0.intValue.map(String.init) ?? $0.stringValue }, ["rules", "0", "feilds"])
        }
    }

    func testTopicFilters() throws {
        func matches(_ filter: String, _ topic: String) throws -> [String]? {
            let compiled = try TopicFilter(filter)
            var captures: [Range<Int>] = []
            var topic = topic
            return topic.withUTF8 { bytes in
                let raw = UnsafeRawBufferPointer(bytes)
                guard compiled.match(raw, captures: &captures) else { return nil }
                return captures.map { String(decoding: raw[$0], as: UTF8.self) }
            }
        }
        XCTAssertEqual(try matches("v3/{app}/devices/{device}/up", "v3/my-app@ttn/devices/eui-1/up"), ["my-app@ttn", "eui-1"])
        XCTAssertNil(try matches("v3/{app}/devices/{device}/up", "v3/a/devices/b/down"))
        XCTAssertNil(try matches("v3/{app}/devices/{device}/up", "v3/a/devices//up"))
        XCTAssertNil(try matches("a/{x}", "a/b/c"))
        XCTAssertNil(try matches("a/{x}", "a"))
        XCTAssertEqual(try matches("a/+/{x}", "a/b/c"), ["c"])
        XCTAssertEqual(try matches("a/#", "a/b/c"), [])
        XCTAssertEqual(try matches("a/#", "a"), [])
        XCTAssertEqual(try matches("{d}/events/rpc", "shellyplus1-a8/events/rpc"), ["shellyplus1-a8"])
        XCTAssertNil(try matches("ab", "a"))
        XCTAssertEqual(try TopicFilter("{d}/events/rpc").subscription, "+/events/rpc")
        XCTAssertThrowsError(try TopicFilter("a/#/b"))
        XCTAssertThrowsError(try TopicFilter("a/b+"))
        XCTAssertThrowsError(try TopicFilter("a/{b c}"))
        XCTAssertThrowsError(try TopicFilter(""))
    }

    func testJSONPointers() throws {
        XCTAssertEqual(try JSONPointer("").tokens, [])
        XCTAssertEqual(try JSONPointer("/a~1b/~0/0/01/").tokens.map { String(decoding: $0.key, as: UTF8.self) }, ["a/b", "~", "0", "01", ""])
        XCTAssertEqual(try JSONPointer("/a/0/01/10").tokens.map(\.index), [nil, 0, nil, 10])
        XCTAssertThrowsError(try JSONPointer("a"))
        XCTAssertThrowsError(try JSONPointer("/a~2"))
    }

    func testCompiledRulesDescribeThemselves() throws {
        let rules = try MappingFixture.rules(rule(#""measurement":"m","tags":{"d":"{dev}"},"fields":{"t":"float"},"time":{"pointer":"/ts","format":"ms"}"#))
        let text = rules.rules[0].description
        XCTAssertTrue(text.contains("rule r1: topic a/{dev} (subscribes to a/+), payload json"), text)
        XCTAssertTrue(text.contains("field t: float at /t"), text)
        XCTAssertTrue(text.contains("tag d: \"{dev}\""), text)
        XCTAssertTrue(text.contains("time: /ts (ms), else receipt time"), text)
    }

    func testTheBuiltInRuleIsTheEnvelope() throws {
        let rules = try MappingCompiler().compile(.builtIn)
        XCTAssertEqual(rules.rules.map(\.payload), [.envelope])
        XCTAssertEqual(rules.subscriptions, ["tenant/+/device/+/+"])
    }
}
