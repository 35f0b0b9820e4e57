import IngestCore

extension Settings {
    /// The compiler of MAPPING_FILE, with the settings a rule's points share with the envelope's:
    /// the database template (a rule without `database`) and the metric limits (`flatten`).
    public var mappingLoader: MappingFileLoader {
        MappingFileLoader(compiler: MappingCompiler(
            databaseNamer: DatabaseNamer(template: influxDatabaseTemplate),
            limits: EnvelopeLimits(maxMetricKeys: maxMetricKeys, integersAsIntegers: metricsIntegers)))
    }

    /// MAPPING_FILE's rules, or the built-in rule (the envelope) without one.
    public func loadMappingRules() throws(MappingError) -> MappingRuleSet {
        if let mappingFile { return try mappingLoader.load(path: mappingFile) }
        return try mappingLoader.compiler.compile(.builtIn)
    }

    /// MQTT_TOPIC as set, else, with a rule file, one subscription per distinct rule topic.
    public func subscriptions(for rules: MappingRuleSet?) -> [String] {
        let topicFromEnvironment = entries.first { $0.name == "MQTT_TOPIC" }?.isFromEnvironment ?? false
        guard let rules, mappingFile != nil, !topicFromEnvironment else { return mqttTopics }
        return rules.subscriptions
    }
}
