#if canImport(Glibc)
import Glibc
#endif
import IngestCore
import Logging

/// What both MQTT clients do when their connection changes: the log lines (same text and keys
/// whichever client runs), the metrics, the reconnect backoff and the silence warning. Each session
/// owns one and calls it from its loop thread only; nothing here is shared between threads, so it
/// needs no lock (the session that owns it documents why it may cross into that thread).
final class MQTTSessionEvents {
    let configuration: MQTTConfiguration
    let metrics: MQTTMetrics
    let logger: Logger
    private var backoff: ReconnectBackoff
    private var connections = 0
    private var sessionUp = false
    private var lastActivity: UInt64 = 0
    private var silenceWarned = false

    /// What to check when a TLS connection fails.
    static let tlsHint = "check that MQTT_TLS_CA_FILE (or, without it, the system's trust store) holds the CA that signed the broker's certificate, MQTT_HOST matches the certificate's name and MQTT_PORT is the broker's TLS listener"

    init(configuration: MQTTConfiguration, metrics: MQTTMetrics, logger: Logger) {
        self.configuration = configuration
        self.metrics = metrics
        self.logger = logger
        self.backoff = ReconnectBackoff(minimum: configuration.reconnectDelayMin, maximum: configuration.reconnectDelayMax)
    }

    /// Logs a failed connection attempt; returns how long to wait before the next one.
    func connectFailed(error: String, attempt: Int, detail: Logger.Metadata = [:]) -> Duration {
        let delay = backoff.nextDelay()
        var metadata: Logger.Metadata = [
            "host": "\(configuration.host)", "port": "\(configuration.port)", "error": "\(error)",
            "attempt": "\(attempt)", "retry_in_s": "\(formatSeconds(delay))",
        ]
        metadata.merge(detail) { _, new in new }
        logger.warning("mqtt connect failed", metadata: metadata)
        return delay
    }

    /// Logs a lost connection; returns how long to wait before reconnecting.
    func disconnected(reason: String, detail: Logger.Metadata = [:]) -> Duration {
        markDown()
        let delay = backoff.nextDelay()
        var metadata: Logger.Metadata = [
            "host": "\(configuration.host)", "port": "\(configuration.port)",
            "reason": "\(reason)", "retry_in_s": "\(formatSeconds(delay))",
        ]
        metadata.merge(detail) { _, new in new }
        logger.warning("mqtt disconnected", metadata: metadata)
        return delay
    }

    /// The broker accepted the connection (CONNACK 0).
    func connected(sessionPresent: Bool) {
        connections += 1
        if connections > 1 { metrics.recordReconnect() }
        sessionUp = true
        backoff.reset()
        messagesArrived()
        metrics.setConnected(true)
        logger.info("mqtt connected", metadata: [
            "host": "\(configuration.host)", "port": "\(configuration.port)",
            "client_id": "\(configuration.clientID)", "session_present": "\(sessionPresent)",
            "protocol": "\(configuration.protocolVersion.rawValue)", "clean_session": "\(configuration.cleanSession)",
        ])
        if !configuration.cleanSession && !sessionPresent && connections > 1 {
            logger.warning("mqtt session lost at broker: messages published while disconnected may be missing", metadata: [
                "client_id": "\(configuration.clientID)",
            ])
        }
    }

    /// Logs a refused CONNACK (`code` as the broker sent it, with its Reason String if any) and
    /// returns the code's text, for the "mqtt disconnected" line that follows.
    func refused(code: UInt8, reasonString: String? = nil) -> String {
        let version = configuration.protocolVersion
        let reason = MQTTReasonCode.connAckText(code, protocolVersion: version)
        var metadata: Logger.Metadata = [
            "host": "\(configuration.host)", "port": "\(configuration.port)",
            "client_id": "\(configuration.clientID)", "reason": "\(reason)", "code": "\(code)",
        ]
        if let reasonString { metadata["reason_string"] = "\(reasonString)" }
        if MQTTReasonCode.isCredentialProblem(code, protocolVersion: version) {
            metadata["username"] = "\(configuration.username ?? "-")"
            metadata["hint"] = "check MQTT_USERNAME / MQTT_PASSWORD and the broker's ACL"
            logger.error("mqtt connection refused: bad credentials or not authorised", metadata: metadata)
        } else {
            logger.error("mqtt connection refused", metadata: metadata)
        }
        return reason
    }

