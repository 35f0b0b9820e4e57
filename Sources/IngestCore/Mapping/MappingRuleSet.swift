/// The compiled rules of a MAPPING_FILE, tried in order: the first rule whose topic filter matches
/// maps the message (README, "Mapping other devices"); no match is `NO_MAPPING`.
///
/// `map` decides and, for rules other than the envelope, writes the message's lines into
/// `scratch.output`: checks in order payload size → rule → rate limit → JSON → fields and time; the
/// registry check of a `registry: true` rule comes after, in the caller, which owns the registry.
/// An envelope rule is only recognised here: the caller runs `MessageValidator` on the message as
/// it does without a rule file, so that path is unchanged.
public struct MappingRuleSet: Sendable {
    public let rules: [MappingRule]
    let limits: EnvelopeLimits
    let databaseNamer: DatabaseNamer

    public enum Outcome: Sendable, Equatable {
        /// The rule at this index is the origin envelope: validate as without a rule file.
        case envelope(rule: Int)
        /// `scratch.output` holds `lineCount` lines for `database`. `registryDevice`: the rule says
        /// `registry: true`, and the lines may be written only once the registry knows this device
        /// (ACTIVE); the caller checks it, as it does for the envelope.
        case mapped(rule: Int, database: String, lineCount: Int, skippedFields: Int, registryDevice: DeviceKey?)
    }

    init(rules: [MappingRule], limits: EnvelopeLimits, databaseNamer: DatabaseNamer) {
        self.rules = rules
        self.limits = limits
        self.databaseNamer = databaseNamer
    }

    /// The topics to subscribe to for these rules, without repeats.
    public var subscriptions: [String] {
        var seen: Set<String> = []
        return rules.map(\.filter.subscription).filter { seen.insert($0).inserted }
    }

    public func map(
        topic: String, payload: UnsafeRawBufferPointer, receivedAtNanos: Int64, maxPayloadBytes: Int,
        rateLimiter: inout RateLimiter, now: UInt64, scratch: inout MappingScratch
    ) throws(RejectReason) -> Outcome {
        guard payload.count <= maxPayloadBytes else { throw .payloadTooLarge }
        var topic = topic
        return try topic.withUTF8 { utf8 in
            Result { () throws(RejectReason) -> Outcome in
                try map(topic: UnsafeRawBufferPointer(utf8), payload: payload, receivedAtNanos: receivedAtNanos,
                        rateLimiter: &rateLimiter, now: now, scratch: &scratch)
            }
        }.get()
    }

    public func map(
        topic: String, payload: [UInt8], receivedAtNanos: Int64, maxPayloadBytes: Int = 8192,
        rateLimiter: inout RateLimiter, now: UInt64 = 0, scratch: inout MappingScratch
    ) throws(RejectReason) -> Outcome {
        try payload.withUnsafeBytes { raw in
            Result { () throws(RejectReason) -> Outcome in
                try map(topic: topic, payload: raw, receivedAtNanos: receivedAtNanos, maxPayloadBytes: maxPayloadBytes,
                        rateLimiter: &rateLimiter, now: now, scratch: &scratch)
            }
        }.get()
    }

    private func map(
        topic: UnsafeRawBufferPointer, payload: UnsafeRawBufferPointer, receivedAtNanos: Int64,
        rateLimiter: inout RateLimiter, now: UInt64, scratch: inout MappingScratch
    ) throws(RejectReason) -> Outcome {
        guard let index = rules.firstIndex(where: { $0.filter.match(topic, captures: &scratch.captures) }) else {
            throw .noMapping
        }
        let rule = rules[index]
        if rule.payload == .envelope { return .envelope(rule: index) }
        // The device is named (two Strings) only when the rate limit or the registry needs it.
        var registryDevice: DeviceKey?
        if let device = rule.device, rule.registry || rateLimiter.isEnabled {
            scratch.name.removeAll(keepingCapacity: true)
            device.render(topic: topic, captures: scratch.captures, to: &scratch.name)
            let deviceID = String(decoding: scratch.name, as: UTF8.self)
            scratch.name.removeAll(keepingCapacity: true)
            rule.tenant.render(topic: topic, captures: scratch.captures, to: &scratch.name)
            let key = DeviceKey(tenantID: String(decoding: scratch.name, as: UTF8.self), deviceID: deviceID)
            if rateLimiter.isEnabled, !rateLimiter.allow(key, now: now) { throw .rateLimited }
            if rule.registry { registryDevice = key }
        }
        scratch.output.removeAll(keepingCapacity: true)
        var point = PointWriter(rule: rule, limits: limits, tenantTag: databaseNamer.tenantAsTag && rule.database == nil)
        let (lines, skipped) = try point.write(topic: topic, payload: payload, receivedAtNanos: receivedAtNanos, scratch: &scratch)
        return .mapped(rule: index, database: database(rule: index, topic: topic, scratch: &scratch),
                       lineCount: lines, skippedFields: skipped, registryDevice: registryDevice)
    }

    /// The rule's `database` template, else INFLUXDB_DB_TEMPLATE with the rule's tenant. The String
    /// is made once per run of messages naming the same database.
    private func database(rule index: Int, topic: UnsafeRawBufferPointer, scratch: inout MappingScratch) -> String {
        let rule = rules[index]
        scratch.name.removeAll(keepingCapacity: true)
        (rule.database ?? rule.tenant).render(topic: topic, captures: scratch.captures, to: &scratch.name)
        if index == scratch.lastDatabaseRule, scratch.name == scratch.lastDatabaseKey, let database = scratch.lastDatabase {
            return database
        }
        let text = String(decoding: scratch.name, as: UTF8.self)
        let database = rule.database == nil ? databaseNamer.database(forTenant: text) : text
        scratch.lastDatabaseRule = index
        scratch.lastDatabaseKey = scratch.name
        scratch.lastDatabase = database
        return database
    }
}
