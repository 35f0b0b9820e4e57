import XCTest
@testable import IngestCore

/// The native MQTT client's framing, decoding and encoding, byte by byte against the MQTT 3.1.1 and
/// MQTT 5 specifications.
final class MQTTCodecTests: XCTestCase {
    private let limit = 1 << 20

    private func frame(_ bytes: [UInt8], from start: Int = 0, limit: Int? = nil) throws -> MQTTFrame? {
        try bytes.withUnsafeBytes { raw in
            try MQTTFrame.next(in: raw, from: start, maxPacketBytes: limit ?? self.limit)
        }
    }

    private func decode(_ bytes: [UInt8], _ version: MQTTProtocolVersion = .v5) throws -> MQTTInboundPacket {
        try bytes.withUnsafeBytes { raw in
            guard let frame = try MQTTFrame.next(in: raw, from: 0, maxPacketBytes: limit) else {
                throw XCTSkip("incomplete test packet")
            }
            XCTAssertEqual(frame.end, bytes.count, "the test packet is exactly one packet")
            return try MQTTPacketDecoder(protocolVersion: version).decode(frame, in: raw)
        }
    }

    private func assertMalformed(_ bytes: [UInt8], _ version: MQTTProtocolVersion = .v5, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try decode(bytes, version), file: file, line: line) { error in
            guard case .malformedPacket = error as? MQTTProtocolError else {
                return XCTFail("expected a malformed packet, got \(error)", file: file, line: line)
            }
        }
    }

    /// A packet with `body` and its remaining length encoded.
    private func packet(_ header: UInt8, _ body: [UInt8]) -> [UInt8] {
        var out: [UInt8] = [header]
        MQTTPacketEncoder.appendVariableInteger(body.count, to: &out)
        return out + body
    }

    private func string(_ text: String) -> [UInt8] {
        let bytes = Array(text.utf8)
        return [UInt8(bytes.count >> 8), UInt8(bytes.count & 0xFF)] + bytes
    }

    // MARK: - Framing

    func testFramesNeedTheWholeHeaderAndBody() throws {
        XCTAssertNil(try frame([]))
        XCTAssertNil(try frame([0x30]), "type byte only")
        XCTAssertNil(try frame([0x30, 0x80]), "remaining length continues")
        XCTAssertNil(try frame([0x30, 0x03, 0x00, 0x01]), "body one byte short")
        XCTAssertEqual(try frame([0x30, 0x03, 0x00, 0x01, 0x41]), MQTTFrame(header: 0x30, bodyStart: 2, bodyLength: 3))
        XCTAssertEqual(try frame([0xD0, 0x00]), MQTTFrame(header: 0xD0, bodyStart: 2, bodyLength: 0))
    }

    func testFramesSeveralPacketsInOneBuffer() throws {
        let bytes: [UInt8] = [0xD0, 0x00, 0x40, 0x02, 0x00, 0x07, 0x30]
        let first = try XCTUnwrap(try frame(bytes))
        XCTAssertEqual(first.type, MQTTPacketType.pingResp)
        let second = try XCTUnwrap(try frame(bytes, from: first.end))
        XCTAssertEqual(second.type, MQTTPacketType.pubAck)
        XCTAssertEqual(second.end, 6)
        XCTAssertNil(try frame(bytes, from: second.end), "a lone type byte waits for more")
    }

    func testRemainingLengthAtEveryByteCountBoundary() throws {
        for length in [0, 1, 127, 128, 16_383, 16_384, 2_097_151, 2_097_152] {
            let body = [UInt8](repeating: 0x5A, count: length)
            let bytes = packet(0x30, body)
            let expectedHeader = length < 128 ? 2 : length < 16_384 ? 3 : length < 2_097_152 ? 4 : 5
            let found = try XCTUnwrap(try frame(bytes, limit: 1 << 28), "length \(length)")
            XCTAssertEqual(found.bodyStart, expectedHeader, "length \(length)")
            XCTAssertEqual(found.bodyLength, length)
            XCTAssertNil(try frame(Array(bytes.dropLast()), limit: 1 << 28), "length \(length) one byte short")
        }
        var largest: [UInt8] = []
        MQTTPacketEncoder.appendVariableInteger(268_435_455, to: &largest)
        XCTAssertEqual(largest, [0xFF, 0xFF, 0xFF, 0x7F])
    }

    func testAFifthRemainingLengthByteIsMalformed() {
        XCTAssertThrowsError(try frame([0x30, 0xFF, 0xFF, 0xFF, 0xFF, 0x01])) { error in
            XCTAssertEqual(error as? MQTTProtocolError, .malformedRemainingLength)
        }
    }

    func testAPacketOverTheLimitIsRefusedFromItsHeaderAlone() {
        // 200 bytes announced, only the header is there: the limit is known before the body arrives.
        XCTAssertThrowsError(try frame([0x30, 0xC8, 0x01], limit: 100)) { error in
            XCTAssertEqual(error as? MQTTProtocolError, .packetTooLarge(bytes: 203, limit: 100))
        }
        XCTAssertNotNil(try frame([0x30, 0x02, 0x00, 0x00], limit: 4), "exactly at the limit")
    }

    // MARK: - PUBLISH

    func testPublishQoS0HasNoPacketIdentifier() throws {
        let bytes = packet(0x30, string("a/b") + Array("hello".utf8))
        guard case .publish(let publish) = try decode(bytes, .v311) else { return XCTFail() }
        XCTAssertEqual(publish.qos, 0)
        XCTAssertEqual(publish.packetID, 0)
        XCTAssertEqual(Array(bytes[publish.topic]), Array("a/b".utf8))
        XCTAssertEqual(Array(bytes[publish.payload]), Array("hello".utf8))
        XCTAssertFalse(publish.duplicate)
        XCTAssertFalse(publish.retain)
    }

    func testPublishQoS1And2CarryTheirPacketIdentifierAndFlags() throws {
        let qos1 = packet(0x32 | 0x08 | 0x01, string("t") + [0x12, 0x34] + [0x00, 0xFF])
        guard case .publish(let first) = try decode(qos1, .v311) else { return XCTFail() }
        XCTAssertEqual(first.qos, 1)
        XCTAssertEqual(first.packetID, 0x1234)
        XCTAssertTrue(first.duplicate)
        XCTAssertTrue(first.retain)
        XCTAssertEqual(Array(qos1[first.payload]), [0x00, 0xFF], "binary payloads pass untouched")

        let qos2 = packet(0x34, string("t") + [0x00, 0x01])
        guard case .publish(let second) = try decode(qos2, .v311) else { return XCTFail() }
        XCTAssertEqual(second.qos, 2)
        XCTAssertEqual(second.packetID, 1)
        XCTAssertTrue(second.payload.isEmpty, "an empty payload")
    }

    func testMQTT5PublishSkipsItsProperties() throws {
        // Message expiry (0x02, 4 bytes) and a user property (0x26, two strings).
        let properties: [UInt8] = [0x02, 0, 0, 0, 60] + [0x26] + string("k") + string("v")
        let bytes = packet(0x32, string("tenant/t1/device/d1/telemetry") + [0x00, 0x09] + [UInt8(properties.count)] + properties + Array("{}".utf8))
        guard case .publish(let publish) = try decode(bytes, .v5) else { return XCTFail() }
        XCTAssertEqual(publish.packetID, 9)
        XCTAssertEqual(Array(bytes[publish.topic]), Array("tenant/t1/device/d1/telemetry".utf8))
        XCTAssertEqual(Array(bytes[publish.payload]), Array("{}".utf8))
        // The same bytes read as MQTT 3.1.1 leave the properties in the payload: the version matters.
        guard case .publish(let asV3) = try decode(bytes, .v311) else { return XCTFail() }
        XCTAssertEqual(asV3.payload.count, 1 + properties.count + 2)
    }

    func testMalformedPublishes() {
        assertMalformed(packet(0x36, string("t") + [0x00, 0x01]), .v311)  // QoS 3
        assertMalformed(packet(0x32, string("t") + [0x00, 0x00]), .v311)  // packet identifier 0
        assertMalformed(packet(0x32, string("t") + [0x00]), .v311)  // identifier cut short
        assertMalformed(packet(0x30, [0x00, 0x05, 0x61]), .v311)  // topic runs past the end
        assertMalformed(packet(0x30, [0x00]), .v311)  // topic length cut short
        assertMalformed(packet(0x32, string("t") + [0x00, 0x01, 0x05, 0x02]), .v5)  // properties run past the end
        assertMalformed(packet(0x30, string("t") + [0x80, 0x80, 0x80, 0x80, 0x01]), .v5)  // property length of five bytes
    }

    // MARK: - Other packets from the broker

    func testConnAck() throws {
        XCTAssertEqual(try decode([0x20, 0x02, 0x01, 0x00], .v311), .connAck(MQTTConnAck(sessionPresent: true, reasonCode: 0)))
        XCTAssertEqual(try decode([0x20, 0x02, 0x00, 0x05], .v311), .connAck(MQTTConnAck(sessionPresent: false, reasonCode: 5)))
        XCTAssertEqual(try decode([0x20, 0x03, 0x00, 0x86, 0x00], .v5), .connAck(MQTTConnAck(sessionPresent: false, reasonCode: 0x86)))
        // Receive maximum and assigned client identifier are skipped; keep alive and reason string read.
        let properties: [UInt8] = [0x21, 0x00, 0x14] + [0x12] + string("auto-1") + [0x13, 0x00, 0x1E] + [0x1F] + string("ok")
        let bytes = packet(0x20, [0x00, 0x00, UInt8(properties.count)] + properties)
        XCTAssertEqual(try decode(bytes, .v5), .connAck(MQTTConnAck(sessionPresent: false, reasonCode: 0, serverKeepAlive: 30, reasonString: "ok")))
    }

    /// What the broker announces about itself (MQTT 5 §3.2.2.3): absent means available.
    func testConnAckCapabilities() throws {
        let properties: [UInt8] = [0x24, 0x01, 0x25, 0x00, 0x28, 0x00, 0x2A, 0x00, 0x27, 0x00, 0x01, 0x00, 0x00, 0x22, 0x00, 0x0A]
        let bytes = packet(0x20, [0x01, 0x00, UInt8(properties.count)] + properties)
        XCTAssertEqual(try decode(bytes, .v5), .connAck(MQTTConnAck(
            sessionPresent: true, reasonCode: 0, maximumQoS: 1, retainAvailable: false,
            wildcardSubscriptionAvailable: false, sharedSubscriptionAvailable: false)))
        let reason: [UInt8] = [0x1F] + string("ACL says no")
        let refused = packet(0x20, [0x00, 0x87, UInt8(reason.count)] + reason)
        XCTAssertEqual(try decode(refused, .v5), .connAck(MQTTConnAck(sessionPresent: false, reasonCode: 0x87, reasonString: "ACL says no")))
    }

    func testPublishTopicAliasIsRead() throws {
        let bytes = packet(0x32, string("t") + [0x00, 0x05] + [5, 0x01, 0x01, 0x23, 0x00, 0x07] + Array("x".utf8))
        guard case .publish(let publish) = try decode(bytes, .v5) else { return XCTFail("not a PUBLISH") }
        XCTAssertEqual(publish.topicAlias, 7)
        XCTAssertEqual(publish.packetID, 5)
        XCTAssertEqual(publish.payload.count, 1)
        guard case .publish(let plain) = try decode(packet(0x30, string("t") + [0] + Array("x".utf8)), .v5) else { return XCTFail() }
        XCTAssertEqual(plain.topicAlias, 0)
    }

    /// The header alone says how large a packet is, before its body arrives.
    func testHeaderOfAnIncompletePacket() throws {
        let bytes: [UInt8] = [0x30, 0x80, 0x80, 0x80, 0x01, 0x00]  // 2 MiB announced, one body byte here
        let header = try bytes.withUnsafeBytes { try MQTTFrame.header(in: $0, from: 0) }
        XCTAssertEqual(header, MQTTFrame(header: 0x30, bodyStart: 5, bodyLength: 2_097_152))
        XCTAssertEqual(bytes.withUnsafeBytes { header!.isComplete(in: $0) }, false)
        XCTAssertEqual(header?.packetBytes(from: 0), 2_097_157)
        XCTAssertNil(try [UInt8]([0x30, 0x80]).withUnsafeBytes { try MQTTFrame.header(in: $0, from: 0) })
    }

    func testMalformedConnAcks() {
        assertMalformed([0x20, 0x01, 0x00], .v311)
        assertMalformed(packet(0x20, [0x00, 0x00, 0x02, 0x7F, 0x00]), .v5)  // unknown property
        assertMalformed(packet(0x20, [0x00, 0x00, 0x02, 0x13, 0x00]), .v5)  // keep alive cut short
        assertMalformed(packet(0x20, [0x00, 0x00, 0x01, 0x12]), .v5)  // string property cut short
    }

    func testSubAckPubRelPingRespAndDisconnect() throws {
        XCTAssertEqual(try decode([0x90, 0x03, 0x00, 0x07, 0x01], .v311), .subAck(packetID: 7, reasonCodes: [1]))
        XCTAssertEqual(try decode([0x90, 0x04, 0x00, 0x07, 0x00, 0x87], .v5), .subAck(packetID: 7, reasonCodes: [0x87]))
        XCTAssertEqual(try decode([0x90, 0x05, 0x00, 0x07, 0x00, 0x00, 0x02], .v5), .subAck(packetID: 7, reasonCodes: [0, 2]))
        assertMalformed([0x90, 0x02, 0x00, 0x07], .v311)  // no reason code
        XCTAssertEqual(try decode([0x62, 0x02, 0xAB, 0xCD], .v311), .pubRel(packetID: 0xABCD))
        XCTAssertEqual(try decode([0x62, 0x04, 0x00, 0x01, 0x00, 0x00], .v5), .pubRel(packetID: 1), "MQTT 5 reason and properties after the id")
        XCTAssertEqual(try decode([0xD0, 0x00]), .pingResp)
        XCTAssertEqual(try decode([0xE0, 0x00], .v5), .disconnect(reasonCode: 0, reasonString: nil))
        XCTAssertEqual(try decode([0xE0, 0x01, 0x8E], .v5), .disconnect(reasonCode: 0x8E, reasonString: nil))
        XCTAssertEqual(try decode(packet(0xE0, [0x8B, 0x08, 0x1F] + string("maint")), .v5),
                       .disconnect(reasonCode: 0x8B, reasonString: "maint"))
        for ignored: UInt8 in [0x40, 0x50, 0x70, 0xB0] {
            XCTAssertEqual(try decode([ignored, 0x02, 0x00, 0x01]), .ignored(type: ignored >> 4))
        }
    }

    // MARK: - Encoding

    func testConnectMQTT311() {
        var out: [UInt8] = []
        MQTTPacketEncoder.connect(MQTTConnectOptions(protocolVersion: .v311, clientID: "c1", cleanStart: false,
                                                     keepAliveSeconds: 60, username: "u", password: "p"), to: &out)
        let body: [UInt8] = string("MQTT") + [4, 0xC0, 0x00, 60] + string("c1") + string("u") + string("p")
        XCTAssertEqual(out, packet(0x10, body))
    }

    func testConnectMQTT5WithSessionExpiryAndCleanStart() {
        var out: [UInt8] = []
        MQTTPacketEncoder.connect(MQTTConnectOptions(protocolVersion: .v5, clientID: "ingestd", cleanStart: false,
                                                     keepAliveSeconds: 300, sessionExpirySeconds: UInt32.max), to: &out)
        XCTAssertEqual(out, packet(0x10, string("MQTT") + [5, 0x00, 0x01, 0x2C] + [5, 0x11, 0xFF, 0xFF, 0xFF, 0xFF] + string("ingestd")))
        out = []
        MQTTPacketEncoder.connect(MQTTConnectOptions(protocolVersion: .v5, clientID: "", cleanStart: true,
                                                     keepAliveSeconds: 5, username: "only-user"), to: &out)
        XCTAssertEqual(out, packet(0x10, string("MQTT") + [5, 0x82, 0x00, 5] + [0] + string("") + string("only-user")))
        out = []
        MQTTPacketEncoder.connect(MQTTConnectOptions(protocolVersion: .v5, clientID: "c", cleanStart: false, keepAliveSeconds: 60,
                                                     sessionExpirySeconds: 3600, receiveMaximum: 1000), to: &out)
        XCTAssertEqual(out, packet(0x10, string("MQTT") + [5, 0x00, 0x00, 60] + [8, 0x11, 0, 0, 0x0E, 0x10, 0x21, 0x03, 0xE8] + string("c")))
        out = []
        MQTTPacketEncoder.connect(MQTTConnectOptions(protocolVersion: .v5, clientID: "c", cleanStart: false, keepAliveSeconds: 60,
                                                     maximumPacketSize: 78_000), to: &out)
        XCTAssertEqual(out, packet(0x10, string("MQTT") + [5, 0x00, 0x00, 60] + [5, 0x27, 0x00, 0x01, 0x30, 0xB0] + string("c")))
        out = []
        // MQTT 3.1.1 has no properties: a receive maximum is not written.
        MQTTPacketEncoder.connect(MQTTConnectOptions(protocolVersion: .v311, clientID: "c", cleanStart: true, keepAliveSeconds: 60,
                                                     receiveMaximum: 1000), to: &out)
        XCTAssertEqual(out, packet(0x10, string("MQTT") + [4, 0x02, 0x00, 60] + string("c")))
    }

    func testSubscribeAcknowledgementsPingAndDisconnect() {
        var out: [UInt8] = []
        MQTTPacketEncoder.subscribe(packetID: 2, filter: "$share/g/tenant/+/device/+/+", qos: 1, protocolVersion: .v311, to: &out)
        XCTAssertEqual(out, packet(0x82, [0x00, 0x02] + string("$share/g/tenant/+/device/+/+") + [1]))
        out = []
        MQTTPacketEncoder.subscribe(packetID: 0x0102, filter: "a/#", qos: 2, protocolVersion: .v5, to: &out)
        XCTAssertEqual(out, packet(0x82, [0x01, 0x02, 0x00] + string("a/#") + [2]))
        out = []
        MQTTPacketEncoder.pubAck(packetID: 0xFFFF, to: &out)
        MQTTPacketEncoder.pubRec(packetID: 1, to: &out)
        MQTTPacketEncoder.pubComp(packetID: 2, to: &out)
        MQTTPacketEncoder.pingReq(to: &out)
        MQTTPacketEncoder.disconnect(to: &out)
        MQTTPacketEncoder.disconnect(reasonCode: 0x94, to: &out)
        XCTAssertEqual(out, [0x40, 2, 0xFF, 0xFF, 0x50, 2, 0, 1, 0x70, 2, 0, 2, 0xC0, 0, 0xE0, 0, 0xE0, 1, 0x94])
    }

    func testEncodedPacketsFrameBackToThemselves() throws {
        var out: [UInt8] = []
        let long = String(repeating: "x", count: 300)
        MQTTPacketEncoder.connect(MQTTConnectOptions(protocolVersion: .v5, clientID: long, cleanStart: false,
                                                     keepAliveSeconds: 60, password: nil), to: &out)
        MQTTPacketEncoder.subscribe(packetID: 1, filter: long, qos: 1, protocolVersion: .v5, to: &out)
        MQTTPacketEncoder.pubAck(packetID: 3, to: &out)
        var offset = 0
        var types: [UInt8] = []
        while let found = try frame(out, from: offset) {
            types.append(found.type)
            offset = found.end
        }
        XCTAssertEqual(types, [MQTTPacketType.connect, MQTTPacketType.subscribe, MQTTPacketType.pubAck])
        XCTAssertEqual(offset, out.count)
    }
}