    /// What the broker's CONNACK says stands in the way of the configured subscription: one clear
    /// line each (README "MQTT clients").
    func brokerLimited(_ limitation: MQTTBrokerLimitation) {
        switch limitation {
        case .sharedSubscriptionsUnavailable(let filters):
            logger.error("mqtt broker has no shared subscriptions: not subscribed", metadata: [
                "topics": "\(filters.joined(separator: ","))",
                "hint": "unset MQTT_SHARED_GROUP (one instance), or use a broker with MQTT 5 shared subscriptions",
            ])
        case .sharedSubscriptionsUnknown:
            logger.warning("mqtt shared subscription over MQTT 3.1.1: the broker may not support it", metadata: [
                "topics": "\(configuration.subscriptionFilters.joined(separator: ","))",
                "note": "a broker without shared subscriptions takes $share/... as a plain filter and delivers nothing",
                "hint": "use MQTT_PROTOCOL=5, or check the broker supports $share with MQTT 3.1.1 (mosquitto, EMQX, HiveMQ do)",
            ])
        case .wildcardSubscriptionsUnavailable(let filters):
            logger.error("mqtt broker has no wildcard subscriptions: not subscribed", metadata: [
                "topics": "\(filters.joined(separator: ","))", "hint": "subscribe without + and # in MQTT_TOPIC",
            ])
        case .maximumQoS(let maximum):
            logger.warning("mqtt broker supports a lower QoS than MQTT_QOS", metadata: [
                "maximum_qos": "\(maximum)", "qos": "\(configuration.qos)",
                "note": "messages arrive with the broker's maximum QoS; QoS 0 loses messages across restarts",
            ])
        }
    }

    /// A SUBACK for one filter: granted (info), downgraded (warning), refused (error).
    func subscribed(filter: String, result: MQTTSubscriptionResult) {
        switch result {
        case .granted(let qos):
            metrics.setSubscribed()
            logger.info("mqtt subscribed", metadata: ["topic": "\(filter)", "qos": "\(qos)"])
        case .downgraded(let granted, let requested):
            metrics.setSubscribed()
            logger.warning("mqtt subscription granted with a lower QoS", metadata: [
                "topic": "\(filter)", "qos": "\(granted)", "requested_qos": "\(requested)",
                "note": granted == 0 ? "QoS 0: the broker keeps nothing for ingestd while it is away" : "QoS 1: a message may arrive twice",
            ])
        case .refused(let code, let reason):
            logger.error("mqtt subscription refused", metadata: ["topic": "\(filter)", "reason": "\(reason)", "code": "\(code)"])
        }
    }

    /// The SUBACK codes libmosquitto reports (one per filter) as results.
    func subscribed(filter: String, codes: [Int32]) {
        for code in codes {
            let byte = UInt8(clamping: code)
            let result: MQTTSubscriptionResult = byte >= 0x80
                ? .refused(code: byte, reason: MQTTReasonCode.subAckText(byte, protocolVersion: configuration.protocolVersion))
                : byte < configuration.qos ? .downgraded(granted: byte, requested: UInt8(configuration.qos)) : .granted(qos: byte)
            subscribed(filter: filter, result: result)
        }
    }

    /// The broker broke the protocol (ingestd disconnects): an error line of its own.
    func protocolViolation(_ detail: String, code: UInt8) {
        logger.error("mqtt protocol error by the broker", metadata: [
            "host": "\(configuration.host)", "port": "\(configuration.port)", "error": "\(detail)",
            "disconnect_reason": "\(MQTTReasonCode.text(code))",
            "note": "the offending message is not acknowledged: the broker keeps it",
        ])
    }

    /// Messages arrived: the silence clock starts again.
    func messagesArrived() {
        lastActivity = loopActivityClock.now()
        silenceWarned = false
    }

    /// Warns once per silence when connected and nothing arrived for `heartbeatTimeoutSeconds`.
    /// HEARTBEAT_TIMEOUT_SECONDS=0 turns it off.
    func checkHeartbeat() {
        guard sessionUp, !silenceWarned, configuration.heartbeatTimeoutSeconds > 0 else { return }
        let silent = Double(loopActivityClock.now() &- lastActivity) / 1e9
        if silent >= configuration.heartbeatTimeoutSeconds {
            silenceWarned = true
            logger.warning("mqtt no messages", metadata: [
                "silent_s": "\(Int(silent))", "topics": "\(configuration.subscriptionFilters.joined(separator: ","))",
            ])
        }
    }

    func markDown() {
        sessionUp = false
        metrics.setConnected(false)
    }

    /// Sleeps `delay` in slices of 100 ms, returning early once `stopRequested` is true.
    static func sleep(_ delay: Duration, unless stopRequested: () -> Bool) {
        let clock = SystemMonotonicClock()
        let deadline = clock.now() + UInt64(max(0, delay.seconds) * 1e9)
        while !stopRequested() {
            let now = clock.now()
            if now >= deadline { return }
            var request = timespec(tv_sec: 0, tv_nsec: Int(min(deadline - now, 100_000_000)))
            _ = nanosleep(&request, nil)
        }
    }
}
