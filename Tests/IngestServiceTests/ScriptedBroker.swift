#if canImport(Glibc)
import Glibc
#endif
import Foundation
@testable import IngestCore

/// A broker that does what a test tells it, byte by byte, for what mosquitto will not do on demand
/// (a topic alias nobody allowed, a duplicate in one read with a new message, CONNACK capabilities,
/// Reason Strings, a 100 MB PUBLISH streamed without being held in memory). One loopback port, one
/// connection at a time, blocking sockets: drive it from a thread of its own (`onThread`), never
/// from the cooperative pool.
final class ScriptedBroker: @unchecked Sendable {
    // @unchecked: the listening socket is created in init and only read afterwards; each
    // `ScriptedConnection` is used by the one thread that accepted it.
    let port: Int
    private let listener: Int32

    struct Failure: Error, CustomStringConvertible { let description: String }

    init() throws {
        let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        self.listener = listener
        var on: Int32 = 1
        setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &on, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(listener, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0, listen(listener, 4) == 0 else { throw Failure(description: "bind/listen: \(String(cString: strerror(errno)))") }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(listener, $0, &length) }
        }
        port = Int(UInt16(bigEndian: address.sin_port))
    }

    deinit { close(listener) }

    /// The next client connection.
    func accept(timeout: Double = 30) throws -> ScriptedConnection {
        var entry = pollfd(fd: listener, events: Int16(POLLIN), revents: 0)
        guard poll(&entry, 1, Int32(timeout * 1000)) > 0 else { throw Failure(description: "no connection within \(timeout) s") }
        let descriptor = Glibc.accept(listener, nil, nil)
        guard descriptor >= 0 else { throw Failure(description: "accept: \(String(cString: strerror(errno)))") }
        return ScriptedConnection(descriptor: descriptor)
    }
}

/// One accepted client connection of `ScriptedBroker`.
final class ScriptedConnection {
    struct Packet: CustomStringConvertible {
        var header: UInt8
        var body: [UInt8]
        var type: UInt8 { header >> 4 }
        /// The packet identifier of an acknowledgement or SUBSCRIBE.
        var packetID: UInt16 { UInt16(body[0]) << 8 | UInt16(body[1]) }
        var description: String { "\(MQTTPacketType.name(of: type)) \(body.prefix(8).map { String($0, radix: 16) })" }
    }

    let descriptor: Int32
    private var buffer: [UInt8] = []

    init(descriptor: Int32) { self.descriptor = descriptor }
    deinit { close(descriptor) }

    /// The next packet from the client; nil when it closed the connection.
    func read(timeout: Double = 30) throws -> Packet? {
        let deadline = Date().addingTimeInterval(timeout)
        while true {
            if let frame = try buffer.withUnsafeBytes({ try MQTTFrame.next(in: $0, from: 0, maxPacketBytes: 1 << 20) }) {
                let packet = Packet(header: buffer[0], body: Array(buffer[frame.bodyStart..<frame.end]))
                buffer.removeFirst(frame.end)
                return packet
            }
            let left = deadline.timeIntervalSinceNow
            guard left > 0 else { throw ScriptedBroker.Failure(description: "no packet within \(timeout) s") }
            var entry = pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)
            guard poll(&entry, 1, Int32(min(left, 1) * 1000)) > 0 else { continue }
            var chunk = [UInt8](repeating: 0, count: 64 * 1024)
            let count = recv(descriptor, &chunk, chunk.count, 0)
            if count <= 0 { return nil }
            buffer += chunk[..<count]
        }
    }

    /// The next packet, which must be of `type`.
    @discardableResult
    func expect(_ type: UInt8, timeout: Double = 30) throws -> Packet {
        guard let packet = try read(timeout: timeout) else {
            throw ScriptedBroker.Failure(description: "connection closed, expected \(MQTTPacketType.name(of: type))")
        }
        guard packet.type == type else {
            throw ScriptedBroker.Failure(description: "got \(packet), expected \(MQTTPacketType.name(of: type))")
        }
        return packet
    }

    /// Packets until the client closes the connection.
    func readUntilClosed(timeout: Double = 30) throws -> [Packet] {
        var packets: [Packet] = []
        while let packet = try read(timeout: timeout) { packets.append(packet) }
        return packets
    }

    /// Drops the connection, as a broker restart or a network loss would.
    func hangUp() { shutdown(descriptor, Int32(SHUT_RDWR)) }

    func send(_ bytes: [UInt8]) throws {
        var sent = 0
        while sent < bytes.count {
            let count = bytes[sent...].withUnsafeBytes { Glibc.send(descriptor, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            guard count > 0 else { throw ScriptedBroker.Failure(description: "send: \(String(cString: strerror(errno)))") }
            sent += count
        }
    }

    /// CONNECT, then CONNACK (with `properties` for MQTT 5); returns the CONNECT.
    @discardableResult
    func handshake(v5: Bool = true, sessionPresent: Bool = false, properties: [UInt8] = []) throws -> Packet {
        let connect = try expect(MQTTPacketType.connect)
        try send(Self.packet(0x20, [sessionPresent ? 1 : 0, 0] + (v5 ? Self.properties(properties) : [])))
        return connect
    }

    /// Reads one SUBSCRIBE and grants it.
    func grantSubscription(v5: Bool = true, qos: UInt8 = 1) throws {
        let subscribe = try expect(MQTTPacketType.subscribe)
        try send(Self.packet(0x90, [subscribe.body[0], subscribe.body[1]] + (v5 ? [0] : []) + [qos]))
    }

    // MARK: - Packets a broker sends

    static func packet(_ header: UInt8, _ body: [UInt8]) -> [UInt8] {
        var out = [header]
        MQTTPacketEncoder.appendVariableInteger(body.count, to: &out)
        return out + body
    }

    static func properties(_ bytes: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        MQTTPacketEncoder.appendVariableInteger(bytes.count, to: &out)
        return out + bytes
    }

    static func string(_ text: String) -> [UInt8] {
        var out: [UInt8] = []
        MQTTPacketEncoder.appendString(text, to: &out)
        return out
    }

    static func reasonString(_ text: String) -> [UInt8] { [0x1F] + string(text) }

    static func publish(topic: String, payload: [UInt8], qos: UInt8, packetID: UInt16 = 0, duplicate: Bool = false,
                        v5: Bool = true, properties: [UInt8] = []) -> [UInt8] {
        let header = 0x30 | (duplicate ? 0x08 : 0) | qos << 1
        let id: [UInt8] = qos > 0 ? [UInt8(packetID >> 8), UInt8(packetID & 0xFF)] : []
        return packet(header, string(topic) + id + (v5 ? Self.properties(properties) : []) + payload)
    }

    static func pubRel(_ packetID: UInt16) -> [UInt8] { [0x62, 2, UInt8(packetID >> 8), UInt8(packetID & 0xFF)] }

    static func disconnect(code: UInt8, properties: [UInt8] = []) -> [UInt8] {
        packet(0xE0, [code] + Self.properties(properties))
    }
}

/// Runs blocking work (the scripted broker's side) on a thread of its own, so it never holds one of
/// the cooperative pool's few threads while the code under test needs them.
func onThread<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        Thread { continuation.resume(with: Result { try body() }) }.start()
    }
}
