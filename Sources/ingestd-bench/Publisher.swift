#if canImport(Glibc)
import Glibc
#endif
import CMosquitto

/// Publishes `count` telemetry messages round-robin over `devices` devices of one tenant (or of
/// `--tenants K`: device i belongs to tenant `<tenant><i mod K>`, each its own database), as fast
/// as the broker takes them (`--rate 0`) or at a steady rate, with at most `window` QoS 1 messages
/// unacknowledged. Prints `{"published":N,"seconds":S,"rate":R}` when the broker has acknowledged all.
struct Publisher {
    let host: String
    let port: Int
    let count: Int
    let devices: Int
    let rate: Int
    let qos: Int32
    let window: Int
    let tenant: String
    let tenants: Int
    let clientID: String
    /// `envelope` (default) or `zigbee2mqtt`: Zigbee2MQTT-shaped payloads on zigbee2mqtt/dNNN, for a
    /// drain through `config/mappings/zigbee2mqtt.yaml` (README, "Mapping other devices").
    let shape: String

    init(options: Options) {
        host = options.string("host", "127.0.0.1")
        port = options.int("port", 1883)
        count = options.int("count", 200_000)
        devices = max(1, options.int("devices", 1000))
        rate = options.int("rate", 0)
        qos = Int32(options.int("qos", 1))
        window = max(1, options.int("window", 2000))
        tenant = options.string("tenant", "acme")
        tenants = max(1, options.int("tenants", 1))
        clientID = options.string("client-id", "ingestd-bench-pub-\(getpid())")
        shape = options.string("shape", "envelope")
        guard shape == "envelope" || shape == "zigbee2mqtt" else { fail("--shape must be envelope or zigbee2mqtt") }
    }

    final class Acks: @unchecked Sendable {
        // Touched only on the publishing thread (callbacks run inside mosquitto_loop / publish there).
        var acknowledged = 0
    }

