#if canImport(Glibc)
import Glibc
#endif
import IngestCore
import Logging
import Synchronization

/// ingestd's own MQTT 3.1.1/5 subscriber (`MQTT_CLIENT=native`, the default), on a thread of its
/// own like the libmosquitto session it replaces by default (README "MQTT clients").
///
/// ## Why our own client
/// libmosquitto 2.0 reads every packet with three or four system calls (type byte, each length
/// byte, then the body) and writes each PUBACK with one more; with the wake-up pair and `poll` that
/// was over half of ingestd's CPU per message. Here one `read` brings every packet already there
/// (up to 64 KiB), the packets are framed in memory (`MQTTFrame`, `MQTTPacketDecoder` in
/// IngestCore, unit-tested), the burst goes to the intake in one hand-over, and its
/// acknowledgements leave in one `write`.
///
/// ## Protocol and executor
/// The protocol state (CONNECT/CONNACK, subscriptions, acknowledgement bookkeeping, keep-alive) is
/// `MQTTSubscriberStateMachine` in IngestCore, unit-tested without sockets. This type executes what
/// it asks for: the socket, `poll`, TLS, the intake, the log lines.
///
/// ## Delivery
/// A QoS 1 PUBACK (QoS 2 PUBREC) is sent only after the intake has taken the message, in the order
/// the PUBLISHes arrived. While the intake is full, this thread waits in `put` and nothing more is
/// read, so the broker keeps the rest (TCP backpressure), and PINGREQs keep the connection alive
/// meanwhile; if the intake closes instead (cancellation), what it did not take is never
/// acknowledged and the broker delivers it again on the next connection.
///
/// With `acknowledgements` (DURABILITY=journal or broker) taking is not enough: an acknowledgement
/// leaves only once the `AcknowledgementRelay` released its message (its lines are fsynced in the
/// journal, or in InfluxDB or the spool). This thread polls the relay's wake pipe beside the socket,
/// so it sends them as soon as they may leave, still in arrival order (`AcknowledgementCursor`). On a
/// stop it reads no more, closes the intake so the pipeline drains, and waits up to
/// `acknowledgementWaitAtStop` for the acknowledgements of what it handed on before it disconnects;
/// what is not safe by then stays unacknowledged and the broker delivers it again.
///
/// ## Oversized messages
/// A PUBLISH larger than `MQTTConfiguration.receivePacketLimit` is not read whole: its head (topic
/// and the first `MAX_PAYLOAD_BYTES + 1` payload bytes) is handed on, which the validator rejects as
/// PAYLOAD_TOO_LARGE, and the rest of its body is read and thrown away (`MQTTConnection.skip`).
///
/// ## Threading
/// `runLoop()` runs on a dedicated thread (see `MQTTSource`); the mutable `loop…` state and the
/// connection are confined to it. `init` runs before that thread starts and `close()` after it has
/// finished (published through `CompletionSignal`'s mutex), which is why the class can be
/// `@unchecked Sendable`. What other threads touch is Sendable on its own: the stop flag (`Atomic`),
/// `IntakeQueue`, `MQTTMetrics` and the `Logger`.
final class NativeMQTTSession: MQTTClientLoop, @unchecked Sendable {
    let configuration: MQTTConfiguration
    let intake: IntakeQueue
    let metrics: MQTTMetrics
    let logger: Logger
    /// DURABILITY=journal/broker: acknowledgements wait for it (see "Delivery").
    let acknowledgements: AcknowledgementRelay?
    let acknowledgementWaitAtStop: Duration

    /// Longest wait in `poll`: bounds how quickly a stop request and the heartbeat are noticed.
    static let pollMilliseconds: Int32 = 100
    /// TCP connect, TLS handshake and CONNACK must each complete within this.
    private static let connectTimeoutSeconds = 30.0

    private let stopFlag = Atomic<Bool>(false)
    /// A second stop request: disconnect without waiting for acknowledgements.
    let abandonFlag = Atomic<Bool>(false)
    private let tlsContext: TLSContext?
    private let decoder: MQTTPacketDecoder
    /// The largest packet read whole (`MQTTConfiguration.receivePacketLimit`).
    private let receiveLimit: Int

