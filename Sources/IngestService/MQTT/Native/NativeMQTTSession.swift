#if canImport(Glibc)
import Glibc
#endif
import CMosquitto
import IngestCore
import Logging
import Synchronization

/// ingestd's own MQTT 3.1.1/5 subscriber (`MQTT_CLIENT=native`, the default): the receive path of
/// issue 7, on a thread of its own like the libmosquitto session it replaces by default.
///
/// ## Why our own client
/// libmosquitto 2.0 reads every packet with three or four system calls (type byte, each length
/// byte, then the body) and writes each PUBACK with one more; with the wake-up pair and `poll` that
/// was over half of ingestd's CPU per message. Here one `read` brings every packet already there
/// (up to 64 KiB), the packets are framed in memory (`MQTTFrame`, `MQTTPacketDecoder` in
/// IngestCore, unit-tested), the burst goes to the intake in one hand-over, and its
/// acknowledgements leave in one `write`.
///
/// ## Delivery
/// A QoS 1 PUBACK (QoS 2 PUBREC) is sent only after the intake has taken the message. While the
/// intake is full, this thread waits in `put` and nothing more is acknowledged, so the broker keeps
/// the rest (TCP backpressure, as before); if the intake closes instead (cancellation), what it did
/// not take is never acknowledged and the broker delivers it again on the next connection.
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

    /// Longest wait in `poll`: bounds how quickly a stop request and the heartbeat are noticed.
    private static let pollMilliseconds: Int32 = 100
    /// TCP connect, TLS handshake and CONNACK must each complete within this.
    private static let connectTimeoutSeconds = 30.0
    private static let noConnAck = "no CONNACK from the broker"
    /// Largest packet accepted from the broker (the MQTT maximum is 256 MiB); the validator rejects
    /// payloads above MAX_PAYLOAD_BYTES anyway, this only bounds the receive buffer.
    private static let maxPacketBytes = 268_435_460

    private let stopFlag = Atomic<Bool>(false)
    private let tlsContext: TLSContext?
    private let decoder: MQTTPacketDecoder

    // Loop-thread confined (see the type's documentation).
    private let events: MQTTSessionEvents
    /// QoS 2 messages handed on and answered with PUBREC, waiting for the broker's PUBREL: a
    /// redelivered PUBLISH with one of these identifiers is a duplicate. Part of the session state, so
    /// it outlives a connection (and is cleared when the broker starts a new session).
    private var loopAwaitingRelease = Set<UInt16>()

    init(configuration: MQTTConfiguration, intake: IntakeQueue, metrics: MQTTMetrics, logger: Logger) throws {
        self.configuration = configuration
        self.intake = intake
        self.metrics = metrics
        self.logger = logger
        self.events = MQTTSessionEvents(configuration: configuration, metrics: metrics, logger: logger)
        self.decoder = MQTTPacketDecoder(protocolVersion: configuration.protocolVersion)
        self.tlsContext = try configuration.tls.map { (tls) throws(MQTTSourceError) in try TLSContext(configuration: tls) }
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
            guard let reason = ending else { break }  // stopped
            let delay: Duration
            if events.isConnected {
                delay = events.disconnected(reason: reason)
                attempt = 0
            } else {
                // Ended before a CONNACK accepted it: a failed attempt, not a lost connection.
                delay = events.connectFailed(error: reason, attempt: attempt, detail: beforeConnAckHint(reason))
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
        let connection = MQTTConnection(transport: transport, now: monotonicNanos())
        let options = MQTTConnectOptions(
            protocolVersion: configuration.protocolVersion, clientID: configuration.clientID,
            cleanStart: configuration.cleanSession, keepAliveSeconds: UInt16(clamping: configuration.keepAliveSeconds),
            username: configuration.username, password: configuration.password,
            // Without a Session Expiry Interval an MQTT 5 session ends when the connection does, and
            // the broker would drop everything published while ingestd is down.
            sessionExpirySeconds: configuration.protocolVersion == .v5 && !configuration.cleanSession
                ? configuration.sessionExpirySeconds : nil,
            receiveMaximum: configuration.protocolVersion == .v5 ? UInt16(clamping: configuration.receiveMaximum) : nil)
        connection.queue { MQTTPacketEncoder.connect(options, to: &$0) }
        return connection
    }

    // MARK: - One connection

    /// What one connection's turns share.
    private struct ConnectionState {
        var connected = false
        var connectStartedAt: UInt64
        var keepAliveNanos: UInt64
        var pingSentAt: UInt64?
        var nextPacketID: UInt16 = 0
        var pendingSubscriptions: [UInt16: String] = [:]
        /// Set when a packet ends the connection (a refused CONNACK, the broker's DISCONNECT).
        var ending: String?
        /// This turn's messages and, at the same index, how to acknowledge each once the intake has it.
        var burst: [InboundMessage] = []
        var acknowledgements: [Acknowledgement] = []
    }

    private enum Acknowledgement { case none, pubAck(UInt16), pubRec(UInt16) }

    /// Serves a connection until it ends: returns why, or nil after a stop request (having sent
    /// DISCONNECT so the broker keeps the persistent session and sends no will).
    private func serve(_ connection: MQTTConnection) -> String? {
        let now = monotonicNanos()
        var state = ConnectionState(connectStartedAt: now, keepAliveNanos: UInt64(configuration.keepAliveSeconds) * 1_000_000_000)
        state.burst.reserveCapacity(256)
        state.acknowledgements.reserveCapacity(256)
        do throws(MQTTTransportError) {
            try connection.flush(now: now)
            while !stopRequested {
                try turn(connection, &state)
                if let ending = state.ending { return ending }
                if let timeout = checkTimers(connection, &state) { return timeout }
                events.checkHeartbeat()
            }
        } catch {
            return state.ending ?? error.description
        }
        if state.connected { disconnectCleanly(connection) }
        return nil
    }

    /// One turn: wait for the socket, read and handle every packet there, hand the messages to the
    /// intake, then send their acknowledgements.
    private func turn(_ connection: MQTTConnection, _ state: inout ConnectionState) throws(MQTTTransportError) {
        if !connection.transport.hasBufferedInput {
            var events = Int16(POLLIN)
            if connection.hasPendingOutput { events |= Int16(POLLOUT) }
            var entry = pollfd(fd: connection.transport.descriptor, events: events, revents: 0)
            let ready = poll(&entry, 1, Self.pollMilliseconds)
            if ready < 0 {
                if errno == EINTR { return }
                throw .io(systemError())
            }
            if ready == 0 { return }
            if entry.revents & Int16(POLLOUT) != 0 { try connection.flush(now: monotonicNanos()) }
            if entry.revents & Int16(POLLIN | POLLERR | POLLHUP) == 0 { return }
        }
        guard try connection.readAvailable() > 0 else { return }
        let receivedAt = wallClockNanos()
        try handlePackets(connection, &state, receivedAt: receivedAt)
        deliverBurst(connection, &state, receivedAt: receivedAt)
        try connection.flush(now: monotonicNanos())
    }

    private func handlePackets(_ connection: MQTTConnection, _ state: inout ConnectionState, receivedAt: Int64) throws(MQTTTransportError) {
        var offset = connection.inputStart
        let end = connection.inputEnd
        let result = connection.input.withUnsafeBytes { (raw) -> MQTTTransportError? in
            let buffer = UnsafeRawBufferPointer(rebasing: raw[..<end])
            do throws(MQTTProtocolError) {
                while state.ending == nil,
                      let frame = try MQTTFrame.next(in: buffer, from: offset, maxPacketBytes: Self.maxPacketBytes) {
                    offset = frame.end
                    try handle(try decoder.decode(frame, in: buffer), buffer: buffer, connection, &state, receivedAt: receivedAt)
                }
                return nil
            } catch {
                return .io("protocol error: \(error)")
            }
        }
        connection.consumeInput(upTo: offset)
        if let result { throw result }
    }

    private func handle(_ packet: MQTTInboundPacket, buffer: UnsafeRawBufferPointer, _ connection: MQTTConnection,
                        _ state: inout ConnectionState, receivedAt: Int64) throws(MQTTProtocolError) {
        switch packet {
        case .publish(let publish):
            guard state.connected else { return }
            if publish.qos == 2 && loopAwaitingRelease.contains(publish.packetID) {
                // Redelivered before our PUBREC arrived: already handed on, answer again.
                connection.queue { MQTTPacketEncoder.pubRec(packetID: publish.packetID, to: &$0) }
                return
            }
            state.burst.append(InboundMessage(
                topic: String(decoding: UnsafeRawBufferPointer(rebasing: buffer[publish.topic]), as: UTF8.self),
                payload: Array(UnsafeRawBufferPointer(rebasing: buffer[publish.payload])),
                receivedAtNanos: receivedAt))
            switch publish.qos {
            case 1: state.acknowledgements.append(.pubAck(publish.packetID))
            case 2: state.acknowledgements.append(.pubRec(publish.packetID))
            default: state.acknowledgements.append(.none)
            }
        case .pubRel(let packetID):
            loopAwaitingRelease.remove(packetID)
            connection.queue { MQTTPacketEncoder.pubComp(packetID: packetID, to: &$0) }
        case .connAck(let sessionPresent, let code, let serverKeepAlive):
            guard !state.connected else { throw .malformedPacket(type: MQTTPacketType.connAck, detail: "a second CONNACK") }
            guard code == 0 else {
                state.ending = "connection refused: \(events.refused(code: Int32(code)))"
                return
            }
            if let serverKeepAlive { state.keepAliveNanos = UInt64(serverKeepAlive) * 1_000_000_000 }
            state.connected = true
            onConnected(sessionPresent: sessionPresent, connection, &state)
        case .subAck(let packetID, let codes):
            events.subscribed(filter: state.pendingSubscriptions.removeValue(forKey: packetID) ?? "?", codes: codes.map(Int32.init))
        case .pingResp:
            state.pingSentAt = nil
        case .disconnect(let code):
            state.ending = code == 0 ? "the broker disconnected" : String(cString: mosquitto_reason_string(Int32(code)))
        case .ignored:
            break
        }
    }

    /// Hands the turn's messages to the intake (blocking while it is full), then queues the
    /// acknowledgements of those it took, in order.
    private func deliverBurst(_ connection: MQTTConnection, _ state: inout ConnectionState, receivedAt: Int64) {
        guard !state.burst.isEmpty else { return }
        let count = state.burst.count
        metrics.recordMessages(count, at: receivedAt)
        events.messagesArrived()
        let taken = intake.put(contentsOf: state.burst)
        connection.queue { out in
            for acknowledgement in state.acknowledgements[..<taken] {
                switch acknowledgement {
                case .none: break
                case .pubAck(let id): MQTTPacketEncoder.pubAck(packetID: id, to: &out)
                case .pubRec(let id):
                    loopAwaitingRelease.insert(id)
                    MQTTPacketEncoder.pubRec(packetID: id, to: &out)
                }
            }
        }
        if taken < count {
            logger.warning("mqtt messages left with the broker: intake closed", metadata: [
                "messages": "\(count - taken)", "note": "not acknowledged, so the broker delivers them again on the next connection",
            ])
        }
        state.burst.removeAll(keepingCapacity: true)
        state.acknowledgements.removeAll(keepingCapacity: true)
    }

    /// CONNACK and keep-alive deadlines; returns why the connection is considered lost, if it is.
    private func checkTimers(_ connection: MQTTConnection, _ state: inout ConnectionState) -> String? {
        let now = monotonicNanos()
        guard state.connected else {
            if now &- state.connectStartedAt > UInt64(Self.connectTimeoutSeconds * 1e9) { return Self.noConnAck }
            return nil
        }
        guard state.keepAliveNanos > 0 else { return nil }
        if let sentAt = state.pingSentAt {
            if now &- sentAt > state.keepAliveNanos { return "keep-alive timeout: no PINGRESP" }
        } else if now &- connection.lastWriteNanos >= state.keepAliveNanos {
            state.pingSentAt = now
            connection.queue { MQTTPacketEncoder.pingReq(to: &$0) }
            do { try connection.flush(now: now) } catch { return error.description }
        }
        return nil
    }

    private func disconnectCleanly(_ connection: MQTTConnection) {
        connection.queue { MQTTPacketEncoder.disconnect(to: &$0) }
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

    // MARK: - Events

    private func onConnected(sessionPresent: Bool, _ connection: MQTTConnection, _ state: inout ConnectionState) {
        if !sessionPresent { loopAwaitingRelease.removeAll() }
        events.connected(sessionPresent: sessionPresent)
        // Subscribe after every connect, even when the broker kept the session: harmless, and it
        // covers a broker that lost the session or changed topics in the configuration.
        for filter in configuration.subscriptionFilters {
            state.nextPacketID = state.nextPacketID == UInt16.max ? 1 : state.nextPacketID + 1
            let id = state.nextPacketID
            state.pendingSubscriptions[id] = filter
            connection.queue {
                MQTTPacketEncoder.subscribe(packetID: id, filter: filter, qos: UInt8(configuration.qos),
                                            protocolVersion: configuration.protocolVersion, to: &$0)
            }
        }
    }

    // MARK: - Helpers

    /// A broker that speaks only MQTT 3.1.1 closes an MQTT 5 CONNECT without a CONNACK (RabbitMQ before
    /// 3.13) or never answers it (amqtt) (README "MQTT clients").
    private func beforeConnAckHint(_ reason: String) -> Logger.Metadata {
        guard configuration.protocolVersion == .v5,
              reason == MQTTTransportError.closedByBroker.description || reason == Self.noConnAck else { return [:] }
        return ["hint": "the broker did not answer CONNECT; if it speaks only MQTT 3.1.1 (RabbitMQ before 3.13, amqtt), set MQTT_PROTOCOL=3.1.1"]
    }

    private func tlsHint(_ error: MQTTTransportError) -> Logger.Metadata {
        guard case .tlsFailed = error else { return [:] }
        return ["hint": "\(MQTTSessionEvents.tlsHint)"]
    }
}

private func monotonicNanos() -> UInt64 { SystemMonotonicClock().now() }
