import IngestCore

/// `ingestd-bench hotpath --count N`: decode → validate → line protocol of the bench's payloads in
/// one thread, no I/O — the part of ingestd's per-message cost that lives in IngestCore. Meant for
/// `valgrind --tool=callgrind` (repeatable instruction counts on a noisy machine); prints ns/message.
struct HotPath {
    let count: Int
    let devices: Int

    init(options: Options) {
        count = options.int("count", 200_000)
        devices = max(1, options.int("devices", 1000))
    }

    func run() {
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
        var buffer: [UInt8] = []
        buffer.reserveCapacity(1 << 20)
        var lines = 0
        let start = monotonicNanos()
        for index in 0..<count {
            let (topic, payload) = samples[index % samples.count]
            do throws(RejectReason) {
                let message = try validator.validate(topic: topic, payload: payload, rateLimiter: &limiter, now: 0)
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
}