    // Loop-thread confined (see the type's documentation).
    private let events: MQTTSessionEvents
    var protocolState: MQTTSubscriberStateMachine
    /// This turn's messages, handed to the intake in one `put`.
    private var burst: [InboundMessage] = []
    /// Which released messages are this connection's to acknowledge (with `acknowledgements`).
    var cursor = AcknowledgementCursor()
    /// `poll`'s entries: the socket, and the relay's wake pipe.
    private var pollEntries = [pollfd](repeating: pollfd(), count: 2)

    init(configuration: MQTTConfiguration, intake: IntakeQueue, metrics: MQTTMetrics, logger: Logger,
         acknowledgements: AcknowledgementRelay? = nil, acknowledgementWaitAtStop: Duration = .seconds(20)) throws {
        self.configuration = configuration
        self.intake = intake
        self.metrics = metrics
        self.logger = logger
        self.acknowledgements = acknowledgements
        self.acknowledgementWaitAtStop = acknowledgementWaitAtStop
        self.events = MQTTSessionEvents(configuration: configuration, metrics: metrics, logger: logger)
        self.decoder = MQTTPacketDecoder(protocolVersion: configuration.protocolVersion)
        self.receiveLimit = configuration.receivePacketLimit
        self.tlsContext = try configuration.tls.map { (tls) throws(MQTTSourceError) in try TLSContext(configuration: tls) }
        let v5 = configuration.protocolVersion == .v5
        let options = MQTTConnectOptions(
            protocolVersion: configuration.protocolVersion, clientID: configuration.clientID,
            cleanStart: configuration.cleanSession, keepAliveSeconds: UInt16(clamping: configuration.keepAliveSeconds),
            username: configuration.username, password: configuration.password,
            // Without a Session Expiry Interval an MQTT 5 session ends when the connection does, and
            // the broker would drop everything published while ingestd is down.
            sessionExpirySeconds: v5 && !configuration.cleanSession ? configuration.sessionExpirySeconds : nil,
            receiveMaximum: v5 ? UInt16(clamping: configuration.receiveMaximum) : nil,
            maximumPacketSize: v5 ? UInt32(clamping: configuration.receivePacketLimit) : nil)
        self.protocolState = MQTTSubscriberStateMachine(configuration: MQTTSubscriberConfiguration(
            connect: options, filters: configuration.subscriptionFilters, qos: UInt8(clamping: configuration.qos),
            sharedSubscriptions: configuration.sharedGroup.map { !$0.isEmpty } ?? false,
            connAckTimeoutNanos: UInt64(Self.connectTimeoutSeconds * 1e9)))
        burst.reserveCapacity(256)
    }

    func close() {}

    func requestStop() { stopFlag.store(true, ordering: .releasing) }

    private var stopRequested: Bool { stopFlag.load(ordering: .acquiring) }

    // MARK: - Reconnect loop

    func runLoop() {
        var attempt = 0
        while !stopRequested {
            attempt += 1
            let connection: MQTTConnection
            do throws(MQTTTransportError) {
                connection = try open()
            } catch {
                if case .stopped = error { break }
                let delay = events.connectFailed(error: error.description, attempt: attempt, detail: tlsHint(error))
                MQTTSessionEvents.sleep(delay) { stopRequested }
                continue
            }
            let ending = serve(connection)
            connection.transport.close()
            // The protocol state, not `events`: a connection lost while the intake was full is already
            // marked down there, and it was still a connection the broker had accepted.
            let wasAccepted = protocolState.connectionAccepted
            protocolState.connectionClosed()
            guard let ending else { break }  // stopped
            var detail: Logger.Metadata = [:]
            if let reasonString = ending.reasonString { detail["reason_string"] = "\(reasonString)" }
            let delay: Duration
            if wasAccepted {
                delay = events.disconnected(reason: ending.reason, detail: detail)
                attempt = 0
            } else {
                // Ended before a CONNACK accepted it: a failed attempt, not a lost connection.
                detail.merge(beforeConnAckHint(ending.reason)) { old, _ in old }
                delay = events.connectFailed(error: ending.reason, attempt: attempt, detail: detail)
            }
            MQTTSessionEvents.sleep(delay) { stopRequested }
        }
        events.markDown()
    }

