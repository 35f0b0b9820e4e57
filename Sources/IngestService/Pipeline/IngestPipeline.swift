import IngestCore
import Logging
import ServiceLifecycle

/// Turns inbound MQTT messages into line protocol: validate, authorize, encode, and hand each chunk's
/// lines to the writer grouped by database.
///
/// One task runs the loop; it owns the rate limiter and the per-database scratch buffers, so the hot
/// path needs no locks beyond the auth cache's. It stops when the intake is closed and empty, which
/// happens after the MQTT source has disconnected: everything accepted has then been handed on.
public final class IngestPipeline: Service {
    public struct Configuration: Sendable {
        public var validator: MessageValidator
        public var encoder: LineProtocolEncoder
        public var databaseNamer: DatabaseNamer
        public var rateLimiter: RateLimiter
        /// Messages taken from the intake at once.
        public var chunkSize: Int

        public init(validator: MessageValidator, encoder: LineProtocolEncoder, databaseNamer: DatabaseNamer,
                    rateLimiter: RateLimiter, chunkSize: Int = 512) {
            self.validator = validator
            self.encoder = encoder
            self.databaseNamer = databaseNamer
            self.rateLimiter = rateLimiter
            self.chunkSize = chunkSize
        }
    }

    private let configuration: Configuration
    private let intake: IntakeQueue
    private let auth: AuthService?
    private let sink: any LineSink
    private let clock: any MonotonicClock
    private let logger: Logger
    public let metrics = PipelineMetrics()

    /// `auth` nil means REGISTRY=none: every device is accepted, its site taken from the payload.
    public init(configuration: Configuration, intake: IntakeQueue, auth: AuthService?, sink: any LineSink,
                clock: any MonotonicClock, logger: Logger) {
        self.configuration = configuration
        self.intake = intake
        self.auth = auth
        self.sink = sink
        self.clock = clock
        self.logger = logger
    }

    public func run() async {
        var rateLimiter = configuration.rateLimiter
        var counters = PipelineCounters()
        var buffers: [String: DatabaseBuffer] = [:]
        // Tenants repeat from message to message: name each one's database once per run of it.
        var lastTenant: String?
        var lastDatabase = ""

        while let chunk = await intake.next(maxCount: configuration.chunkSize) {
            for message in chunk {
                counters.received += 1
                do throws(RejectReason) {
                    // The clock is read only for the rate limiter.
                    let now = rateLimiter.isEnabled ? clock.now() : 0
                    let validated = try configuration.validator.validate(
                        topic: message.topic, payload: message.payload, rateLimiter: &rateLimiter, now: now)
                    if let auth { try await auth.authorize(validated) }
                    let tenant = validated.address.tenantID
                    if tenant != lastTenant {
                        lastTenant = tenant
                        lastDatabase = configuration.databaseNamer.database(forTenant: tenant)
                    }
                    let database = lastDatabase
                    let skipped = try buffers[database, default: DatabaseBuffer()].append(
                        validated, receivedAtNanos: message.receivedAtNanos, encoder: configuration.encoder)
                    counters.skippedFields += skipped
                    counters.enqueued += 1
                } catch {
                    counters.reject(error)
                    logger.debug("message rejected", metadata: [
                        "reason": "\(error.rawValue)", "topic": "\(message.topic)", "bytes": "\(message.payload.count)",
                    ])
                }
            }
            for (database, buffer) in buffers where buffer.lineCount > 0 {
                await sink.append(database: database, lines: buffer.bytes, lineCount: buffer.lineCount)
            }
            // Keep the dictionary's keys and capacity: tenants repeat from chunk to chunk.
            for database in buffers.keys { buffers[database]?.reset() }
            metrics.publish(counters)
        }
        metrics.publish(counters)
        // The intake closes while the MQTT source is still shutting down. Returning before our own turn
        // would make the service group treat it as an unexpected exit and cancel the writer's drain.
        try? await gracefulShutdown()
        logger.info("pipeline drained", metadata: [
            "received": "\(counters.received)", "enqueued": "\(counters.enqueued)", "rejected": "\(counters.rejected)",
        ])
    }
}
