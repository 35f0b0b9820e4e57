/// libFuzzer target: the MQTT receive path of the native client, framing (`MQTTFrame.next`) and
/// decoding (`MQTTPacketDecoder`) whatever bytes a broker could send. Built by `scripts/fuzz.sh`
/// together with the IngestCore sources, so it calls them as the session does.
///
/// The first input byte picks the protocol version and a packet-size limit; the rest is the receive
/// buffer. Every frame is decoded from a copy holding exactly the bytes up to the frame's end, so
/// AddressSanitizer catches a read past the packet, not only past the input.
@_cdecl("LLVMFuzzerTestOneInput")
public func mqttPacketFuzzerTestOneInput(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard size >= 1 else { return 0 }
    let version: MQTTProtocolVersion = data[0] & 1 == 0 ? .v5 : .v311
    let maxPacketBytes = data[0] & 2 == 0 ? 268_435_460 : 1024
    let decoder = MQTTPacketDecoder(protocolVersion: version)
    let input = UnsafeRawBufferPointer(start: data + 1, count: size - 1)
    var start = 0
    while start < input.count {
        let frame: MQTTFrame?
        do { frame = try MQTTFrame.next(in: input, from: start, maxPacketBytes: maxPacketBytes) } catch { return 0 }
        guard let frame else { return 0 }
        precondition(frame.bodyStart > start && frame.end <= input.count && frame.end > start, "frame \(frame) outside the input")
        let exact = UnsafeMutableRawBufferPointer.allocate(byteCount: frame.end, alignment: 1)
        defer { exact.deallocate() }
        exact.copyMemory(from: UnsafeRawBufferPointer(rebasing: input[0..<frame.end]))
        if let packet = try? decoder.decode(frame, in: UnsafeRawBufferPointer(exact)) {
            check(packet, within: frame)
        }
        start = frame.end
    }
    return 0
}

/// What the session relies on: ranges inside the packet body, at least one SUBACK code.
private func check(_ packet: MQTTInboundPacket, within frame: MQTTFrame) {
    let body = frame.bodyStart..<frame.end
    switch packet {
    case .publish(let publish):
        precondition(publish.qos < 3, "QoS \(publish.qos)")
        precondition(publish.qos == 0 || publish.packetID != 0, "QoS \(publish.qos) with packet id 0")
        precondition(publish.topic.isEmpty || body.contains(publish.topic.lowerBound) && publish.topic.upperBound <= body.upperBound,
                     "topic \(publish.topic) outside body \(body)")
        precondition(publish.payload.upperBound == body.upperBound && publish.payload.lowerBound >= publish.topic.upperBound,
                     "payload \(publish.payload) not the rest of body \(body)")
    case .subAck(_, let codes):
        precondition(!codes.isEmpty, "SUBACK without reason codes")
    default:
        break
    }
}