    /// TCP (and TLS) connection with CONNECT queued.
    private func open() throws(MQTTTransportError) -> MQTTConnection {
        let stop = { self.stopRequested }
        let descriptor = try TCPConnector.connect(host: configuration.host, port: configuration.port,
                                                  timeoutSeconds: Self.connectTimeoutSeconds, stopRequested: stop)
        let transport: MQTTTransport
        if let tlsContext {
            transport = try TLSTransport(descriptor: descriptor, host: configuration.host, context: tlsContext,
                                         timeoutSeconds: Self.connectTimeoutSeconds, stopRequested: stop)
        } else {
            transport = PlainTransport(descriptor: descriptor)
        }
        let now = monotonicNanos()
        let connection = MQTTConnection(transport: transport, now: now)
        connection.queue { protocolState.connectionOpened(now: now, into: &$0) }
        cursor.connectionOpened()
        metrics.setUnacknowledged(0)
        return connection
    }

    // MARK: - One connection

    /// Why a connection ended, for the "mqtt disconnected" line.
    private struct Ending {
        var reason: String
        var reasonString: String?
    }

    /// Serves a connection until it ends: returns why, or nil after a stop request (having sent
    /// DISCONNECT so the broker keeps the persistent session and sends no will).
    private func serve(_ connection: MQTTConnection) -> Ending? {
        var ending: MQTTConnectionEnd?
        do throws(MQTTTransportError) {
            try connection.flush(now: monotonicNanos())
            while !stopRequested {
                try turn(connection, &ending)
                if let ending { return Ending(reason: ending.description, reasonString: ending.reasonString) }
                let now = monotonicNanos()
                if let lost = connection.queue({ protocolState.tick(now: now, into: &$0) }) {
                    return Ending(reason: lost.description)
                }
                if connection.hasPendingOutput { try connection.flush(now: now) }
                events.checkHeartbeat()
            }
        } catch {
            return Ending(reason: ending?.description ?? error.description, reasonString: ending?.reasonString)
        }
        if protocolState.isConnected {
            if acknowledgements != nil { awaitAcknowledgementsAtStop(connection) }
            disconnectCleanly(connection)
        }
        return nil
    }

    /// One turn: wait for the socket, read and handle every packet there, hand the messages to the
    /// intake, then send their acknowledgements.
    private func turn(_ connection: MQTTConnection, _ ending: inout MQTTConnectionEnd?) throws(MQTTTransportError) {
        if !connection.transport.hasBufferedInput {
            var events = Int16(POLLIN)
            if connection.hasPendingOutput { events |= Int16(POLLOUT) }
            // The socket, and the relay's wake pipe with DURABILITY=journal/broker (storage reused:
            // no allocation per turn).
            pollEntries[0] = pollfd(fd: connection.transport.descriptor, events: events, revents: 0)
            pollEntries[1] = pollfd(fd: acknowledgements?.wakeDescriptor ?? -1, events: Int16(POLLIN), revents: 0)
            let ready = poll(&pollEntries, acknowledgements == nil ? 1 : 2, Self.pollMilliseconds)
            if ready < 0 {
                if errno == EINTR { return }
                throw .io(systemError())
            }
            if ready == 0 { return }
            if pollEntries[1].revents != 0 {
                acknowledgements?.drainWake()
                sendReleasedAcknowledgements(connection)
                try connection.flush(now: monotonicNanos())
            }
            let revents = pollEntries[0].revents
            if revents & Int16(POLLOUT) != 0 { try connection.flush(now: monotonicNanos()) }
            if revents & Int16(POLLIN | POLLERR | POLLHUP) == 0 { return }
        }
        guard try connection.readAvailable() > 0 else { return }
        let receivedAt = loopWallClock.nanosecondsSinceEpoch()
        try handlePackets(connection, &ending, receivedAt: receivedAt)
        deliverBurst(connection, receivedAt: receivedAt)
        try connection.flush(now: monotonicNanos())
    }

