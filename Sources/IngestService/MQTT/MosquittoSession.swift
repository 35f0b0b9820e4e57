#if canImport(Glibc)
import Glibc
#endif
import CMosquitto
import COpenSSL
import IngestCore
import Logging
import Synchronization

/// One libmosquitto client handle and the network loop that drives it on a thread of its own
/// (`MQTT_CLIENT=libmosquitto`; the default is `NativeMQTTSession`).
///
/// ## Threading
/// `runLoop()` runs on a dedicated thread (see `MQTTSource`). Every libmosquitto call on the handle
/// and every callback happens on that thread, so the handle is used single-threaded, as
/// libmosquitto expects without `mosquitto_threaded_set`. The mutable `loop…` state below is
/// confined to that thread too; `init` runs before the thread starts and `close()` after it has
/// finished (the thread's end is published through `CompletionSignal`'s mutex), which is why the
/// class can be `@unchecked Sendable`. What other threads touch is Sendable on its own: the stop
/// flag (`Atomic`), `IntakeQueue`, `MQTTMetrics` and the `Logger`.
///
/// ## Why our own loop instead of `mosquitto_loop_start` / `mosquitto_loop_forever`
/// - Backoff with jitter: `mosquitto_reconnect_delay_set` has none.
/// - MQTT 5 session expiry: `mosquitto_reconnect` sends CONNECT *without* the properties given to
///   `mosquitto_connect_bind_v5`, so a reconnect would silently turn our persistent session into one
///   that ends at the next disconnect. We call `mosquitto_connect_bind_v5` with the properties on
///   every attempt.
/// - Stop, heartbeat and logging checks run between `mosquitto_loop` calls, on the same thread, with
///   no locking against libmosquitto internals.
final class MosquittoSession: MQTTClientLoop, @unchecked Sendable {
    let configuration: MQTTConfiguration
    let intake: IntakeQueue
    let metrics: MQTTMetrics
    let logger: Logger

    /// Longest time `mosquitto_loop` waits for network activity: bounds how quickly a stop request
    /// and the heartbeat check are noticed.
    private static let pollMilliseconds: Int32 = 100

    private let stopFlag = Atomic<Bool>(false)

    // Loop-thread confined (see the type's documentation).
    private var handle: OpaquePointer?
    private var connectProperties: OpaquePointer?
    private let events: MQTTSessionEvents
    private var loopPendingSubscriptions: [Int32: String] = [:]
    private var loopDisconnectReason: Int32 = 0
    /// The Reason String of the broker's DISCONNECT (MQTT 5), logged with "mqtt disconnected".
    private var loopDisconnectReasonString: String?
    /// The broker's CONNACK refusal text, if the last attempt was refused.
    private var loopRefusal: String?
    /// The last error libmosquitto logged (its only way to say *why* TLS failed, e.g. OpenSSL's
    /// "certificate verify failed"); cleared before each connection attempt.
    private var loopLibraryError: String?
    /// Messages of the current read burst, handed to the intake in one `put(contentsOf:)` at its end;
    /// `nil` outside a burst (`onMessage` then puts each message on its own).
    private var loopBurst: [InboundMessage]?
    /// How many messages `loopBurst` may hold: the intake's free room when last looked at. The batch
    /// never holds more than would have fitted, so, as with one `put` per message, at most one
    /// acknowledged message waits outside a full intake (on a blocked `put`).
    private var loopBurstRoom = 0