    func run() {
        mosquitto_lib_init()
        let acks = Acks()
        guard let handle = mosquitto_new(clientID, true, Unmanaged.passUnretained(acks).toOpaque()) else {
            fail("mosquitto_new failed")
        }
        _ = mosquitto_int_option(handle, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V311)
        _ = mosquitto_max_inflight_messages_set(handle, 0)  // the window below is the limit
        mosquitto_publish_callback_set(handle) { _, userdata, _ in
            guard let userdata else { return }
            Unmanaged<Acks>.fromOpaque(userdata).takeUnretainedValue().acknowledged += 1
        }
        var rc = mosquitto_connect(handle, host, Int32(port), 60)
        guard rc == MOSQ_ERR_SUCCESS.rawValue else { fail("connect to \(host):\(port): \(String(cString: mosquitto_strerror(rc)))") }

        let topics: [[CChar]] = (0..<devices).map {
            shape == "zigbee2mqtt" ? Array("zigbee2mqtt/\(Self.deviceID($0))".utf8CString)
                : Array("tenant/\(Self.tenant(tenant, of: $0, tenants: tenants))/device/\(Self.deviceID($0))/telemetry".utf8CString)
        }
        let tokens: [[UInt8]] = (0..<devices).map { Array(Self.token(deviceIndex: $0).utf8) }
        let sites: [[UInt8]] = (0..<devices).map { Array(Self.site(deviceIndex: $0).utf8) }
        let tenantBytes: [[UInt8]] = (0..<devices).map { Array(Self.tenant(tenant, of: $0, tenants: tenants).utf8) }
        var payload: [UInt8] = []
        payload.reserveCapacity(512)
        var clock = ISOClock()

        let start = monotonicNanos()
        var sent = 0
        while sent < count {
            while sent - acks.acknowledged >= window {
                rc = mosquitto_loop(handle, 10, 1)
                guard rc == MOSQ_ERR_SUCCESS.rawValue else { fail("loop: \(String(cString: mosquitto_strerror(rc)))") }
            }
            if rate > 0 {
                let due = start + Int64(Double(sent) * 1e9 / Double(rate))
                let now = monotonicNanos()
                if due > now + 200_000 {
                    _ = mosquitto_loop(handle, 0, 1)
                    var request = timespec(tv_sec: 0, tv_nsec: Int(min(due - now, 5_000_000)))
                    nanosleep(&request, nil)
                    continue
                }
            }
            let device = sent % devices
            let seq = sent / devices
            payload.removeAll(keepingCapacity: true)
            if shape == "zigbee2mqtt" {
                Self.appendZigbeePayload(to: &payload, seq: seq)
            } else {
                Self.appendPayload(to: &payload, seq: seq, ts: clock.now(), site: sites[device], tenant: tenantBytes[device], token: tokens[device])
            }
            rc = topics[device].withUnsafeBufferPointer { topic in
                payload.withUnsafeBytes { body in
                    mosquitto_publish(handle, nil, topic.baseAddress, Int32(body.count), body.baseAddress, qos, false)
                }
            }
            guard rc == MOSQ_ERR_SUCCESS.rawValue else { fail("publish: \(String(cString: mosquitto_strerror(rc)))") }
            sent += 1
            if sent & 63 == 0 { _ = mosquitto_loop(handle, 0, 1) }
        }
        while acks.acknowledged < count {
            rc = mosquitto_loop(handle, 100, 1)
            guard rc == MOSQ_ERR_SUCCESS.rawValue else { fail("loop: \(String(cString: mosquitto_strerror(rc)))") }
        }
        let seconds = Double(monotonicNanos() - start) / 1e9
        mosquitto_disconnect(handle)
        _ = mosquitto_loop(handle, 100, 1)
        mosquitto_destroy(handle)
        emit(#"{"published":\#(count),"seconds":\#(seconds),"rate":\#(Int(Double(count) / seconds))}"#)
    }

    static func deviceID(_ index: Int) -> String {
        let digits = String(index)
        return "d" + String(repeating: "0", count: max(0, 3 - digits.count)) + digits
    }

    /// The tenant of device `index` (bench/bench.py's registry says the same).
    static func tenant(_ base: String, of index: Int, tenants: Int) -> String {
        tenants == 1 ? base : "\(base)\(index % tenants)"
    }

    /// What the bench's registry holds for device `index` (bench/run.sh writes the same).
    static func token(deviceIndex index: Int) -> String { "token-\(deviceID(index))" }
    static func site(deviceIndex index: Int) -> String { "site-\(index % 10)" }

    /// `{"version":"1","ts":"…","site_id":"…","tenant_id":"…","seq":N,"provision_token":"…",
    /// "metrics":{"temp_c":…,"humidity":…,"door_open":…,"rssi":…,"battery_v":…}}` with values that
    /// vary from message to message (floats with one to three decimals, an integer, a boolean).
    static func appendPayload(to out: inout [UInt8], seq: Int, ts: [UInt8], site: [UInt8], tenant: [UInt8], token: [UInt8]) {
        out.append(contentsOf: #"{"version":"1","ts":""#.utf8)
        out.append(contentsOf: ts)
        out.append(contentsOf: #"","site_id":""#.utf8)
        out.append(contentsOf: site)
        out.append(contentsOf: #"","tenant_id":""#.utf8)
        out.append(contentsOf: tenant)
        out.append(contentsOf: #"","seq":"#.utf8)
        appendDecimal(seq, to: &out)
        out.append(contentsOf: #","provision_token":""#.utf8)
        out.append(contentsOf: token)
        out.append(contentsOf: #"","metrics":{"temp_c":"#.utf8)
        appendFixed(150 + seq % 150, decimals: 1, to: &out)           // 15.0 … 29.9
        out.append(contentsOf: #","humidity":"#.utf8)
        appendFixed(3000 + (seq * 7) % 4000, decimals: 2, to: &out)   // 30.00 … 69.99
        out.append(contentsOf: #","door_open":"#.utf8)
        out.append(contentsOf: (seq % 5 == 0 ? "true" : "false").utf8)
        out.append(contentsOf: #","rssi":"#.utf8)
        appendDecimal(-40 - seq % 50, to: &out)
        out.append(contentsOf: #","battery_v":"#.utf8)
        appendFixed(3000 + (seq * 13) % 1200, decimals: 3, to: &out)  // 3.000 … 4.199
        out.append(contentsOf: "}}".utf8)
    }

    /// The same five readings as `appendPayload`'s metrics, as a Zigbee2MQTT sensor sends them:
    /// `{"temperature":21.5,"humidity":45.67,"contact":false,"linkquality":87,"voltage":3015}`.
    static func appendZigbeePayload(to out: inout [UInt8], seq: Int) {
        out.append(contentsOf: #"{"temperature":"#.utf8)
        appendFixed(150 + seq % 150, decimals: 1, to: &out)
        out.append(contentsOf: #","humidity":"#.utf8)
        appendFixed(3000 + (seq * 7) % 4000, decimals: 2, to: &out)
        out.append(contentsOf: #","contact":"#.utf8)
        out.append(contentsOf: (seq % 5 == 0 ? "true" : "false").utf8)
        out.append(contentsOf: #","linkquality":"#.utf8)
        appendDecimal(40 + seq % 50, to: &out)
        out.append(contentsOf: #","voltage":"#.utf8)
        appendDecimal(3000 + (seq * 13) % 1200, to: &out)
        out.append(contentsOf: "}".utf8)
    }

    static func appendDecimal(_ value: Int, to out: inout [UInt8]) {
        out.append(contentsOf: String(value).utf8)
    }

    static func appendFixed(_ value: Int, decimals: Int, to out: inout [UInt8]) {
        var scale = 1
        for _ in 0..<decimals { scale *= 10 }
        appendDecimal(value / scale, to: &out)
        out.append(UInt8(ascii: "."))
        let fraction = String(value % scale)
        out.append(contentsOf: String(repeating: "0", count: decimals - fraction.count).utf8)
        out.append(contentsOf: fraction.utf8)
    }
}

/// The wall clock as `YYYY-MM-DDThh:mm:ss.nnnnnnnnnZ`, the date part formatted once per second.
struct ISOClock {
    private var second = -1
    private var prefix: [UInt8] = []
    private var text: [UInt8] = []

    mutating func now() -> [UInt8] {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        if ts.tv_sec != second {
            second = ts.tv_sec
            var seconds = ts.tv_sec
            var parts = tm()
            gmtime_r(&seconds, &parts)
            func two(_ v: Int32) -> String { v < 10 ? "0\(v)" : "\(v)" }
            prefix = Array("\(parts.tm_year + 1900)-\(two(parts.tm_mon + 1))-\(two(parts.tm_mday))T\(two(parts.tm_hour)):\(two(parts.tm_min)):\(two(parts.tm_sec)).".utf8)
        }
        text.removeAll(keepingCapacity: true)
        text.append(contentsOf: prefix)
        var digits = [UInt8](repeating: UInt8(ascii: "0"), count: 9)
        var nanos = ts.tv_nsec
        for index in stride(from: 8, through: 0, by: -1) {
            digits[index] = UInt8(ascii: "0") + UInt8(nanos % 10)
            nanos /= 10
        }
        text.append(contentsOf: digits)
        text.append(UInt8(ascii: "Z"))
        return text
    }
}
