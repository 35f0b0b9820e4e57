import IngestCore

/// `ingestd-bench hotpath --count N`: decode → validate → line protocol of the bench's payloads in
/// one thread, no I/O — the part of ingestd's per-message cost that lives in IngestCore. Meant for
/// `valgrind --tool=callgrind` (repeatable instruction counts on a noisy machine); prints ns/message.
///
/// `--auth` adds what a hit of ingestd's auth cache costs, minus its lock: an `LRUCache` lookup from
/// outside IngestCore (as `AuthService` does it, so specialization across modules counts) and
/// `DeviceAuthorizer` with the cached verified token. Not `AuthService` itself: that is async, and
/// valgrind 3.19 crashes on the threads of the concurrency runtime.
struct HotPath {
    let count: Int
    let devices: Int
    let auth: Bool
    let mapped: Bool

    init(options: Options) {
        count = options.int("count", 200_000)
        devices = max(1, options.int("devices", 1000))
        auth = options.flag("auth")
        mapped = options.flag("mapped")
    }

    /// Mirrors the auth service's cache entry (internal to IngestService).
    private final class CachedAuth {
        let record: DeviceRecord?
        let verifiedToken: String?
        let staleUntil: UInt64 = 0

        init(record: DeviceRecord?, verifiedToken: String?) {
            self.record = record
            self.verifiedToken = verifiedToken
        }
    }

    func run() {
        if mapped { return runMapped() }
        let validator = MessageValidator(
            maxPayloadBytes: 8192, topicParser: TopicParser(allowedMessageTypes: ["telemetry", "heartbeat"]),
            decoder: EnvelopeDecoder())
        let encoder = LineProtocolEncoder()
        var limiter = RateLimiter(ratePerSecond: 0, burst: 1, maxDevices: 1)
        var clock = ISOClock()
        // 10 payloads per device, cycled (a fixed set, so instruction counts of two runs differ only
        // by the messages processed).
        let samples = (0..<(10 * devices)).map { index -> (String, [UInt8]) in
            let device = index % devices
            var payload: [UInt8] = []
            Publisher.appendPayload(to: &payload, seq: index / devices, ts: clock.now(),
                                    site: Array(Publisher.site(deviceIndex: device).utf8), tenant: Array("acme".utf8),
                                    token: Array(Publisher.token(deviceIndex: device).utf8))
            return ("tenant/acme/device/\(Publisher.deviceID(device))/telemetry", payload)
        }
        let authorizer = DeviceAuthorizer(requireToken: true)
        var authCache = LRUCache<DeviceKey, CachedAuth>(capacity: 10_000)
        if auth {
            for device in 0..<devices {
                let token = Publisher.token(deviceIndex: device)
                let record = DeviceRecord(
                    tenantID: "acme", deviceID: Publisher.deviceID(device), siteID: Publisher.site(deviceIndex: device),
                    status: "ACTIVE", provisionTokenHash: TokenHasher.sha256Hex(token))
                authCache.put(record.deviceKey, CachedAuth(record: record, verifiedToken: token), expiresAt: .max)
            }
        }
        var buffer: [UInt8] = []
        buffer.reserveCapacity(1 << 20)
        var lines = 0
        let start = monotonicNanos()
        for index in 0..<count {
            let (topic, payload) = samples[index % samples.count]
            do throws(RejectReason) {
                let message = try validator.validate(topic: topic, payload: payload, rateLimiter: &limiter, now: 0)
                if auth {
                    guard let (entry, _) = authCache.lookup(message.address.deviceKey, now: 0) else { fail("auth cache miss") }
                    _ = try authorizer.authorize(message, record: entry.record, verifiedToken: entry.verifiedToken)
                }
                _ = try encoder.append(message, receivedAtNanos: 0, to: &buffer)
                lines += 1
            } catch {
                fail("refused: \(error.rawValue)")
            }
            if buffer.count > 1 << 19 { buffer.removeAll(keepingCapacity: true) }
        }
        let nanos = monotonicNanos() - start
        emit(#"{"hotpath_messages":\#(lines),"ns_per_message":\#(nanos / Int64(max(1, count)))}"#)
    }

    /// `--mapped`: the same five readings as Zigbee2MQTT payloads through the rules of
    /// `config/mappings/zigbee2mqtt.yaml` (its fields written out here: the bench has no YAML parser),
    /// the envelope rule first as in a file that keeps both.
    private func runMapped() {
        let types: [String: String] = [
            "temperature": "float", "humidity": "float", "pressure": "float", "battery": "float", "voltage": "integer",
            "linkquality": "integer", "illuminance": "float", "illuminance_lux": "float", "co2": "float", "power": "float",
            "energy": "float", "current": "float", "brightness": "integer", "state": "boolean", "contact": "boolean",
            "occupancy": "boolean", "water_leak": "boolean", "tamper": "boolean", "battery_low": "boolean", "action": "string",
        ]
        let definition = MappingDefinition(rules: [
            RuleDefinition(name: "envelope", topic: "tenant/+/device/+/+", payload: "envelope"),
            RuleDefinition(name: "zigbee2mqtt", topic: "zigbee2mqtt/{device}", tenant: "home", device: "{device}",
                           measurement: "zigbee", tags: ["device": "{device}"],
                           fields: types.mapValues { FieldDefinition(type: $0) }),
        ])
        let rules: MappingRuleSet
        do { rules = try MappingCompiler().compile(definition) } catch { fail("rules: \(error)") }
        let samples = (0..<(10 * devices)).map { index -> (String, [UInt8]) in
            var payload: [UInt8] = []
            Publisher.appendZigbeePayload(to: &payload, seq: index / devices)
            return ("zigbee2mqtt/\(Publisher.deviceID(index % devices))", payload)
        }
        var limiter = RateLimiter(ratePerSecond: 0, burst: 1, maxDevices: 1)
        var scratch = MappingScratch()
        var buffer: [UInt8] = []
        buffer.reserveCapacity(1 << 20)
        var lines = 0
        let start = monotonicNanos()
        for index in 0..<count {
            let (topic, payload) = samples[index % samples.count]
            do throws(RejectReason) {
                guard case .mapped(_, _, let count, _, _) = try rules.map(
                    topic: topic, payload: payload, receivedAtNanos: 0, rateLimiter: &limiter, scratch: &scratch)
                else { fail("not mapped") }
                // As the pipeline does: the lines go on to the database's buffer.
                buffer.append(contentsOf: scratch.output)
                lines += count
            } catch {
                fail("refused: \(error.rawValue)")
            }
            if buffer.count > 1 << 19 { buffer.removeAll(keepingCapacity: true) }
        }
        let nanos = monotonicNanos() - start
        emit(#"{"hotpath_messages":\#(lines),"ns_per_message":\#(nanos / Int64(max(1, count)))}"#)
    }
}