    init(configuration: MQTTConfiguration, intake: IntakeQueue, metrics: MQTTMetrics, logger: Logger) throws {
        self.configuration = configuration
        self.intake = intake
        self.metrics = metrics
        self.logger = logger
        self.events = MQTTSessionEvents(configuration: configuration, metrics: metrics, logger: logger)

        MosquittoLibrary.ensureInitialised()
        guard let handle = mosquitto_new(configuration.clientID, configuration.cleanSession, nil) else {
            throw MQTTSourceError.setupFailed("mosquitto_new: \(String(cString: strerror(Glibc.errno)))")
        }
        self.handle = handle
        mosquitto_user_data_set(handle, Unmanaged.passUnretained(self).toOpaque())

        let version = configuration.protocolVersion == .v5 ? MQTT_PROTOCOL_V5 : MQTT_PROTOCOL_V311
        try check(mosquitto_int_option(handle, MOSQ_OPT_PROTOCOL_VERSION, version), "set protocol version")
        if configuration.protocolVersion == .v5 {
            try check(mosquitto_int_option(handle, MOSQ_OPT_RECEIVE_MAXIMUM, Int32(configuration.receiveMaximum)),
                      "set receive maximum")
        }

        if let username = configuration.username {
            try check(mosquitto_username_pw_set(handle, username, configuration.password), "set username and password")
        }
        if let tls = configuration.tls {
            if tls.caFile == nil {
                // No CA file: the system's trust store (libmosquitto >= 2.0; the option alone turns TLS
                // on), for brokers with public certificates. libmosquitto sends SNI itself.
                try check(mosquitto_int_option(handle, MOSQ_OPT_TLS_USE_OS_CERTS, 1), "use the system's trusted CAs")
            }
            if tls.caFile != nil || tls.certFile != nil {
                // libmosquitto 2.0.11 refuses a client certificate without a CA file or directory: with
                // the system's store, name OpenSSL's default directory (the store's hashed links).
                let caDirectory = tls.caFile == nil ? String(cString: X509_get_default_cert_dir()) : nil
                try check(mosquitto_tls_set(handle, tls.caFile, caDirectory, tls.certFile, tls.keyFile, nil),
                          "set TLS files (ca=\(tls.caFile ?? caDirectory ?? "-") cert=\(tls.certFile ?? "-") key=\(tls.keyFile ?? "-"))")
            }
            if tls.insecure {
                try check(mosquitto_tls_insecure_set(handle, true), "disable TLS host name check")
            }
        }

        if configuration.protocolVersion == .v5 && !configuration.cleanSession {
            // Without a Session Expiry Interval an MQTT 5 session ends when the connection does, and
            // the broker would drop everything published while ingestd is down.
            try check(mosquitto_property_add_int32(&connectProperties,
                                                   Int32(MQTT_PROP_SESSION_EXPIRY_INTERVAL.rawValue),
                                                   configuration.sessionExpirySeconds),
                      "add session expiry property")
        }
        if configuration.protocolVersion == .v5 {
            // The broker drops messages too large to be accepted instead of sending them (README
            // "MQTT clients"), as with the native client.
            try check(mosquitto_property_add_int32(&connectProperties,
                                                   Int32(MQTT_PROP_MAXIMUM_PACKET_SIZE.rawValue),
                                                   UInt32(clamping: configuration.receivePacketLimit)),
                      "add maximum packet size property")
        }

        mosquitto_connect_v5_callback_set(handle) { _, userdata, rc, flags, properties in
            guard let userdata else { return }
            Unmanaged<MosquittoSession>.fromOpaque(userdata).takeUnretainedValue()
                .onConnect(rc: rc, flags: flags, reasonString: MosquittoSession.reasonString(properties))
        }
        mosquitto_disconnect_v5_callback_set(handle) { _, userdata, rc, properties in
            guard let userdata else { return }
            Unmanaged<MosquittoSession>.fromOpaque(userdata).takeUnretainedValue()
                .onDisconnect(rc: rc, reasonString: MosquittoSession.reasonString(properties))
        }
        mosquitto_subscribe_v5_callback_set(handle) { _, userdata, mid, count, granted, _ in
            guard let userdata else { return }
            let grantedQoS = (granted != nil && count > 0) ? Array(UnsafeBufferPointer(start: granted, count: Int(count))) : []
            Unmanaged<MosquittoSession>.fromOpaque(userdata).takeUnretainedValue().onSubscribe(mid: mid, granted: grantedQoS)
        }
        // Only with TLS: with a log callback set, libmosquitto formats (vsnprintf, malloc, a mutex)
        // every debug line, two per message, and only its TLS errors say more than the return codes.
        if configuration.tls != nil {
            mosquitto_log_callback_set(handle) { _, userdata, level, text in
                // MOSQ_LOG_ERR is (1<<3); the macro is not imported.
                guard let userdata, let text, level == 8 else { return }
                Unmanaged<MosquittoSession>.fromOpaque(userdata).takeUnretainedValue().loopLibraryError = String(cString: text)
            }
        }
        mosquitto_message_callback_set(handle) { _, userdata, message in
            guard let userdata, let message else { return }
            Unmanaged<MosquittoSession>.fromOpaque(userdata).takeUnretainedValue().onMessage(message.pointee)
        }
    }