    private func handlePackets(_ connection: MQTTConnection, _ ending: inout MQTTConnectionEnd?, receivedAt: Int64) throws(MQTTTransportError) {
        var offset = connection.inputStart
        var skip = 0
        let end = connection.inputEnd
        let now = monotonicNanos()
        let result = connection.input.withUnsafeBytes { (raw) -> MQTTTransportError? in
            let buffer = UnsafeRawBufferPointer(rebasing: raw[..<end])
            do throws(MQTTProtocolError) {
                while ending == nil, let frame = try MQTTFrame.header(in: buffer, from: offset) {
                    let packet: MQTTInboundPacket
                    let packetBytes = frame.packetBytes(from: offset)
                    if packetBytes <= receiveLimit {
                        guard frame.isComplete(in: buffer) else { break }
                        offset = frame.end
                        packet = try decoder.decode(frame, in: buffer)
                    } else {
                        guard frame.type == MQTTPacketType.publish else {
                            throw .packetTooLarge(bytes: packetBytes, limit: receiveLimit)
                        }
                        // Keep the head of the body; the rest is read past (see the type's documentation).
                        let head = MQTTFrame(header: frame.header, bodyStart: frame.bodyStart,
                                             bodyLength: min(frame.bodyLength, receiveLimit))
                        guard head.isComplete(in: buffer) else { break }
                        guard case .publish(var publish) = try decoder.decode(head, in: buffer) else { break }
                        publish.payload = publish.payload.prefix(configuration.maxPayloadBytes + 1)
                        packet = .publish(publish)
                        offset = head.end
                        skip = frame.end - head.end
                        metrics.recordOversized()
                        logger.warning("mqtt message too large: read past without keeping it", metadata: [
                            "topic": "\(String(decoding: UnsafeRawBufferPointer(rebasing: buffer[publish.topic]), as: UTF8.self))",
                            "bytes": "\(packetBytes)", "limit": "\(receiveLimit)",
                            "note": "rejected as PAYLOAD_TOO_LARGE and acknowledged",
                        ])
                    }
                    handle(packet, buffer: buffer, connection, &ending, now: now, receivedAt: receivedAt)
                    if skip > 0 { break }
                }
                return nil
            } catch {
                return .io("protocol error: \(error)")
            }
        }
        connection.consumeInput(upTo: offset)
        if skip > 0 { connection.skip(skip) }
        if let result { throw result }
    }

    private func handle(_ packet: MQTTInboundPacket, buffer: UnsafeRawBufferPointer, _ connection: MQTTConnection,
                        _ ending: inout MQTTConnectionEnd?, now: UInt64, receivedAt: Int64) {
        switch connection.queue({ protocolState.receive(packet, now: now, into: &$0) }) {
        case .none:
            break
        case .deliver(let publish):
            burst.append(InboundMessage(
                topic: String(decoding: UnsafeRawBufferPointer(rebasing: buffer[publish.topic]), as: UTF8.self),
                payload: Array(UnsafeRawBufferPointer(rebasing: buffer[publish.payload])),
                receivedAtNanos: receivedAt))
        case .connected(let connAck, let limitations):
            events.connected(sessionPresent: connAck.sessionPresent)
            limitations.forEach(events.brokerLimited)
        case .subscribed(let filter, let result):
            events.subscribed(filter: filter, result: result)
        case .close(let end):
            switch end {
            case .refused(let code, _, let reasonString): _ = events.refused(code: code, reasonString: reasonString)
            case .protocolViolation(let code, let detail): events.protocolViolation(detail, code: code)
            default: break
            }
            ending = end
        }
    }

    /// Hands the turn's messages to the intake (blocking while it is full, with PINGREQs to keep the
    /// connection up), then queues the acknowledgements of those it took, in arrival order.
    private func deliverBurst(_ connection: MQTTConnection, receivedAt: Int64) {
        let count = burst.count
        var taken = 0
        if count > 0 {
            metrics.recordMessages(count)
            events.messagesArrived()
            taken = intake.put(contentsOf: burst, checkingEvery: keepAliveCheckInterval) {
                keepAliveWhileBlocked(connection)
            }
            if taken < count {
                logger.warning("mqtt messages left with the broker: intake closed", metadata: [
                    "messages": "\(count - taken)", "note": "not acknowledged, so the broker delivers them again on the next connection",
                ])
            }
            burst.removeAll(keepingCapacity: true)
        }
        if acknowledgements != nil {
            cursor.handedOn(taken)
            sendReleasedAcknowledgements(connection)
        } else {
            let now = monotonicNanos()
            connection.queue { protocolState.messagesTaken(taken, now: now, into: &$0) }
        }
    }

    /// How often a blocked `put` looks at the keep-alive: a fraction of it, at most a second. With
    /// acknowledgements waiting for the relay it also sends those, so more often: the broker's window
    /// must not stay shut while the intake is full.
    private var keepAliveCheckInterval: Duration {
        if acknowledgements != nil { return .milliseconds(20) }
        return .milliseconds(min(1000, max(100, configuration.keepAliveSeconds * 1000 / 4)))
    }

