import IngestCore

/// Counts refused messages per (minute, tenant, reason) and turns finished minutes into line protocol:
/// `ingest_rejects,reason=TOKEN_INVALID,tenant_id=acme count=3i 1770628500000000000`, timestamped at
/// the start of the minute, one point per tenant, reason and minute, grouped by the tenant's database.
struct RejectCountAggregator {
    static let measurement = "ingest_rejects"
    static let minuteNanos: Int64 = 60_000_000_000

    private struct Key: Hashable {
        var minute: Int64
        var tenant: String
        var reason: RejectReason
    }

    private var counts: [Key: Int] = [:]
    let databaseNamer: DatabaseNamer

    init(databaseNamer: DatabaseNamer) {
        self.databaseNamer = databaseNamer
    }

    var isEmpty: Bool { counts.isEmpty }

    /// Counts one reject. Tenants that cannot name a database (no tenant in the topic, or characters
    /// other than letters, digits, `_`, `-`, `.`) are left out here; the stats line still counts them.
    mutating func add(tenant: String?, reason: RejectReason, atNanos: Int64) {
        guard let tenant, Self.isPlainName(tenant) else { return }
        let minute = atNanos - ((atNanos % Self.minuteNanos) + Self.minuteNanos) % Self.minuteNanos
        counts[Key(minute: minute, tenant: tenant, reason: reason), default: 0] += 1
    }

    /// Removes and returns the points of minutes that ended before `nowNanos` (every minute when
    /// `everything`), as line protocol per database.
    mutating func take(before nowNanos: Int64, everything: Bool = false) -> [String: (lines: [UInt8], count: Int)] {
        let currentMinute = nowNanos - ((nowNanos % Self.minuteNanos) + Self.minuteNanos) % Self.minuteNanos
        var output: [String: (lines: [UInt8], count: Int)] = [:]
        for (key, count) in counts.sorted(by: { ($0.key.minute, $0.key.tenant, $0.key.reason.rawValue) < ($1.key.minute, $1.key.tenant, $1.key.reason.rawValue) })
        where everything || key.minute < currentMinute {
            counts[key] = nil
            let line = "\(Self.measurement),reason=\(key.reason.rawValue),tenant_id=\(key.tenant) count=\(count)i \(key.minute)\n"
            let database = databaseNamer.database(forTenant: key.tenant)
            output[database, default: ([], 0)].lines.append(contentsOf: line.utf8)
            output[database, default: ([], 0)].count += 1
        }
        return output
    }

    static func isPlainName(_ text: String) -> Bool {
        !text.isEmpty && text.utf8.allSatisfy { byte in
            (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A)
                || byte == 0x5F || byte == 0x2D || byte == 0x2E
        }
    }
}