    deinit { close() }

    /// Frees the handle. Call only after `runLoop()` has returned (or if it never ran).
    func close() {
        if let handle {
            mosquitto_destroy(handle)
            self.handle = nil
        }
        if connectProperties != nil { mosquitto_property_free_all(&connectProperties) }
    }

    /// Asks the loop to disconnect cleanly and return. Safe from any thread.
    func requestStop() { stopFlag.store(true, ordering: .releasing) }

    private var stopRequested: Bool { stopFlag.load(ordering: .acquiring) }

    // MARK: - The loop (its own thread)

    /// Connects, reconnects with backoff forever, and returns after a stop request once the
    /// connection is cleanly closed.
    func runLoop() {
        guard let handle else { return }
        var attempt = 0
        while !stopRequested {
            attempt += 1
            loopLibraryError = nil
            let rc = mosquitto_connect_bind_v5(handle, configuration.host, Int32(configuration.port),
                                               Int32(configuration.keepAliveSeconds), nil, connectProperties)
            let savedErrno = Glibc.errno
            if rc != MosquittoLibrary.success {
                let delay = events.connectFailed(error: MosquittoLibrary.describe(rc, errno: savedErrno), attempt: attempt,
                                                 detail: tlsDetail(rc: rc))
                MQTTSessionEvents.sleep(delay) { stopRequested }
                continue
            }
            // TCP is up and CONNECT is on its way; CONNACK, messages and errors arrive via callbacks.
            var loopRC = MosquittoLibrary.success
            var loopErrno: Int32 = 0
            loopDisconnectReason = 0
            loopDisconnectReasonString = nil
            loopRefusal = nil
            while !stopRequested {
                loopRC = pumpNetwork(handle)
                loopErrno = Glibc.errno
                if loopRC != MosquittoLibrary.success { break }
                events.checkHeartbeat()
            }
            if stopRequested {
                if loopRC == MosquittoLibrary.success { disconnectCleanly(handle) }
                break
            }
            var detail = tlsDetail(rc: loopRC)
            if let reasonString = loopDisconnectReasonString { detail["reason_string"] = "\(reasonString)" }
            let delay = events.disconnected(reason: disconnectText(loopRC: loopRC, errno: loopErrno), detail: detail)
            attempt = 0
            MQTTSessionEvents.sleep(delay) { stopRequested }
        }
        events.markDown()
    }

    /// Most packets `pumpNetwork` reads before it looks at the stop flag and the heartbeat again.
    private static let readBurstPackets = 1_000

