import IngestCore
import Logging
import ServiceLifecycle

/// Turns inbound MQTT messages into line protocol: validate, authorize, encode, and hand each chunk's
/// lines to the writer grouped by database.
///
/// One task runs the loop; it owns the rate limiter and the per-database scratch buffers, so the hot
/// path needs no locks beyond the auth cache's. A message whose device is not cached (an envelope, or
/// a mapped message of a `registry: true` rule) waits in `RegistryWaits` for its lookup while other
/// devices' messages go on (README "Slow or hung registry"). It stops when the intake is closed, empty and no message waits for a lookup any more,
/// which happens after the MQTT source has disconnected: everything accepted has then been handed on.
public final class IngestPipeline: Service {
    public struct Configuration: Sendable {
        public var validator: MessageValidator
        public var encoder: LineProtocolEncoder
        public var databaseNamer: DatabaseNamer
        public var rateLimiter: RateLimiter
        /// Messages taken from the intake at once.
        public var chunkSize: Int
        /// Bounds of the messages waiting for their device's registry lookup (REGISTRY_WAIT_MAX_*).
        public var registryWaitMaxMessages: Int
        public var registryWaitMaxBytes: Int

        /// MAPPING_FILE's rules; nil: every message is the envelope (README, "Mapping other devices").
        public var mapping: MappingRulesStore?

        public init(validator: MessageValidator, encoder: LineProtocolEncoder, databaseNamer: DatabaseNamer,
                    rateLimiter: RateLimiter, chunkSize: Int = 512,
                    registryWaitMaxMessages: Int = 10000, registryWaitMaxBytes: Int = 16 << 20,
                    mapping: MappingRulesStore? = nil) {
            self.validator = validator
            self.encoder = encoder
            self.databaseNamer = databaseNamer
            self.rateLimiter = rateLimiter
            self.chunkSize = chunkSize
            self.registryWaitMaxMessages = registryWaitMaxMessages
            self.registryWaitMaxBytes = registryWaitMaxBytes
            self.mapping = mapping
        }
    }

    private let configuration: Configuration
    private let intake: IntakeQueue
    private let auth: AuthService?
    private let sink: any LineSink
    private let sequencer: (any LineSequencer)?
    private let acknowledgements: AcknowledgementRelay?
    private let clock: any MonotonicClock
    private let logger: Logger
    private let rejects: (any RejectRecording)?
    public let metrics = PipelineMetrics()

    /// `auth` nil means REGISTRY=none: every device is accepted, its site taken from the payload.
    /// `sequencer` numbers every accepted line before the writer gets it (DURABILITY=journal: the
    /// crash journal keeps it too; broker: numbers only); `acknowledgements` hears, for every message
    /// taken from the intake, when its MQTT acknowledgement may leave (README "Delivery guarantees").
    /// `rejects` (quarantine file, reject counts to InfluxDB) sees refused messages only.
    public init(configuration: Configuration, intake: IntakeQueue, auth: AuthService?, sink: any LineSink,
                sequencer: (any LineSequencer)? = nil, acknowledgements: AcknowledgementRelay? = nil,
                clock: any MonotonicClock, logger: Logger, rejects: (any RejectRecording)? = nil) {
        self.sequencer = sequencer
        self.acknowledgements = acknowledgements
        self.configuration = configuration
        self.intake = intake
        self.auth = auth
        self.sink = sink
        self.clock = clock
        self.logger = logger
        self.rejects = rejects
    }

