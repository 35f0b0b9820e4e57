import IngestCore
import Foundation

/// Everything the MQTT intake needs to know. Parsing environment variables and computing defaults
/// that need the host (client id `ingestd-<hostname>`) is the wiring's job; this is plain data.
public struct MQTTConfiguration: Sendable, Equatable {
    public var host: String
    public var port: Int
    /// Subscription filters (`MQTT_TOPIC`, comma-separated in the environment).
    public var topics: [String]
    /// Subscription QoS. 1 by default: the broker keeps unacknowledged messages for us.
    public var qos: Int
    public var clientID: String
    /// False (default): a persistent session, so the broker queues QoS 1 messages while ingestd is down.
    public var cleanSession: Bool
    public var protocolVersion: MQTTProtocolVersion
    /// Session Expiry Interval sent on an MQTT 5 CONNECT when `cleanSession` is false.
    /// `UInt32.max` means the session never expires.
    public var sessionExpirySeconds: UInt32
    public var username: String?
    /// Never logged.
    public var password: String?
    public var keepAliveSeconds: Int
    /// MQTT 5 Receive Maximum: QoS 1/2 messages the broker may send before we acknowledge. A window of
    /// 20 (libmosquitto's default, and mosquitto's own limit when the client names none) makes the
    /// broker wait for acknowledgements after every 20 messages; a wider one lets it stream a backlog.
    public var receiveMaximum: Int
    /// When set, every topic is subscribed as `$share/<group>/<topic>` so several ingestd instances
    /// share the load.
    public var sharedGroup: String?
    /// Warn (once per silence) when connected and no message arrived for this long.
    public var heartbeatTimeoutSeconds: Double
    /// Reconnect backoff: starts at `reconnectDelayMin`, doubles up to `reconnectDelayMax`, with jitter.
    public var reconnectDelayMin: Duration
    public var reconnectDelayMax: Duration
    public var tls: MQTTTLSConfiguration?
    /// The client implementation (`MQTT_CLIENT`).
    public var client: MQTTClientKind
    /// `MAX_PAYLOAD_BYTES`: larger messages are rejected, so the native client need not keep them
    /// (`receivePacketLimit`).
    public var maxPayloadBytes: Int

    public init(
        host: String = "localhost",
        port: Int = 1883,
        topics: [String] = ["tenant/+/device/+/+"],
        qos: Int = 1,
        clientID: String,
        cleanSession: Bool = false,
        protocolVersion: MQTTProtocolVersion = .v5,
        sessionExpirySeconds: UInt32 = UInt32.max,
        username: String? = nil,
        password: String? = nil,
        keepAliveSeconds: Int = 60,
        receiveMaximum: Int = 1000,
        sharedGroup: String? = nil,
        heartbeatTimeoutSeconds: Double = 300,
        reconnectDelayMin: Duration = .seconds(1),
        reconnectDelayMax: Duration = .seconds(60),
        tls: MQTTTLSConfiguration? = nil,
        client: MQTTClientKind = .native,
        maxPayloadBytes: Int = 8192
    ) {
        self.host = host
        self.port = port
        self.topics = topics
        self.qos = qos
        self.clientID = clientID
        self.cleanSession = cleanSession
        self.protocolVersion = protocolVersion
        self.sessionExpirySeconds = sessionExpirySeconds
        self.username = username
        self.password = password
        self.keepAliveSeconds = keepAliveSeconds
        self.receiveMaximum = receiveMaximum
        self.sharedGroup = sharedGroup
        self.heartbeatTimeoutSeconds = heartbeatTimeoutSeconds
        self.reconnectDelayMin = reconnectDelayMin
        self.reconnectDelayMax = reconnectDelayMax
        self.tls = tls
        self.client = client
        self.maxPayloadBytes = maxPayloadBytes
    }

    /// Room in a PUBLISH besides its payload: the longest topic MQTT allows (2 + 65,535 bytes), the
    /// packet identifier and a few KiB of properties.
    public static let packetOverheadBytes = 65_537 + 2 + 4_096 + 5

    /// The largest packet the native client reads whole, and announces as MQTT 5 Maximum Packet Size:
    /// `MAX_PAYLOAD_BYTES` plus `packetOverheadBytes`. A larger PUBLISH would be rejected anyway; the
    /// broker drops it (MQTT 5) or the client reads past its body (README "MQTT clients").
    public var receivePacketLimit: Int { maxPayloadBytes + Self.packetOverheadBytes }

    /// Splits a comma-separated `MQTT_TOPIC` value, trimming blanks and dropping empty entries.
    public static func topics(fromCommaSeparated value: String) -> [String] {
        value.split(separator: ",")
            .map { $0.trimmingCharacters(in: .whitespaces) }
            .filter { !$0.isEmpty }
    }

    /// The filters actually subscribed: with a shared group, `$share/<group>/<topic>`.
    public var subscriptionFilters: [String] {
        guard let group = sharedGroup, !group.isEmpty else { return topics }
        return topics.map { "$share/\(group)/\($0)" }
    }

    /// Problems that make the configuration unusable, as readable sentences (empty when fine).
    public func problems() -> [String] {
        var result: [String] = []
        if host.isEmpty { result.append("host is empty") }
        if !(1...65535).contains(port) { result.append("port \(port) is not in 1...65535") }
        if topics.isEmpty { result.append("no topics to subscribe") }
        if !(0...2).contains(qos) { result.append("qos \(qos) is not 0, 1 or 2") }
        if clientID.isEmpty && !cleanSession { result.append("a persistent session needs a client id") }
        if keepAliveSeconds < 5 { result.append("keep-alive \(keepAliveSeconds) s is below libmosquitto's minimum of 5 s") }
        if !(1...65535).contains(receiveMaximum) { result.append("receive maximum \(receiveMaximum) is not in 1...65535") }
        if password != nil && username == nil { result.append("a password needs a username") }
        if reconnectDelayMin <= .zero || reconnectDelayMax < reconnectDelayMin {
            result.append("reconnect delays must satisfy 0 < min <= max")
        }
        for filter in topics where filter.utf8.count > 65_535 {
            result.append("topic filter of \(filter.utf8.count) bytes is longer than MQTT's 65535")
        }
        if let group = sharedGroup, group.contains(where: { "/+#".contains($0) }) {
            result.append("shared group \(group) must not contain '/', '+' or '#'")
        }
        return result
    }
}