    /// One turn of the network loop, in place of `mosquitto_loop`: `poll` on the broker socket, then
    /// every packet that is already there, any queued output, and keep-alive. Returns a libmosquitto
    /// code like `mosquitto_loop` (non-success: the connection is gone; `errno` is left as it was).
    ///
    /// Why not `mosquitto_loop`: per call it builds fd sets, `pselect`s on the socket *and* its
    /// internal wake-up socket pair, reads exactly one packet (libmosquitto 2.0 replaces
    /// `max_packets` by the number of QoS > 0 messages in flight, i.e. 1 here), and reads one byte
    /// from the pair that every queued PUBACK wrote into it. That is two system calls per message
    /// on top of the packet's own. Here the wake-up pair is never polled (a stop request is an atomic
    /// flag checked every `pollMilliseconds`; the pair is non-blocking, so once full libmosquitto's
    /// write into it fails with EAGAIN and nothing waits on it), and one `poll` covers a whole burst.
    ///
    /// `mosquitto_loop_read` reports "no complete packet left" only through `errno` (EAGAIN with a
    /// success code), so `errno` is cleared before each call; a stray EAGAIN just ends the burst early
    /// and the next `poll` returns at once.
    private func pumpNetwork(_ handle: OpaquePointer) -> Int32 {
        let socket = mosquitto_socket(handle)
        if socket < 0 { return Int32(MOSQ_ERR_NO_CONN.rawValue) }
        var events = Int16(POLLIN)
        if mosquitto_want_write(handle) { events |= Int16(POLLOUT) }
        var descriptor = pollfd(fd: socket, events: events, revents: 0)
        let ready = poll(&descriptor, 1, Self.pollMilliseconds)
        if ready < 0 {
            return Glibc.errno == EINTR ? MosquittoLibrary.success : MosquittoLibrary.errno
        }
        if ready > 0 {
            if descriptor.revents & Int16(POLLIN | POLLERR | POLLHUP) != 0 {
                let rc = readBurst(handle)
                if rc != MosquittoLibrary.success || mosquitto_socket(handle) < 0 { return rc }
            }
            // PUBACKs are written as they are queued; this flushes what a callback queued (the
            // SUBSCRIBEs in `onConnect`) or what a full socket buffer held back.
            if descriptor.revents & Int16(POLLOUT) != 0 || mosquitto_want_write(handle) {
                let rc = mosquitto_loop_write(handle, 1)
                if rc != MosquittoLibrary.success || mosquitto_socket(handle) < 0 { return rc }
            }
        }
        return mosquitto_loop_misc(handle)
    }

    /// Reads every complete packet already there, up to `readBurstPackets`, then hands the burst's
    /// messages to the intake at once (blocking while it is full: backpressure as before). The
    /// messages are already acknowledged, so they go to the intake even when the read fails.
    private func readBurst(_ handle: OpaquePointer) -> Int32 {
        loopBurst = []
        loopBurst!.reserveCapacity(64)
        loopBurstRoom = intake.capacity - intake.count
        var rc = MosquittoLibrary.success
        var readErrno: Int32 = 0
        for _ in 0..<Self.readBurstPackets {
            Glibc.errno = 0
            rc = mosquitto_loop_read(handle, 1)
            readErrno = Glibc.errno
            if rc != MosquittoLibrary.success || mosquitto_socket(handle) < 0 { break }
            if readErrno == EAGAIN || readErrno == EWOULDBLOCK { break }
            // As with one packet per `mosquitto_loop`: a stop request takes no further messages.
            if stopRequested { break }
        }
        flushBurst()
        loopBurst = nil
        Glibc.errno = readErrno
        return rc
    }

    private func flushBurst() {
        guard let burst = loopBurst, !burst.isEmpty else { return }
        loopBurst!.removeAll(keepingCapacity: true)
        let taken = intake.put(contentsOf: burst)
        for message in burst[taken...] { logNotTaken(message) }
    }

    /// Sends DISCONNECT (reason 0, "normal disconnection") so the broker keeps the persistent session
    /// (and its Session Expiry Interval) and does not publish a will. libmosquitto writes it at once
    /// (not in a callback, not threaded) and closes the socket; the bounded loop below only flushes
    /// anything still queued.
    private func disconnectCleanly(_ handle: OpaquePointer) {
        let rc = mosquitto_disconnect_v5(handle, 0, nil)
        if rc == MosquittoLibrary.success {
            var spins = 0
            while spins < 50, mosquitto_loop(handle, Self.pollMilliseconds, 1) == MosquittoLibrary.success { spins += 1 }
        } else {
            logger.warning("mqtt disconnect failed", metadata: ["error": "\(MosquittoLibrary.describe(rc, errno: Glibc.errno))"])
        }
    }

    /// With TLS on, a failure gets libmosquitto's own explanation and the settings to check.
    private func tlsDetail(rc: Int32) -> Logger.Metadata {
        guard configuration.tls != nil else { return [:] }
        var metadata: Logger.Metadata = [:]
        if let loopLibraryError { metadata["detail"] = "\(loopLibraryError)" }
        if rc == Int32(MOSQ_ERR_TLS.rawValue) || loopLibraryError != nil {
            metadata["hint"] = "\(MQTTSessionEvents.tlsHint)"
        }
        return metadata
    }

