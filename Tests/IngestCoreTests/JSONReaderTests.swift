import IngestCore
import XCTest

/// The strict JSON reader, seen through `EnvelopeDecoder` (the reader itself is internal).
final class JSONReaderTests: XCTestCase {
    private func assertBadJSON(_ json: String, file: StaticString = #filePath, line: UInt = #line) {
        assertRejects(.badJSON, json.debugDescription, file: file, line: line) { () throws(RejectReason) in
            try Fixtures.decode(json)
        }
    }

    private func assertBadJSON(bytes: [UInt8], file: StaticString = #filePath, line: UInt = #line) {
        assertRejects(.badJSON, "\(bytes)", file: file, line: line) { () throws(RejectReason) in
            try Fixtures.decoder().decode(bytes)
        }
    }

    func testMinimalDocumentIsAccepted() throws {
        let envelope = try Fixtures.decode(#" { "seq" : 1 } "#)
        XCTAssertEqual(envelope.seq, 1)
        XCTAssertEqual(envelope.version, "1")
    }

    func testEmptyAndWhitespacePayloads() {
        assertBadJSON("")
        assertBadJSON("   \n")
    }

    func testNotAnObject() {
        for json in ["[]", #"[{"seq":1}]"#, "1", #""seq""#, "null", "true"] {
            assertBadJSON(json)
        }
    }

    func testTrailingCommas() {
        assertBadJSON(#"{"seq":1,}"#)
        assertBadJSON(Fixtures.envelope(metrics: #"{"a":1,}"#))
        assertBadJSON(Fixtures.envelope(metrics: #"{"a":[1,2,]}"#))
    }

    func testSingleQuotesAndUnquotedKeys() {
        assertBadJSON("{'seq':1}")
        assertBadJSON(#"{"seq":1,"site_id":'s1'}"#)
        assertBadJSON("{seq:1}")
    }

    func testTrailingGarbage() {
        assertBadJSON(#"{"seq":1}x"#)
        assertBadJSON(#"{"seq":1}{}"#)
        assertBadJSON(#"{"seq":1} 1"#)
    }

    func testTruncatedDocuments() {
        let full = Fixtures.envelope(metrics: #"{"a":1.5,"b":"x","c":[1,{"d":null}]}"#)
        let bytes = Array(full.utf8)
        for length in 0..<bytes.count {
            assertBadJSON(bytes: Array(bytes[..<length]))
        }
    }

    func testUnterminatedString() {
        assertBadJSON(#"{"seq":1,"site_id":"s1}"#)
    }

    /// The reader scans strings eight bytes at a time: a quote, an escape, a control character or
    /// a non-ASCII byte must be found at every offset within a word, as the last bytes of the
    /// payload, and after bytes of every kind earlier in the same word.
    func testSpecialBytesAtEveryOffset() throws {
        let specials: [(json: String, decoded: String)] = [
            (#"\""#, "\""), (#"\\"#, "\\"), (#"\n"#, "\n"), ("é", "é"), ("🚀", "🚀"), ("\u{7F}", "\u{7F}"), ("~", "~"), (" ", " "),
        ]
        for offset in 0..<20 {
            for tail in 0..<10 {
                for (first, second) in zip(specials, specials.reversed()) {
                    let json = String(repeating: "a", count: offset) + first.json + String(repeating: "b", count: tail) + second.json
                    let text = String(repeating: "a", count: offset) + first.decoded + String(repeating: "b", count: tail) + second.decoded
                    XCTAssertEqual(try Fixtures.decode(#"{"seq":1,"site_id":"\#(json)"}"#).siteID, text, json)
                    // The string as the last bytes of the payload (a key with nothing after it is cut off).
                    assertBadJSON(#"{"seq":1,"site_id":"\#(json)"#)
                }
                let raw = Array(#"{"seq":1,"site_id":""#.utf8) + Array(repeating: UInt8(ascii: "a"), count: offset)
                for control: UInt8 in [0x00, 0x09, 0x0A, 0x1F] {
                    assertBadJSON(bytes: raw + [control] + Array(repeating: UInt8(ascii: "b"), count: tail) + Array(#""}"#.utf8))
                }
                for invalid: [UInt8] in [[0x80], [0xC3], [0xFF], [0xED, 0xA0, 0x80]] {
                    assertBadJSON(bytes: raw + invalid + Array(repeating: UInt8(ascii: "b"), count: tail) + Array(#""}"#.utf8))
                }
            }
        }
    }

    func testBadEscapes() {
        for escape in [#"\x"#, #"\'"#, #"\u12"#, #"\u12G4"#, #"\U0041"#, #"\0"#] {
            assertBadJSON(#"{"seq":1,"site_id":"a\#(escape)b"}"#)
        }
    }

    func testLoneAndMisorderedSurrogates() {
        assertBadJSON(#"{"seq":1,"site_id":"\uD83D"}"#)
        assertBadJSON(#"{"seq":1,"site_id":"\uD83Dx"}"#)
        assertBadJSON(#"{"seq":1,"site_id":"\uDE00"}"#)
        assertBadJSON(#"{"seq":1,"site_id":"\uDE00\uD83D"}"#)
        assertBadJSON(#"{"seq":1,"site_id":"\uD83D\u0041"}"#)
    }

    func testEscapesAreDecodedIncludingSurrogatePairs() throws {
        let envelope = try Fixtures.decode(#"{"seq":1,"site_id":"\u0073\u00e9\u20AC\uD83D\uDE00\"\\\/\b\f\n\r\t"}"#)
        XCTAssertEqual(envelope.siteID, "sé€😀\"\\/\u{8}\u{C}\n\r\t")
    }

    func testEscapedEnvelopeKeysAreRecognised() throws {
        let envelope = try Fixtures.decode(#"{"\u0073eq":7}"#)
        XCTAssertEqual(envelope.seq, 7)
    }

    func testRawControlCharacterInString() {
        assertBadJSON("{\"seq\":1,\"site_id\":\"a\tb\"}")
        assertBadJSON("{\"seq\":1,\"site_id\":\"a\nb\"}")
    }

    func testInvalidUTF8() {
        let prefix = Array(#"{"seq":1,"site_id":""#.utf8)
        let suffix = Array(#""}"#.utf8)
        let bad: [[UInt8]] = [
            [0xFF], [0xC0, 0xAF], [0xC3], [0xE0, 0x80, 0xAF], [0xED, 0xA0, 0x80],
            [0xF4, 0x90, 0x80, 0x80], [0xF8, 0x88, 0x80, 0x80, 0x80], [0xE2, 0x82], [0x80],
        ]
        for sequence in bad {
            assertBadJSON(bytes: prefix + sequence + suffix)
        }
        XCTAssertNoThrow(try Fixtures.decoder().decode(prefix + [0xF0, 0x9F, 0x98, 0x80] + suffix))
    }

    func testNumberGrammar() {
        for number in ["01", "-", "+1", "1.", ".5", "1e", "1e+", "0x10", "NaN", "Infinity", "-Infinity", "1.5.2", "--1"] {
            assertBadJSON(Fixtures.envelope(metrics: #"{"a":\#(number)}"#))
        }
        for number in ["0", "-0", "0.5", "-0.5e-3", "1E5", "1e+5", "123456789012345678901234567890"] {
            XCTAssertNoThrow(try Fixtures.decode(Fixtures.envelope(metrics: #"{"a":\#(number)}"#)), number)
        }
    }

    func testLiterals() {
        for literal in ["tru", "True", "nul", "falsey", "undefined"] {
            assertBadJSON(Fixtures.envelope(metrics: #"{"a":\#(literal)}"#))
        }
    }

    func testMissingColonOrComma() {
        assertBadJSON(#"{"seq" 1}"#)
        assertBadJSON(#"{"seq":1 "site_id":"s"}"#)
        assertBadJSON(#"{"seq":}"#)
    }

    func testDeepNestingIsRefusedWithoutRecursingForever() {
        // Depth 64 is allowed: the envelope is level 1, metrics level 2, so 62 more levels.
        let allowed = String(repeating: "[", count: 62) + String(repeating: "]", count: 62)
        XCTAssertNoThrow(try Fixtures.decode(Fixtures.envelope(metrics: #"{"a":\#(allowed)}"#)))
        let tooDeep = String(repeating: "[", count: 63) + String(repeating: "]", count: 63)
        assertBadJSON(Fixtures.envelope(metrics: #"{"a":\#(tooDeep)}"#))
        let hostile = String(repeating: "[", count: 100_000)
        assertBadJSON(Fixtures.envelope(metrics: #"{"a":\#(hostile)}"#))
        let hostileObjects = String(repeating: #"{"a":"#, count: 50_000)
        assertBadJSON(#"{"seq":1,"x":\#(hostileObjects)}"#)
    }

    func testNumbersBeyondDoubleAreBadJSON() {
        assertBadJSON(Fixtures.envelope(metrics: #"{"a":1e400}"#))
        assertBadJSON(Fixtures.envelope(metrics: #"{"a":-1e309}"#))
    }

    func testTinyNumbersUnderflowToZero() throws {
        let envelope = try Fixtures.decode(Fixtures.envelope(metrics: #"{"a":1e-400}"#))
        XCTAssertEqual(envelope.metrics, [Metric(key: "a", value: .float(0))])
    }

    func testNumbersAreCorrectlyRounded() throws {
        let literals = ["21.5", "0.1", "0.3", "1e-05", "1e+20", "123456.789", "2.2250738585072014e-308",
                        "9007199254740993", "0.1234567890123456789", "1.7976931348623157e308", "-0.0", "5e-324"]
        let json = "{" + literals.enumerated().map { #""m\#($0.offset)":\#($0.element)"# }.joined(separator: ",") + "}"
        let envelope = try Fixtures.decode(Fixtures.envelope(metrics: json))
        for (index, literal) in literals.enumerated() {
            guard case .float(let value) = envelope.metrics[index].value else { return XCTFail() }
            XCTAssertEqual(value.bitPattern, Double(literal)!.bitPattern, literal)
        }
    }

    func testUnknownKeysAreValidatedAndIgnored() throws {
        let envelope = try Fixtures.decode(#"{"seq":1,"extra":{"a":[1,2,{"b":null}],"c":"\u00e9"},"more":[true,false,null,-1.5e3]}"#)
        XCTAssertEqual(envelope.seq, 1)
        assertBadJSON(#"{"seq":1,"extra":{"a":[1,2,}}"#)
    }

    func testDuplicateKeys() {
        assertBadJSON(#"{"seq":1,"seq":2}"#)
        assertBadJSON(#"{"seq":1,"site_id":"a","site_id":"b"}"#)
        assertBadJSON(Fixtures.envelope(metrics: #"{"a":1,"a":2}"#))
    }
}