    public func run() async {
        var rateLimiter = configuration.rateLimiter
        var counters = PipelineCounters()
        var buffers: [String: DatabaseBuffer] = [:]
        // Tenants repeat from message to message: name each one's database once per run of it, and
        // hold its buffer out of `buffers` meanwhile, so a message appends without a dictionary lookup.
        var lastTenant: String?
        var current: (database: String, buffer: DatabaseBuffer)?
        // A message whose device must be looked up waits there; other devices' messages go on.
        let waits = auth.map {
            RegistryWaits(auth: $0, limits: .init(maxMessages: configuration.registryWaitMaxMessages,
                                                  maxBytes: configuration.registryWaitMaxBytes), intake: intake)
        }

        var mappingScratch = MappingScratch()

        // DURABILITY=journal/broker: every message taken gets a number (its place in arrival order),
        // and each round tells the acknowledgement gate what each one waits for (README "Delivery
        // guarantees"). Every message taken is decided exactly once: refused (`refuse`), its lines
        // in this round's buffers (`encode`, `append`), or later, when its registry lookup answers.
        let gated = acknowledgements != nil
        var nextDeliveryNumber: UInt64 = 0
        var roundMessages: [UInt64] = []
        var refusedMessages: [UInt64] = []

        /// What became of a message under MAPPING_FILE's rules.
        enum MappedStep {
            /// An envelope rule took it: it goes on as without a rule file.
            case envelope
            /// Its lines are in the buffer, it waits for its device's lookup, or it was refused.
            case done
            /// A `registry: true` rule mapped it into `mappingScratch.output`, but the registry waiting
            /// room is full: the caller waits for room, then asks again (backpressure, never a drop).
            case full(DeviceKey, database: String, lineCount: Int, skippedFields: Int)
        }

        func mapped(_ message: InboundMessage, _ mapping: MappingRuleSet) -> MappedStep {
            do throws(RejectReason) {
                return try mapOrWait(message, mapping)
            } catch {
                refuse(message, error)
                return .done
            }
        }

        /// Maps the message and, for a `registry: true` rule, asks the registry (cache, else the waiting room).
        func mapOrWait(_ message: InboundMessage, _ mapping: MappingRuleSet) throws(RejectReason) -> MappedStep {
            let now = rateLimiter.isEnabled ? clock.now() : 0
            let outcome = try message.payload.withUnsafeBytes { payload in
                Result { () throws(RejectReason) -> MappingRuleSet.Outcome in
                    try mapping.map(topic: message.topic, payload: payload, receivedAtNanos: message.receivedAtNanos,
                                    maxPayloadBytes: configuration.validator.maxPayloadBytes,
                                    rateLimiter: &rateLimiter, now: now, scratch: &mappingScratch)
                }
            }.get()
            guard case let .mapped(_, database, lineCount, skipped, registryDevice) = outcome else { return .envelope }
            // README "Mapping other devices": after the fields, the registry (REGISTRY=none: no check).
            if let registryDevice, let waits {
                switch try waits.authorize(device: registryDevice, message, lines: {
                    MappedLines(database: database, lines: mappingScratch.output, lineCount: lineCount, skippedFields: skipped)
                }) {
                case .authorized: break
                case .waiting: return .done
                case .full: return .full(registryDevice, database: database, lineCount: lineCount, skippedFields: skipped)
                }
            }
            append(database: database, lines: mappingScratch.output, lineCount: lineCount, skippedFields: skipped,
                   deliveryNumber: message.deliveryNumber)
            return .done
        }

        /// A mapped message's lines into its database's buffer.
        func append(database: String, lines: [UInt8], lineCount: Int, skippedFields: Int, deliveryNumber: UInt64) {
            if database != current?.database {
                if let current { buffers[current.database] = current.buffer }
                current = (database, buffers.removeValue(forKey: database) ?? DatabaseBuffer())
                lastTenant = nil
            }
            current!.buffer.append(lines: lines, lineCount: lineCount)
            counters.skippedFields += skippedFields
            counters.enqueued += 1
            if gated { roundMessages.append(deliveryNumber) }
        }

        func encode(_ validated: ValidatedMessage, receivedAtNanos: Int64, deliveryNumber: UInt64) throws(RejectReason) {
            let tenant = validated.address.tenantID
            if tenant != lastTenant || current == nil {
                lastTenant = tenant
                let database = configuration.databaseNamer.database(forTenant: tenant)
                if database != current?.database {
                    if let current { buffers[current.database] = current.buffer }
                    current = (database, buffers.removeValue(forKey: database) ?? DatabaseBuffer())
                }
            }
            let skipped = try current!.buffer.append(validated, receivedAtNanos: receivedAtNanos, encoder: configuration.encoder)
            counters.skippedFields += skipped
            counters.enqueued += 1
            if gated { roundMessages.append(deliveryNumber) }
        }

        func refuse(_ message: InboundMessage, _ reason: RejectReason) {
            counters.reject(reason)
            if gated { refusedMessages.append(message.deliveryNumber) }
            // The payload is handed on only when it is stored (never in MODE=PROD).
            rejects?.record(topic: message.topic, payload: rejects?.storesPayloads == true ? message.payload : nil,
                            reason: reason, receivedAtNanos: message.receivedAtNanos)
            logger.debug("message rejected", metadata: [
                "reason": "\(reason.rawValue)", "topic": "\(message.topic)", "bytes": "\(message.payload.count)",
            ])
        }

        /// Messages whose registry lookup answered, in the order the waiting room releases them.
        func release(_ released: [RegistryWaits.Released]) {
            for item in released {
                do throws(RejectReason) {
                    if let refusal = item.refusal { throw refusal }
                    switch item.work {
                    case let .envelope(validated):
                        try encode(validated, receivedAtNanos: item.message.receivedAtNanos,
                                   deliveryNumber: item.message.deliveryNumber)
                    case let .mapped(mapped):
                        append(database: mapped.database, lines: mapped.lines, lineCount: mapped.lineCount,
                               skippedFields: mapped.skippedFields, deliveryNumber: item.message.deliveryNumber)
                    }
                } catch {
                    refuse(item.message, error)
                }
            }
        }

        /// Hands this round's lines to the writer, one call per database.
        func flush() async {
            // This round's lookups start before anything waits (README "Slow or hung registry").
            waits?.startLookups()
            if let held = current {
                buffers[held.database] = held.buffer
                current = nil
            }
            var highestSequence: UInt64?
            for (database, buffer) in buffers where buffer.lineCount > 0 {
                let sequences = sequenceLines(database: database, buffer.bytes, lineCount: buffer.lineCount)
                if let last = sequences?.upperBound { highestSequence = max(highestSequence ?? 0, last) }
                await sink.append(database: database, lines: buffer.bytes, lineCount: buffer.lineCount,
                                  journalSequences: sequences)
            }
            if let acknowledgements {
                // This round's messages wait for every line of the round: the writer's mark is a
                // low-water mark, and acknowledgements leave in arrival order anyway.
                acknowledgements.decide(refusedMessages, .nothing)
                acknowledgements.decide(roundMessages, highestSequence.map { .safe(upTo: $0) } ?? .nothing)
                refusedMessages.removeAll(keepingCapacity: true)
                roundMessages.removeAll(keepingCapacity: true)
            }
            // Tenants repeat from chunk to chunk: keep a ready buffer for those of this chunk, and drop
            // the ones that had nothing, so a fleet of many tenants does not hold a buffer for each.
            for database in Array(buffers.keys) {
                if buffers[database]?.lineCount == 0 { buffers[database] = nil } else { buffers[database]?.reset() }
            }
            if let waits {
                counters.registryMessagesWaiting = waits.messagesWaiting
                counters.registryLookupsWaiting = waits.lookupsRunning
            }
            metrics.publish(counters)
        }

        /// The waiting room is full: backpressure, never a drop. Takes nothing more from the intake,
        /// releasing what lookups answer, until `decide` (asking the room again) no longer says full.
        func untilRoom(
            _ decide: () throws(RejectReason) -> RegistryWaits.Decision
        ) async throws(RejectReason) -> RegistryWaits.Decision {
            guard let waits else { return .authorized }
            while true {
                await flush()
                await waits.waitForAnswer()
                release(waits.takeReleased())
                let decision = try decide()
                if case .full = decision { continue }
                return decision
            }
        }

        while true {
            if let released = waits?.takeReleased(), !released.isEmpty {
                release(released)
                await flush()
            }
            // Returns early, empty, when a lookup answered (`IntakeQueue.wakeConsumer()`).
            guard let chunk = await intake.next(maxCount: configuration.chunkSize) else { break }
            // Read once per chunk: a reload (SIGHUP) applies from the next chunk on.
            let mapping = configuration.mapping?.current
            for var message in chunk {
                counters.received += 1
                if gated {
                    message.deliveryNumber = nextDeliveryNumber
                    nextDeliveryNumber += 1
                }
                if let mapping {
                    switch mapped(message, mapping) {
                    case .envelope: break
                    case .done: continue
                    case let .full(device, database, lineCount, skipped):
                        do throws(RejectReason) {
                            // `mappingScratch.output` still holds the message's lines: releasing others
                            // meanwhile appends their own copies and maps nothing.
                            let decision = try await untilRoom { () throws(RejectReason) -> RegistryWaits.Decision in
                                try waits?.authorize(device: device, message, lines: {
                                    MappedLines(database: database, lines: mappingScratch.output, lineCount: lineCount,
                                                skippedFields: skipped)
                                }) ?? .authorized
                            }
                            if case .authorized = decision {
                                append(database: database, lines: mappingScratch.output, lineCount: lineCount, skippedFields: skipped,
                                       deliveryNumber: message.deliveryNumber)
                            }
                        } catch {
                            refuse(message, error)
                        }
                        continue
                    }
                }
                do throws(RejectReason) {
                    // The clock is read only for the rate limiter.
                    let now = rateLimiter.isEnabled ? clock.now() : 0
                    let validated = try configuration.validator.validate(
                        topic: message.topic, payload: message.payload, rateLimiter: &rateLimiter, now: now)
                    if let waits {
                        var decision = try waits.authorize(validated, message)
                        if case .full = decision {
                            decision = try await untilRoom { () throws(RejectReason) -> RegistryWaits.Decision in
                                try waits.authorize(validated, message)
                            }
                        }
                        if case .waiting = decision { continue }
                    }
                    try encode(validated, receivedAtNanos: message.receivedAtNanos, deliveryNumber: message.deliveryNumber)
                } catch {
                    refuse(message, error)
                }
            }
            await flush()
        }
        // The intake is closed and empty: the messages still waiting for a lookup are released within
        // REGISTRY_WAIT_SECONDS.
        while let waits, !waits.isEmpty {
            await waits.waitForAnswer()
            release(waits.takeReleased())
            await flush()
        }
        metrics.publish(counters)
        // The intake closes while the MQTT source is still shutting down. Returning before our own turn
        // would make the service group treat it as an unexpected exit and cancel the writer's drain.
        try? await gracefulShutdown()
        logger.info("pipeline drained", metadata: [
            "received": "\(counters.received)", "enqueued": "\(counters.enqueued)", "rejected": "\(counters.rejected)",
        ])
    }

    /// Numbers the lines (and, DURABILITY=journal, appends them to the crash journal). A failure
    /// (a database name the journal cannot record) is logged, and the lines still go to the writer:
    /// refusing them would lose them for certain; their messages are then acknowledged unprotected.
    private func sequenceLines(database: String, _ lines: [UInt8], lineCount: Int) -> ClosedRange<UInt64>? {
        guard let sequencer else { return nil }
        do {
            return try sequencer.sequence(database: database, lines: lines, lineCount: lineCount)
        } catch {
            logger.error("crash journal: append failed; lines continue without journal protection", metadata: [
                "database": "\(database)", "error": "\(error)",
            ])
            return nil
        }
    }
}