    private func disconnectText(loopRC: Int32, errno loopErrno: Int32) -> String {
        // After a refused CONNACK libmosquitto reports a generic error; the broker's reason says more.
        if let loopRefusal { return "connection refused: \(loopRefusal)" }
        // A v5 broker's DISCONNECT reason codes are >= 0x80; smaller values are libmosquitto errors.
        if configuration.protocolVersion == .v5, loopDisconnectReason >= 0x80 {
            return MQTTReasonCode.text(UInt8(clamping: loopDisconnectReason))
        }
        return MosquittoLibrary.describe(loopRC, errno: loopErrno)
    }

    // MARK: - Callbacks (the loop thread, inside mosquitto_loop)

    private func onConnect(rc: Int32, flags: Int32, reasonString: String?) {
        guard rc == 0 else {
            loopRefusal = events.refused(code: UInt8(clamping: rc), reasonString: reasonString)
            return
        }
        events.connected(sessionPresent: (flags & 1) != 0)
        // Subscribe after every connect, even when the broker kept the session: harmless, and it
        // covers a broker that lost the session or changed topics in the configuration.
        guard let handle else { return }
        loopPendingSubscriptions = [:]
        for filter in configuration.subscriptionFilters {
            var mid: Int32 = 0
            let rc = mosquitto_subscribe(handle, &mid, filter, Int32(configuration.qos))
            if rc == MosquittoLibrary.success {
                loopPendingSubscriptions[mid] = filter
            } else {
                logger.error("mqtt subscribe failed", metadata: [
                    "topic": "\(filter)", "error": "\(MosquittoLibrary.describe(rc, errno: Glibc.errno))",
                ])
            }
        }
    }

    private func onSubscribe(mid: Int32, granted: [Int32]) {
        events.subscribed(filter: loopPendingSubscriptions.removeValue(forKey: mid) ?? "?", codes: granted)
    }

    private func onDisconnect(rc: Int32, reasonString: String?) {
        loopDisconnectReason = rc
        loopDisconnectReasonString = reasonString
        events.markDown()
    }

    /// libmosquitto 2.0 has already sent the PUBACK for a QoS 1 message when this runs (checked on
    /// 2.0.11), so the message is ours now: it must reach the intake. During a read burst it is
    /// collected and put with the burst (`readBurst`). `put` blocks while the intake is full; that
    /// stalls this thread and with it the socket: TCP backpressure to the broker.
    private func onMessage(_ message: mosquitto_message) {
        let topic = message.topic.map { String(cString: $0) } ?? ""
        let length = Int(message.payloadlen)
        let payload: [UInt8] = (length > 0 && message.payload != nil)
            ? Array(UnsafeRawBufferPointer(start: message.payload, count: length))
            : []
        let now = loopWallClock.nanosecondsSinceEpoch()
        metrics.recordMessages(1)
        events.messagesArrived()
        let inbound = InboundMessage(topic: topic, payload: payload, receivedAtNanos: now)
        if loopBurst != nil {
            if loopBurst!.count >= loopBurstRoom {
                // The intake may be full: hand over what we have, then look again.
                flushBurst()
                loopBurstRoom = intake.capacity - intake.count
            }
            if loopBurstRoom > 0 {
                loopBurst!.append(inbound)
                return
            }
        }
        if !intake.put(inbound) {
            logNotTaken(inbound)
        }
    }

    private func logNotTaken(_ message: InboundMessage) {
        logger.error("mqtt message not taken: intake closed", metadata: [
            "topic": "\(message.topic)", "bytes": "\(message.payload.count)",
        ])
    }

    /// The Reason String property of a CONNACK or DISCONNECT, if the broker sent one.
    private static func reasonString(_ properties: OpaquePointer?) -> String? {
        guard let properties else { return nil }
        var value: UnsafeMutablePointer<CChar>?
        guard mosquitto_property_read_string(properties, Int32(MQTT_PROP_REASON_STRING.rawValue), &value, false) != nil,
              let value else { return nil }
        defer { free(value) }
        return String(cString: value)
    }

    private func check(_ rc: Int32, _ what: String) throws {
        guard rc == MosquittoLibrary.success else {
            throw MQTTSourceError.setupFailed("\(what): \(MosquittoLibrary.describe(rc, errno: Glibc.errno))")
        }
    }
}