    /// While the intake is full: a PINGREQ when one is due, written at once (the loop is not
    /// reading, so the broker's keep-alive is all that keeps the session from being dropped). If the
    /// broker closed the connection anyway, `mqtt_connected` says so at once, not only once the
    /// intake has room again (the next read then ends the connection and reconnects).
    func keepAliveWhileBlocked(_ connection: MQTTConnection) {
        sendReleasedAcknowledgements(connection)
        let now = monotonicNanos()
        connection.queue { protocolState.tickWhileBlocked(now: now, into: &$0) }
        var lost = false
        if connection.hasPendingOutput {
            do { try connection.flush(now: now) } catch { lost = true }
        }
        // The peer's FIN shows as POLLRDHUP without reading what is still unread before it.
        let peerClosed = Int16(0x2000)  // POLLRDHUP (Linux), not imported: Glibc's module lacks _GNU_SOURCE
        var entry = pollfd(fd: connection.transport.descriptor, events: peerClosed, revents: 0)
        if poll(&entry, 1, 0) > 0, entry.revents & (peerClosed | Int16(POLLHUP | POLLERR)) != 0 { lost = true }
        if lost && metrics.connected == 1 {
            events.markDown()
            logger.warning("mqtt connection lost while the intake is full", metadata: [
                "host": "\(configuration.host)", "port": "\(configuration.port)",
                "note": "reconnects once the intake has room; what was not acknowledged is delivered again",
            ])
        }
    }

    private func disconnectCleanly(_ connection: MQTTConnection) {
        guard connection.queue({ protocolState.disconnect(into: &$0) }) else { return }
        let deadline = monotonicNanos() + 2_000_000_000
        do throws(MQTTTransportError) {
            try connection.flush(now: monotonicNanos())
            while connection.hasPendingOutput {
                try PollWait.until(connection.transport.descriptor, events: Int16(POLLOUT), timeoutSeconds: 2,
                                   stopRequested: { false }, timeoutText: "DISCONNECT not written within 2 s")
                try connection.flush(now: monotonicNanos())
            }
        } catch {
            logger.warning("mqtt disconnect failed", metadata: ["error": "\(error)"])
            return
        }
        // Closing a socket that still holds unread bytes (messages the broker sent after the last
        // read) makes the kernel answer with RST, and the broker may then discard the PUBACKs and the
        // DISCONNECT it has not read yet: redeliveries of messages we did take. So: end our side, let
        // the broker close its own after reading everything, and throw away what it sent meanwhile
        // (unacknowledged, so it delivers those again on the next connection).
        let descriptor = connection.transport.descriptor
        shutdown(descriptor, Int32(SHUT_WR))
        var scratch = [UInt8](repeating: 0, count: 16 * 1024)
        while monotonicNanos() < deadline {
            var entry = pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)
            guard poll(&entry, 1, Self.pollMilliseconds) >= 0 else { break }
            if entry.revents == 0 { continue }
            let count = recv(descriptor, &scratch, scratch.count, 0)
            if count == 0 || (count < 0 && errno != EAGAIN && errno != EINTR) { break }
        }
    }

    // MARK: - Helpers

    /// A broker that speaks only MQTT 3.1.1 closes an MQTT 5 CONNECT without a CONNACK (RabbitMQ before
    /// 3.13) or never answers it (amqtt) (README "MQTT clients").
    private func beforeConnAckHint(_ reason: String) -> Logger.Metadata {
        guard configuration.protocolVersion == .v5,
              reason == MQTTTransportError.closedByBroker.description || reason == MQTTConnectionEnd.noConnAck.description else { return [:] }
        return ["hint": "the broker did not answer CONNECT; if it speaks only MQTT 3.1.1 (RabbitMQ before 3.13, amqtt), set MQTT_PROTOCOL=3.1.1"]
    }

    private func tlsHint(_ error: MQTTTransportError) -> Logger.Metadata {
        guard case .tlsFailed = error else { return [:] }
        return ["hint": "\(MQTTSessionEvents.tlsHint)"]
    }
}

/// The MQTT thread's clock, for the protocol state machine's deadlines.
func monotonicNanos() -> UInt64 { SystemMonotonicClock().now() }
