import Foundation
import IngestCore

/// A registry and the messages its devices send, for end-to-end tests.
struct Fleet {
    static let tenant = "acme"
    /// 2026-02-09T09:15:23.045Z: messages carry explicit timestamps so points can be checked exactly.
    static let baseMilliseconds: Int64 = 1_770_628_523_045

    var records: [DeviceRecord] = []

    static func token(_ device: String) -> String { "token-\(device)" }

    mutating func add(_ device: String, site: String = "site-1", status: String = "ACTIVE", withToken: Bool = true) {
        records.append(DeviceRecord(
            tenantID: Self.tenant, deviceID: device, siteID: site, status: status,
            provisionTokenHash: withToken ? TokenHasher.sha256Hex(Self.token(device)) : nil))
    }

    func write(to path: String) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try encoder.encode(records).write(to: URL(fileURLWithPath: path), options: .atomic)
    }

    static func topic(_ device: String, type: String = "telemetry", tenant: String = Fleet.tenant) -> String {
        "tenant/\(tenant)/device/\(device)/\(type)"
    }

    /// The time of a device's message `seq`: one second apart, so no two points of a series collide.
    static func timestampMilliseconds(seq: Int) -> Int64 { baseMilliseconds + Int64(seq) * 1000 }

    static func iso8601(milliseconds: Int64) -> String {
        let date = Date(timeIntervalSince1970: Double(milliseconds) / 1000)
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        formatter.timeZone = TimeZone(identifier: "UTC")
        return formatter.string(from: date)
    }

    /// A valid telemetry payload for `device`.
    static func telemetry(_ device: String, seq: Int, site: String = "site-1", temperature: Double? = nil) -> String {
        let temp = temperature ?? (20 + Double(seq % 10) / 4)
        return #"{"version":"1","ts":"\#(iso8601(milliseconds: timestampMilliseconds(seq: seq)))","site_id":"\#(site)","seq":\#(seq),"provision_token":"\#(token(device))","metrics":{"temp_c":\#(temp),"door_open":\#(seq % 2 == 0 ? "true" : "false"),"label":"room \#(seq)"}}"#
    }

    static func heartbeat(_ device: String, seq: Int, site: String = "site-1") -> String {
        #"{"version":1,"ts":\#(timestampMilliseconds(seq: seq)),"site_id":"\#(site)","seq":\#(seq),"provision_token":"\#(token(device))"}"#
    }
}
