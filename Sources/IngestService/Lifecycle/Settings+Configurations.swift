import IngestCore

/// The one place where environment settings become the configuration values of each component, so
/// the components stay free of environment names and can be built directly in tests.
extension Settings {
    public var mqttConfiguration: MQTTConfiguration {
        MQTTConfiguration(
            host: mqttHost,
            port: mqttPort,
            topics: mqttTopics,
            qos: mqttQoS,
            clientID: mqttClientID,
            cleanSession: mqttCleanSession,
            protocolVersion: mqttProtocol,
            sessionExpirySeconds: UInt32(clamping: mqttSessionExpirySeconds),
            username: mqttUsername,
            password: mqttPassword,
            keepAliveSeconds: mqttKeepAliveSeconds,
            receiveMaximum: mqttReceiveMaximum,
            sharedGroup: mqttSharedGroup,
            heartbeatTimeoutSeconds: Double(heartbeatTimeoutSeconds),
            tls: mqttTLSEnabled
                ? MQTTTLSConfiguration(caFile: mqttTLSCAFile, certFile: mqttTLSCertFile, keyFile: mqttTLSKeyFile,
                                       insecure: mqttTLSInsecure)
                : nil,
            client: mqttClient,
            maxPayloadBytes: maxPayloadBytes)
    }

    public var influxClientConfiguration: InfluxClientConfiguration {
        InfluxClientConfiguration(
            baseURL: influxURL,
            api: influxAPI,
            token: influxToken,
            org: influxOrg,
            username: influxUsername,
            password: influxPassword,
            timeoutMilliseconds: influxTimeoutMilliseconds,
            gzip: influxGzip,
            writeEnabled: influxWriteEnabled,
            createDatabase: influxCreateDatabase,
            caFile: influxTLSCAFile,
            insecureSkipVerify: influxTLSInsecure,
            // One worker per write the adaptive controller may have in flight.
            concurrency: influxMaxConcurrency,
            v3NoSync: influxV3NoSync)
    }

    public var batchWriterConfiguration: BatchWriterConfiguration {
        BatchWriterConfiguration(
            batchSize: influxBatchSize,
            maxBatchBytes: influxMaxBatchBytes,
            flushIntervalMilliseconds: influxFlushIntervalMilliseconds,
            concurrency: influxConcurrency,
            maxConcurrency: influxMaxConcurrency,
            retryBaseMilliseconds: influxRetryBaseMilliseconds,
            retryMaxDelayMilliseconds: influxRetryMaxDelayMilliseconds,
            shutdownTimeoutSeconds: Double(shutdownTimeoutSeconds),
            maxBufferedLines: influxMaxBufferLines,
            maxBufferedBytes: influxMaxBufferBytes,
            spoolAfterMilliseconds: spoolAfterMilliseconds)
    }

    /// The backoff of InfluxDB writes (INFLUX_RETRY_*), shared by the writer's retries and the replayer.
    public var retryBackoff: RetryBackoff {
        RetryBackoff(baseMilliseconds: influxRetryBaseMilliseconds, maxDelayMilliseconds: influxRetryMaxDelayMilliseconds)
    }

    public func pipelineConfiguration(clock: any MonotonicClock) -> IngestPipeline.Configuration {
        let namer = DatabaseNamer(template: influxDatabaseTemplate)
        return IngestPipeline.Configuration(
            validator: MessageValidator(
                maxPayloadBytes: maxPayloadBytes,
                topicParser: TopicParser(allowedMessageTypes: Set(messageTypes)),
                decoder: EnvelopeDecoder(limits: EnvelopeLimits(
                    maxMetricKeys: maxMetricKeys, integersAsIntegers: metricsIntegers))),
            encoder: LineProtocolEncoder(tenantAsTag: namer.tenantAsTag),
            databaseNamer: namer,
            rateLimiter: RateLimiter(
                ratePerSecond: rateLimitPerSecond, burst: rateLimitBurst, maxDevices: authCacheMaxSize),
            registryWaitMaxMessages: registryWaitMaxMessages, registryWaitMaxBytes: registryWaitMaxBytes)
    }
}
