#if canImport(Glibc)
import Glibc
#endif
import CMosquitto
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
    static let tlsHint = "check that MQTT_TLS_CA_FILE is the CA that signed the broker's certificate, MQTT_HOST matches the certificate's name and MQTT_PORT is the broker's TLS listener"

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

    /// Logs a refused CONNACK (`code` as the broker sent it) and returns its reason in libmosquitto's
    /// words, for the "mqtt disconnected" line that follows.
    func refused(code: Int32) -> String {
        let reason = configuration.protocolVersion == .v5
            ? String(cString: mosquitto_reason_string(code))
            : String(cString: mosquitto_connack_string(code))
        let credentials: Set<Int32> = configuration.protocolVersion == .v5
            ? [Int32(MQTT_RC_BAD_USERNAME_OR_PASSWORD.rawValue), Int32(MQTT_RC_NOT_AUTHORIZED.rawValue)]
            : [4, 5]  // MQTT 3.1.1 CONNACK: bad user name or password, not authorised
        var metadata: Logger.Metadata = [
            "host": "\(configuration.host)", "port": "\(configuration.port)",
            "client_id": "\(configuration.clientID)", "reason": "\(reason)", "code": "\(code)",
        ]
        if credentials.contains(code) {
            metadata["username"] = "\(configuration.username ?? "-")"
            metadata["hint"] = "check MQTT_USERNAME / MQTT_PASSWORD and the broker's ACL"
            logger.error("mqtt connection refused: bad credentials or not authorised", metadata: metadata)
        } else {
            logger.error("mqtt connection refused", metadata: metadata)
        }
        return reason
    }

    /// A SUBACK: one granted QoS (< 0x80) or failure reason per filter.
    func subscribed(filter: String, codes: [Int32]) {
        for code in codes {
            if code >= 0x80 {
                logger.error("mqtt subscription refused", metadata: [
                    "topic": "\(filter)", "reason": "\(String(cString: mosquitto_reason_string(code)))",
                ])
            } else {
                metrics.setSubscribed()
                logger.info("mqtt subscribed", metadata: ["topic": "\(filter)", "qos": "\(code)"])
            }
        }
    }

    /// Messages arrived: the silence clock starts again.
    func messagesArrived() {
        lastActivity = coarseMonotonicNanos()
        silenceWarned = false
    }

    /// Warns once per silence when connected and nothing arrived for `heartbeatTimeoutSeconds`.
    func checkHeartbeat() {
        guard sessionUp, !silenceWarned else { return }
        let silent = Double(coarseMonotonicNanos() &- lastActivity) / 1e9
        if silent >= configuration.heartbeatTimeoutSeconds {
            silenceWarned = true
            logger.warning("mqtt no messages", metadata: [
                "silent_s": "\(Int(silent))", "topics": "\(configuration.subscriptionFilters.joined(separator: ","))",
            ])
        }
    }

    /// True between an accepted CONNACK and the end of that connection.
    var isConnected: Bool { sessionUp }

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
