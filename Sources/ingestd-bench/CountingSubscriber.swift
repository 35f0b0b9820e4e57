#if canImport(Glibc)
import Glibc
#endif
import IngestCore

/// The broker's ceiling for one subscriber: resumes a persistent MQTT 5 session, acknowledges every
/// QoS 1 message and does nothing else with it, until `count` messages have arrived. Prints
/// `{"messages":N,"seconds":S,"rate":R}`. Loopback only, like the rest of the bench.
///
/// `mosquitto_sub` is the limit the benchmark issue names, but on this VM it is bound by
/// libmosquitto's receive path (a few system calls per packet), not by the broker. This subscriber
/// frames whole 64 KiB reads with IngestCore's MQTT codec, as ingestd's own client does, so what
/// is left is the broker's cost and the socket's: ingestd's drain divided by this rate is the share
/// of what the broker can deliver that ingestd actually takes.
struct CountingSubscriber {
    let port: Int
    let count: Int
    let clientID: String
    let filter: String
    let receiveMaximum: Int

    init(options: Options) {
        port = options.int("port", 1883)
        count = options.int("count", 200_000)
        clientID = options.string("client-id", "ingestd-bench-sub")
        filter = options.string("topic", "tenant/+/device/+/+")
        receiveMaximum = min(65_535, max(1, options.int("receive-maximum", 1000)))
    }

    func run() {
        let start = monotonicNanos()
        let socket = connectLoopback(port: port)
        guard socket >= 0 else { fail("connect to 127.0.0.1:\(port): \(String(cString: strerror(errno)))") }
        let decoder = MQTTPacketDecoder(protocolVersion: .v5)
        var out: [UInt8] = []
        MQTTPacketEncoder.connect(MQTTConnectOptions(
            protocolVersion: .v5, clientID: clientID, cleanStart: false, keepAliveSeconds: 60,
            sessionExpirySeconds: 86_400, receiveMaximum: UInt16(receiveMaximum)), to: &out)
        send(socket, &out)

        var input = [UInt8](repeating: 0, count: 64 * 1024)
        var filled = 0
        var received = 0
        var subscribed = false
        while received < count {
            if filled == input.count { input.append(contentsOf: repeatElement(0, count: input.count)) }
            let got = input.withUnsafeMutableBytes { raw in
                recv(socket, raw.baseAddress! + filled, raw.count - filled, 0)
            }
            if got < 0 && errno == EINTR { continue }
            guard got > 0 else { fail("the broker closed the connection after \(received) of \(count) messages") }
            filled += got
            let consumed = input.withUnsafeBytes { raw -> Int in
                let buffer = UnsafeRawBufferPointer(rebasing: raw[..<filled])
                var offset = 0
                do throws(MQTTProtocolError) {
                    while let frame = try MQTTFrame.next(in: buffer, from: offset, maxPacketBytes: Int(Int32.max)) {
                        offset = frame.end
                        switch try decoder.decode(frame, in: buffer) {
                        case .publish(let publish):
                            received += 1
                            if publish.qos == 1 { MQTTPacketEncoder.pubAck(packetID: publish.packetID, to: &out) }
                        case .connAck(let connAck):
                            let code = connAck.reasonCode
                            guard code == 0 else { fail("CONNECT refused with reason code \(code)") }
                            if !subscribed {
                                subscribed = true
                                MQTTPacketEncoder.subscribe(packetID: 1, filter: filter, qos: 1, protocolVersion: .v5, to: &out)
                            }
                        default:
                            break
                        }
                    }
                } catch {
                    fail("protocol error: \(error)")
                }
                return offset
            }
            input.withUnsafeMutableBytes { raw in
                _ = memmove(raw.baseAddress!, raw.baseAddress! + consumed, filled - consumed)
            }
            filled -= consumed
            send(socket, &out)
        }
        let seconds = Double(monotonicNanos() - start) / 1e9
        MQTTPacketEncoder.disconnect(to: &out)
        send(socket, &out)
        close(socket)
        emit(#"{"messages":\#(received),"seconds":\#(seconds),"rate":\#(Int(Double(received) / seconds))}"#)
    }

    private func send(_ socket: Int32, _ out: inout [UInt8]) {
        guard sendAll(socket, out) else { fail("write: \(String(cString: strerror(errno)))") }
        out.removeAll(keepingCapacity: true)
    }
}
