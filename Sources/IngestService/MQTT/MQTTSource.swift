import Foundation
import Logging
import ServiceLifecycle
import Synchronization
import UnixSignals

/// The MQTT intake: a ServiceLifecycle `Service` that keeps a broker connection up and copies every
/// message into an `IntakeQueue`, through the client `MQTT_CLIENT` names: `NativeMQTTSession` (the
/// default) or `MosquittoSession` (README "MQTT clients").
///
/// ## Loop
/// The network loop runs on a `Thread` of its own (`mqtt-loop`), never on Swift's cooperative pool
/// (one thread per core): the loop blocks in `poll` (or libmosquitto's `select`) and, on purpose, in
/// `IntakeQueue.put` when the intake is full. See `MosquittoSession` for why libmosquitto runs in our
/// own loop rather than `mosquitto_loop_start`.
///
/// ## Shutdown
/// On graceful shutdown `run()` sets a stop flag. Within one poll interval (100 ms) the loop thread
/// sends DISCONNECT (normal disconnection, so the broker keeps the persistent session and everything
/// not yet delivered), closes the socket and exits; `run()` awaits that (without blocking a thread),
/// frees the handle, and only then closes the intake, so every message already acknowledged to the
/// broker is in the intake before the consumer can see `nil`.
///
/// Deadlock freedom: if the loop thread is blocked in `put` on a full intake when shutdown starts,
/// it is released as the consumer keeps draining. **The consumer must keep calling `next` until it
/// returns `nil`.** With ServiceLifecycle that holds when the consumer's service is listed *before*
/// this one (services stop in reverse order, so the consumer still runs while the intake stops).
/// If `run()` is *cancelled* instead (a group tearing down after a failure, or the graceful period
/// running out) the consumer may be gone: then the intake is closed at once, a blocked `put` returns
/// false (that message is logged as not taken), and the loop thread can always finish. Losing the
/// in-memory intake on cancellation is the same as a crash with `DURABILITY=memory`.
///
/// ## Delivery
/// The native client sends a QoS 1 PUBACK (QoS 2 PUBREC) only once the intake has taken the
/// message, so a message not in the intake is never acknowledged: the broker delivers it again after
/// a crash. libmosquitto 2.0 sends the PUBACK before its message callback runs. With DURABILITY=memory
/// what is in the intake is acknowledged: a crash loses at most what ingestd holds in memory. With
/// `acknowledgements` (DURABILITY=journal/broker, native client only) a message is acknowledged only
/// once it is safe, and a crash loses nothing acknowledged (README "Durability modes"). QoS 1 can
/// deliver duplicates after a reconnect; the writer's explicit timestamps make them overwrite
/// themselves in InfluxDB.
public final class MQTTSource: Service, Sendable {
    public let configuration: MQTTConfiguration
    public let intake: IntakeQueue
    public let metrics = MQTTMetrics()
    private let logger: Logger
    private let started = Atomic<Bool>(false)
    /// DURABILITY=journal/broker: acknowledgements wait for the relay (native client only).
    private let acknowledgements: AcknowledgementRelay?
    private let acknowledgementWaitAtStop: Duration

    /// `acknowledgements`: the native client acknowledges a message only once the relay released it,
    /// and at a stop waits up to `acknowledgementWaitAtStop` for those still due (README "Delivery
    /// guarantees"). libmosquitto acknowledges before ingestd sees a message, so it cannot take one.
    public init(configuration: MQTTConfiguration, intake: IntakeQueue, logger: Logger,
                acknowledgements: AcknowledgementRelay? = nil, acknowledgementWaitAtStop: Duration = .seconds(20)) {
        precondition(acknowledgements == nil || configuration.client == .native,
                     "deferred acknowledgements need the native MQTT client")
        self.configuration = configuration
        self.intake = intake
        self.logger = logger
        self.acknowledgements = acknowledgements
        self.acknowledgementWaitAtStop = acknowledgementWaitAtStop
    }

    /// Runs until graceful shutdown (or cancellation), then disconnects cleanly, closes the intake
    /// and returns. Connection failures are retried forever; only an unusable configuration throws
    /// (and closes the intake too, so the consumer ends). May be called once per instance.
    public func run() async throws {
        guard !started.exchange(true, ordering: .relaxed) else { throw MQTTSourceError.alreadyRunning }
        let problems = configuration.problems()
        guard problems.isEmpty else {
            intake.close()
            throw MQTTSourceError.invalidConfiguration(problems)
        }
        let session: any MQTTClientLoop
        do {
            switch configuration.client {
            case .native:
                session = try NativeMQTTSession(configuration: configuration, intake: intake, metrics: metrics, logger: logger,
                                                acknowledgements: acknowledgements,
                                                acknowledgementWaitAtStop: acknowledgementWaitAtStop)
            case .libmosquitto:
                session = try MosquittoSession(configuration: configuration, intake: intake, metrics: metrics, logger: logger)
            }
        } catch {
            intake.close()
            throw error
        }
        logger.info("mqtt starting", metadata: [
            "host": "\(configuration.host)", "port": "\(configuration.port)",
            "topics": "\(configuration.subscriptionFilters.joined(separator: ","))",
            "qos": "\(configuration.qos)", "client_id": "\(configuration.clientID)",
            "protocol": "\(configuration.protocolVersion.rawValue)", "clean_session": "\(configuration.cleanSession)",
            "tls": "\(configuration.tls != nil)", "username": "\(configuration.username ?? "-")",
            "intake_capacity": "\(intake.capacity)", "client": "\(configuration.client.rawValue)",
            "receive_maximum": "\(configuration.protocolVersion == .v5 ? "\(configuration.receiveMaximum)" : "broker's")",
            "libmosquitto": "\(MosquittoLibrary.version)",
        ])

        let finished = CompletionSignal()
        let thread = Thread {
            session.runLoop()
            finished.fire()
        }
        thread.name = "mqtt-loop"
        thread.start()

        // With deferred acknowledgements the stop waits for them; a second SIGTERM/SIGINT (the first
        // starts the graceful shutdown) disconnects at once, as it stops the writer's wait.
        var secondSignal: Task<Void, Never>?
        if acknowledgements != nil, let native = session as? NativeMQTTSession {
            let signals = await UnixSignalsSequence(trapping: .sigterm, .sigint)
            secondSignal = Task {
                var seen = 0
                for await _ in signals {
                    seen += 1
                    if seen >= 2 { native.abandonAcknowledgementWait(); return }
                }
            }
        }
        defer { secondSignal?.cancel() }
        let intake = self.intake
        await withTaskCancellationHandler {
            await withGracefulShutdownHandler {
                await finished.wait()
            } onGracefulShutdown: {
                session.requestStop()
            }
        } onCancel: {
            session.requestStop()
            intake.close()
        }
        session.close()
        intake.close()
        logger.info("mqtt stopped", metadata: [
            "received": "\(metrics.messagesReceived)", "reconnects": "\(metrics.reconnects)",
            "intake_pending": "\(intake.count)",
        ])
    }
}
