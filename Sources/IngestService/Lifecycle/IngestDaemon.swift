import Foundation
import IngestCore
import Logging
import ServiceLifecycle
import Synchronization

/// Builds the running system from `Settings` and runs it until SIGTERM or SIGINT.
///
/// Services are listed so that the service group's reverse-order shutdown stops them in the order
/// that loses nothing: the MQTT source disconnects first (the broker keeps what was not delivered),
/// the pipeline then drains the intake into the writer, the writer flushes to InfluxDB, and the stats
/// reporter writes its final line last.
public struct IngestDaemon: Sendable {
    public let settings: Settings

    public init(settings: Settings) {
        self.settings = settings
    }

    public func run() async -> IngestExitCode {
        let logger = Logger(label: "ingestd")
        let clock = SystemMonotonicClock()

        // MAPPING_FILE: compiled once here; a bad file stops start-up like any bad setting.
        var mappingStore: MappingRulesStore?
        if let path = settings.mappingFile {
            do {
                mappingStore = MappingRulesStore(try settings.mappingLoader.load(path: path))
            } catch {
                logger.critical("invalid configuration: bad mapping file", metadata: [
                    "variable": "MAPPING_FILE", "path": "\(path)", "rule": "\(error.rule)", "field": "\(error.field)",
                    "error": "\(error.message)", "exit_code": "78",
                ])
                return .badConfiguration
            }
        }

        let registry: (any DeviceRegistry)?
        switch settings.registry {
        case .file:
            do {
                registry = try FileDeviceRegistry(path: settings.registryFile)
            } catch {
                logger.critical("invalid configuration: cannot load the registry", metadata: [
                    "variable": "REGISTRY_FILE", "path": "\(settings.registryFile)", "error": "\(error)", "exit_code": "78",
                ])
                return .badConfiguration
            }
        case .postgres:
            registry = PostgresDeviceRegistry(configuration: settings.postgresRegistryConfiguration, logger: logger)
        case .none:
            registry = nil
            logger.warning("REGISTRY=none: every device is accepted, its site taken from the payload, no token is checked")
        }

        // One ingestd per spool directory: two would replay and delete each other's segments.
        let lock: InstanceLock
        let store: DurableStore
        do {
            try Self.createDirectory(settings.spoolDirectory)
            lock = try InstanceLock(directory: settings.spoolDirectory)
            store = try DurableStore(directory: settings.spoolDirectory, maxBytes: Int64(settings.spoolMaxBytes), logger: logger)
        } catch let error as SpoolError {
            if case let .alreadyLocked(path, pid) = error {
                logger.critical("another ingestd is running on this spool directory", metadata: [
                    "lock": "\(path)", "pid": "\(pid.map(String.init) ?? "unknown")", "exit_code": "75",
                ])
                return .locked
            }
            logger.critical("invalid configuration: cannot use the spool directory", metadata: [
                "variable": "SPOOL_DIR", "path": "\(settings.spoolDirectory)", "error": "\(error)", "exit_code": "78",
            ])
            return .badConfiguration
        } catch {
            logger.critical("invalid configuration: cannot create the spool directory", metadata: [
                "variable": "SPOOL_DIR", "path": "\(settings.spoolDirectory)", "error": "\(error)", "exit_code": "78",
            ])
            return .badConfiguration
        }
        defer { lock.release() }
        await store.refreshMetrics()

        var journal: CrashJournal?
        if settings.durability == .journal {
            do {
                let opened = try CrashJournal(
                    directory: settings.spoolDirectory + "/journal", logger: logger,
                    corruptDirectory: store.spool.corruptDirectory)
                store.metrics.corruptFiles.wrappingAdd(opened.corruptFiles, ordering: .relaxed)
                store.metrics.corruptLines.wrappingAdd(opened.corruptLines, ordering: .relaxed)
                journal = opened
            } catch {
                logger.critical("invalid configuration: cannot open the crash journal", metadata: [
                    "variable": "DURABILITY", "path": "\(settings.spoolDirectory)/journal", "error": "\(error)", "exit_code": "78",
                ])
                return .badConfiguration
            }
        }

        let exporter = settings.healthListen.map { _ in MetricsExporter() }
        let lookupObserver: (@Sendable (Duration) -> Void)? = exporter.map { exporter in
            { @Sendable duration in exporter.recordRegistryLookup(duration) }
        }
        let auth = registry.map {
            AuthService(
                registry: $0,
                configuration: AuthCacheConfiguration(
                    maxSize: settings.authCacheMaxSize, ttlSeconds: settings.authCacheTTLSeconds,
                    negativeTTLSeconds: settings.authCacheNegativeTTLSeconds,
                    staleSeconds: settings.authCacheStaleSeconds, registryWaitSeconds: Double(settings.registryWaitSeconds),
                    autoProvision: settings.autoProvision),
                requireToken: settings.requireToken, clock: clock, logger: logger,
                lookupDurationObserver: lookupObserver)
        }

        // DURABILITY=journal/broker: a message is acknowledged to the broker only once it is safe
        // (README "Delivery guarantees"). The pipeline numbers every line (the journal, or only in
        // memory), the writer's low-water mark and the journal's syncs say which numbers are safe.
        let acknowledgements = settings.durability.acknowledgesWhenSafe ? AcknowledgementRelay() : nil
        let sequencer: (any LineSequencer)?
        let safeLines: (any SafeSequenceObserver)?
        switch settings.durability {
        case .memory:
            sequencer = journal
            safeLines = journal
        case .journal:
            sequencer = journal
            safeLines = journal.map { SafeSequenceObservers([$0] + (acknowledgements.map { [$0] } ?? [])) }
        case .broker:
            sequencer = MemoryLineSequencer()
            safeLines = acknowledgements
        }

        if settings.durability.acknowledgesWhenSafe, settings.mqttProtocol == .v311 {
            logger.warning("MQTT 3.1.1 has no Receive Maximum: the broker's own window bounds the rate while acknowledgements wait until a message is safe", metadata: [
                "variable": "DURABILITY", "durability": "\(settings.durability.rawValue)",
                "hint": "raise the broker's limit (mosquitto: max_inflight_messages, default 20) or use MQTT_PROTOCOL=5",
            ])
        }

        let intake = IntakeQueue(capacity: settings.intakeCapacity)
        var mqttConfiguration = settings.mqttConfiguration
        mqttConfiguration.topics = settings.subscriptions(for: mappingStore?.current)
        let mqtt = MQTTSource(configuration: mqttConfiguration, intake: intake, logger: logger,
                              acknowledgements: acknowledgements,
                              // Half the stop's time: the writer's drain, which follows, keeps its own
                              // SHUTDOWN_TIMEOUT_SECONDS, and systemd's TimeoutStopSec (45 s) must cover both.
                              acknowledgementWaitAtStop: .milliseconds(settings.shutdownTimeoutSeconds * 500))
        let client = InfluxClient(configuration: settings.influxClientConfiguration, logger: logger)
        let writerClient: any InfluxWriting = exporter.map { InstrumentedInfluxWriter(wrapping: client, exporter: $0) } ?? client
        let writer = BatchWriter(configuration: settings.batchWriterConfiguration, client: writerClient, store: store,
                                 journal: safeLines, logger: logger)
        let replayer = SpoolReplayer(store: store, client: client, backoff: settings.retryBackoff, logger: logger)
        let quarantine = settings.quarantineConfiguration.isActive
            ? QuarantineService(configuration: settings.quarantineConfiguration, sink: writer, logger: logger) : nil
        var pipelineConfiguration = settings.pipelineConfiguration(clock: clock)
        pipelineConfiguration.mapping = mappingStore
        let pipeline = IngestPipeline(
            configuration: pipelineConfiguration, intake: intake, auth: auth,
            sink: writer, sequencer: sequencer, acknowledgements: acknowledgements, clock: clock, logger: logger,
            rejects: quarantine)
        // One collector for the stats line, /metrics and sd_notify STATUS=, so they always agree.
        let collect: @Sendable () -> StatsSnapshot = {
            var snapshot = StatsSnapshot()
            snapshot.pipeline = pipeline.metrics.snapshot
            writer.metrics.fill(&snapshot)
            mqtt.metrics.fill(&snapshot)
            store.metrics.fill(&snapshot)
            if let auth {
                let cache = auth.cacheStatistics
                snapshot.authCacheHits = cache.hits
                snapshot.authCacheMisses = cache.misses
                snapshot.authCacheSize = cache.size
                snapshot.registryLookupMilliseconds = auth.lastLookupDuration
            }
            // A registry that watches itself says; otherwise the auth cache knows of an outage.
            if let up = registry?.isUp {
                snapshot.registryUp = up
            } else if let auth {
                snapshot.registryUp = !auth.registryUnavailable
            }
            return snapshot
        }
        let stats = StatsReporter(everySeconds: settings.logStatsEverySeconds, clock: clock, logger: logger, collect: collect)

        // Reverse order on shutdown: the pipeline stops, then the registry and the quarantine, the
        // replayer, the writer (drain), the stats line, the journal's last sync, the health server.
        var services: [any Service] = [stats, writer, replayer]
        if let quarantine { services.append(quarantine) }
        if let postgres = registry as? PostgresDeviceRegistry {
            services.append(postgres)
            if let auth { postgres.onInvalidation { auth.invalidate($0) } }
        }
        services.append(pipeline)
        if let journal {
            // Before the writer, so stopped after it: the journal's last sync records the final acknowledgements.
            services.insert(JournalService(journal: journal, sink: writer,
                                           syncEvery: .milliseconds(settings.journalSyncMilliseconds),
                                           acknowledgements: acknowledgements, logger: logger), at: 0)
        }
        if let address = settings.healthListen, let exporter {
            // First in the list, so stopped last: /healthz answers while ingestd drains.
            let routes = HealthRoutes(
                readiness: { collect().readiness(registryUp: registry?.isUp) },
                metrics: { exporter.render(collect()) })
            services.insert(HealthServer(address: address, routes: routes, logger: logger), at: 0)
        }
        if let registry, let auth {
            services.append(RegistryReloader(registry: registry as? FileDeviceRegistry, logger: logger) { auth.clearCache() })
        }
        if let path = settings.mappingFile, let mappingStore {
            services.append(MappingReloader(path: path, loader: settings.mappingLoader, store: mappingStore, logger: logger))
        }
        services.append(mqtt)
        // Last in the list, so stopped first: STOPPING=1 goes out as the drain begins.
        let maxBuffered = settings.influxMaxBufferLines
        let notifier = SystemdNotifier(
            subscribed: { mqtt.metrics.subscribed == 1 },
            progress: {
                SystemdNotifier.Progress(
                    received: pipeline.metrics.snapshot.received, intakeDepth: intake.count,
                    writerAtMemoryBound: writer.metrics.bufferedLines.load(ordering: .relaxed) >= maxBuffered)
            },
            status: {
                let s = collect()
                return "received=\(s.pipeline.received) enqueued=\(s.pipeline.enqueued) rejected=\(s.pipeline.rejected) "
                    + "influx_buffer=\(s.influxBufferedLines) influx_up=\(s.influxUp ? 1 : 0) mqtt_connected=\(s.mqttConnected ? 1 : 0)"
            },
            logger: logger)
        if notifier.isEnabled { services.append(notifier) }

        logger.info("ingestd starting", metadata: [
            "version": "\(IngestdVersion.current)",
            "mqtt": "\(settings.mqttHost):\(settings.mqttPort)",
            "topics": "\(mqttConfiguration.topics.joined(separator: ","))",
            "mapping_rules": "\(mappingStore.map { "\($0.current.rules.count)" } ?? "envelope")",
            "client_id": "\(settings.mqttClientID)",
            "influxdb": "\(settings.influxURL)",
            "influxdb_api": "\(settings.influxAPI.rawValue)",
            "write_enabled": "\(settings.influxWriteEnabled ? 1 : 0)",
            "registry": "\(settings.registry.rawValue)",
            "devices": "\((registry as? FileDeviceRegistry)?.count ?? 0)",
            "require_token": "\(settings.requireToken ? 1 : 0)",
            "spool_dir": "\(settings.spoolDirectory)",
            "durability": "\(settings.durability.rawValue)",
            "spool_segments": "\(store.metrics.segments.load(ordering: .relaxed))",
            "health": "\(settings.healthListen.map { "\($0)" } ?? "off")",
            "shared_group": "\(settings.mqttSharedGroup ?? "-")",
        ])

        let group = ServiceGroup(configuration: .init(
            services: services.map { .init(service: $0) },
            gracefulShutdownSignals: [.sigterm, .sigint],
            logger: logger))
        do {
            try await group.run()
        } catch {
            logger.error("ingestd stopped on an error", metadata: ["error": "\(error)"])
            client.shutdown()
            return .failure
        }
        client.shutdown()
        logger.info("ingestd stopped")
        return .clean
    }

    static func createDirectory(_ path: String) throws {
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }
}
