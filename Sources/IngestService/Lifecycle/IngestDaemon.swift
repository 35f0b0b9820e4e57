import IngestCore
import Logging
import ServiceLifecycle

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

        let auth = registry.map {
            AuthService(
                registry: $0,
                configuration: AuthCacheConfiguration(
                    maxSize: settings.authCacheMaxSize, ttlSeconds: settings.authCacheTTLSeconds,
                    negativeTTLSeconds: settings.authCacheNegativeTTLSeconds,
                    staleSeconds: settings.authCacheStaleSeconds, registryWaitSeconds: Double(settings.registryWaitSeconds),
                    autoProvision: settings.autoProvision),
                requireToken: settings.requireToken, clock: clock, logger: logger)
        }

        let intake = IntakeQueue(capacity: settings.intakeCapacity)
        let mqtt = MQTTSource(configuration: settings.mqttConfiguration, intake: intake, logger: logger)
        let client = InfluxClient(configuration: settings.influxClientConfiguration, logger: logger)
        let writer = BatchWriter(configuration: settings.batchWriterConfiguration, client: client, logger: logger)
        let quarantine = settings.quarantineConfiguration.isActive
            ? QuarantineService(configuration: settings.quarantineConfiguration, sink: writer, logger: logger) : nil
        let pipeline = IngestPipeline(
            configuration: settings.pipelineConfiguration(clock: clock), intake: intake, auth: auth,
            sink: writer, clock: clock, logger: logger, rejects: quarantine)
        let stats = StatsReporter(everySeconds: settings.logStatsEverySeconds, clock: clock, logger: logger) {
            var snapshot = StatsSnapshot()
            snapshot.pipeline = pipeline.metrics.snapshot
            writer.metrics.fill(&snapshot)
            mqtt.metrics.fill(&snapshot)
            if let auth {
                let cache = auth.cacheStatistics
                snapshot.authCacheHits = cache.hits
                snapshot.authCacheMisses = cache.misses
                snapshot.authCacheSize = cache.size
            }
            return snapshot
        }

        // The registry and the quarantine stop after the pipeline (reverse order), the writer after them.
        var services: [any Service] = [stats, writer]
        if let quarantine { services.append(quarantine) }
        if let postgres = registry as? PostgresDeviceRegistry {
            services.append(postgres)
            if let auth { postgres.onInvalidation { auth.invalidate($0) } }
        }
        services.append(pipeline)
        if let registry, let auth {
            services.append(RegistryReloader(registry: registry as? FileDeviceRegistry, logger: logger) { auth.clearCache() })
        }
        services.append(mqtt)

        logger.info("ingestd starting", metadata: [
            "version": "\(IngestdVersion.current)",
            "mqtt": "\(settings.mqttHost):\(settings.mqttPort)",
            "topics": "\(settings.mqttTopics.joined(separator: ","))",
            "client_id": "\(settings.mqttClientID)",
            "influxdb": "\(settings.influxURL)",
            "influxdb_api": "\(settings.influxAPI.rawValue)",
            "write_enabled": "\(settings.influxWriteEnabled ? 1 : 0)",
            "registry": "\(settings.registry.rawValue)",
            "devices": "\((registry as? FileDeviceRegistry)?.count ?? 0)",
            "require_token": "\(settings.requireToken ? 1 : 0)",
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
}
