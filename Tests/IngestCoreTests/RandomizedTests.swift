import IngestCore
import XCTest

/// Thousands of generated envelopes, many of them mutated or truncated: the pipeline must never
/// crash, and must always end in either a line the independent parser accepts or a reason.
final class RandomizedTests: XCTestCase {
    private let alphabet: [String] = ["a", "b", "z", "_", "0", " ", ",", "=", "\\", "\"", "\n", "\t", "é", "🚀", "\u{0}", "\u{7F}", "/", "{", "'"]

    /// Characters line protocol can always carry (escaped or not).
    private let friendly: [String] = ["a", "b", "z", "_", "0", " ", ",", "=", "é", "🚀", "\"", "'"]

    private func randomText(_ generator: inout SplitMix64, maxLength: Int) -> String {
        // One in five texts draws from the hostile alphabet (backslashes, control characters).
        let pool = generator.next() % 5 == 0 ? alphabet : friendly
        let length = Int(generator.next() % UInt64(maxLength + 1))
        return (0..<length).map { _ in pool[Int(generator.next() % UInt64(pool.count))] }.joined()
    }

    private func randomValue(_ generator: inout SplitMix64) -> (json: String, value: LineProtocolTestParser.FieldValue?) {
        switch generator.next() % 9 {
        case 0: return ("true", .boolean(true))
        case 1: return ("false", .boolean(false))
        case 2: return ("null", nil)
        case 3:
            let value = Double(Int64(bitPattern: generator.next()) % 1_000_000) / 64
            return ("\(value)", .float(value))
        case 4:
            let value = Int64(bitPattern: generator.next())
            return ("\(value)", .float(Double("\(value)")!))
        case 5:
            let text = randomText(&generator, maxLength: 12)
            return (Fixtures.jsonString(text), text.contains("\n") ? nil : .string(text))
        case 6: return (#"{"nested":[1,2,{"x":null}]}"#, nil)
        case 7: return ("[]", nil)
        default:
            let value = Double(bitPattern: generator.next() & 0x7FEF_FFFF_FFFF_FFFF)
            return ("\(value)", .float(value))
        }
    }

    private func randomEnvelope(_ generator: inout SplitMix64) -> (json: String, expected: [String: LineProtocolTestParser.FieldValue]) {
        var parts: [String] = []
        var expected: [String: LineProtocolTestParser.FieldValue] = [:]
        if generator.next() % 4 != 0 { parts.append(#""version":"1""#) }
        if generator.next() % 2 == 0 { parts.append(#""ts":"2026-02-09T09:15:23.\#(generator.next() % 1000)Z""#) }
        if generator.next() % 3 == 0 { parts.append(#""ts":\#(1_770_628_523 + Int(generator.next() % 1000))"#) }
        if generator.next() % 8 != 0 { parts.append(#""site_id":\#(Fixtures.jsonString(randomText(&generator, maxLength: 6)))"#) }
        if generator.next() % 4 == 0 { parts.append(#""tenant_id":"t1""#) }
        if generator.next() % 10 != 0 { parts.append(#""seq":\#(Int64(bitPattern: generator.next()) % 100_000)"#) }
        var metrics: [String] = []
        for _ in 0..<Int(generator.next() % 8) {
            let key = randomText(&generator, maxLength: 5)
            let (json, value) = randomValue(&generator)
            metrics.append(Fixtures.jsonString(key) + ":" + json)
            // A key repeating a written metric is BAD_JSON, so only the first written value can show up.
            if let value, expected[key] == nil { expected[key] = value }
        }
        parts.append(#""metrics":{\#(metrics.joined(separator: ","))}"#)
        var shuffled = parts
        shuffled.shuffle(using: &generator)
        return ("{" + shuffled.joined(separator: ",") + "}", expected)
    }

    private func mutate(_ bytes: [UInt8], _ generator: inout SplitMix64) -> [UInt8] {
        var bytes = bytes
        guard !bytes.isEmpty else { return bytes }
        for _ in 0..<(1 + Int(generator.next() % 3)) {
            let position = Int(generator.next() % UInt64(bytes.count))
            switch generator.next() % 5 {
            case 0: bytes[position] = UInt8(truncatingIfNeeded: generator.next())
            case 1: bytes.insert(UInt8(truncatingIfNeeded: generator.next()), at: position)
            case 2: bytes.remove(at: position)
            case 3: bytes = Array(bytes[..<position])
            default:
                let interesting: [UInt8] = Array(#"{}[],:"\ 0-.eE"#.utf8)
                bytes[position] = interesting[Int(generator.next() % UInt64(interesting.count))]
            }
            if bytes.isEmpty { break }
        }
        return bytes
    }

    func testGeneratedEnvelopesNeverCrashAndAlwaysYieldALineOrAReason() throws {
        var generator = SplitMix64(seed: 0x1A2B_3C4D)
        let validator = Fixtures.validator(maxPayloadBytes: 8192)
        let encoder = LineProtocolEncoder(tenantAsTag: true)
        var limiter = RateLimiter(ratePerSecond: 0, burst: 0, maxDevices: 1)
        var outcomes: [String: Int] = [:]
        var buffer: [UInt8] = []
        for iteration in 0..<4_000 {
            let (json, expected) = randomEnvelope(&generator)
            let mutated = generator.next() % 2 == 0
            let payload = mutated ? mutate(Array(json.utf8), &generator) : Array(json.utf8)
            let topic = generator.next() % 20 == 0 ? "tenant/t1/device/\(randomText(&generator, maxLength: 4))/telemetry" : "tenant/t1/device/d1/telemetry"
            let message: ValidatedMessage
            do {
                message = try validator.validate(topic: topic, payload: payload, rateLimiter: &limiter, now: 0)
            } catch {
                outcomes[error.rawValue, default: 0] += 1
                continue
            }
            buffer.removeAll(keepingCapacity: true)
            do {
                try encoder.append(message, receivedAtNanos: 7, to: &buffer)
            } catch {
                XCTFail("validated message refused by the encoder: \(error.rawValue) \(json.debugDescription)")
                continue
            }
            outcomes["accepted", default: 0] += 1
            let line: LineProtocolTestParser.Line
            do {
                line = try LineProtocolTestParser.parse(buffer)
            } catch {
                XCTFail("iteration \(iteration): \(error) in \(String(decoding: buffer, as: UTF8.self).debugDescription)")
                continue
            }
            XCTAssertEqual(line.tags["device_id"], message.address.deviceID)
            XCTAssertEqual(line.tags["site_id"], message.siteID)
            XCTAssertEqual(line.fields.first?.value, .integer(message.envelope.seq))
            if !mutated {
                for (key, value) in line.fields.dropFirst() {
                    XCTAssertEqual(expected[key], value, "key \(key.debugDescription) in \(json.debugDescription)")
                }
            }
        }
        // The generator must actually exercise both sides.
        XCTAssertGreaterThan(outcomes["accepted", default: 0], 300, "\(outcomes)")
        XCTAssertGreaterThan(outcomes["BAD_JSON", default: 0], 300, "\(outcomes)")
        XCTAssertGreaterThan(outcomes["METRIC_KEY_INVALID", default: 0], 50, "\(outcomes)")
    }

    func testRandomBytesNeverCrash() {
        var generator = SplitMix64(seed: 42)
        let decoder = EnvelopeDecoder()
        for _ in 0..<3_000 {
            let length = Int(generator.next() % 64)
            let bytes = (0..<length).map { _ in UInt8(truncatingIfNeeded: generator.next()) }
            XCTAssertThrowsError(try decoder.decode(bytes))
        }
    }
}
