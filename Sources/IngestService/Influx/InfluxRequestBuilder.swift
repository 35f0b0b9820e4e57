import IngestCore
import Foundation

/// Builds the write (and, for v1, the create-database) requests for one configuration. Pure: no I/O.
///
/// | api | write request | authorization |
/// |---|---|---|
/// | v3 | `POST /api/v3/write_lp?db=DB&precision=nanosecond` (`&no_sync=true` with `v3NoSync`) | `Bearer TOKEN` |
/// | v2 | `POST /api/v2/write?org=ORG&bucket=DB&precision=ns` | `Token TOKEN` |
/// | v1 | `POST /write?db=DB&precision=n` | `Token TOKEN` if a token is set, else HTTP basic from username/password |
///
/// v1 uses basic authentication rather than the `u=`/`p=` query parameters that InfluxDB 1.x also
/// accepts: InfluxData's own documentation recommends it, and it keeps the password out of URLs,
/// which end up in proxy and server logs.
public struct InfluxRequestBuilder: Sendable {
    public let configuration: InfluxClientConfiguration

    public init(configuration: InfluxClientConfiguration) {
        self.configuration = configuration
    }

    /// The base URL without a trailing slash.
    private var base: String {
        var base = configuration.baseURL
        while base.hasSuffix("/") { base.removeLast() }
        return base
    }

    public func writeRequest(database: String) -> InfluxRequest {
        let url: String
        switch configuration.api {
        case .v3:
            var parameters = [("db", database), ("precision", "nanosecond")]
            // Acknowledged before the WAL flush: faster, a crash of InfluxDB can lose the last
            // flush interval (README, "Throughput when InfluxDB is slow").
            if configuration.v3NoSync { parameters.append(("no_sync", "true")) }
            url = base + "/api/v3/write_lp?" + Self.query(parameters)
        case .v2:
            url = base + "/api/v2/write?" + Self.query([("org", configuration.org ?? ""), ("bucket", database), ("precision", "ns")])
        case .v1:
            url = base + "/write?" + Self.query([("db", database), ("precision", "n")])
        }
        var headers: [(name: String, value: String)] = []
        if let authorization { headers.append(("Authorization", authorization)) }
        headers.append(("Content-Type", "text/plain; charset=utf-8"))
        if configuration.gzip { headers.append(("Content-Encoding", "gzip")) }
        return InfluxRequest(method: "POST", url: url, headers: headers)
    }

    /// v1 only: `POST /query` with the form body from ``createDatabaseBody(database:)``.
    public func createDatabaseRequest() -> InfluxRequest {
        var headers: [(name: String, value: String)] = []
        if let authorization { headers.append(("Authorization", authorization)) }
        headers.append(("Content-Type", "application/x-www-form-urlencoded"))
        return InfluxRequest(method: "POST", url: base + "/query", headers: headers)
    }

    /// `q=CREATE DATABASE "name"`, form-encoded, with the name quoted as an InfluxQL identifier.
    public func createDatabaseBody(database: String) -> [UInt8] {
        Array(Self.query([("q", "CREATE DATABASE \(Self.quoteIdentifier(database))")]).utf8)
    }

    /// The `Authorization` header value, or nil when no credentials are configured.
    private var authorization: String? {
        if let token = configuration.token, !token.isEmpty {
            return configuration.api == .v3 ? "Bearer \(token)" : "Token \(token)"
        }
        if configuration.api == .v1, let username = configuration.username, !username.isEmpty {
            let credentials = "\(username):\(configuration.password ?? "")"
            return "Basic " + Data(credentials.utf8).base64EncodedString()
        }
        return nil
    }

    /// An InfluxQL double-quoted identifier: `"` and `\` are escaped with a backslash.
    public static func quoteIdentifier(_ name: String) -> String {
        var quoted = "\""
        for character in name {
            if character == "\"" || character == "\\" { quoted.append("\\") }
            quoted.append(character)
        }
        return quoted + "\""
    }

    /// `name=value&…` with every byte outside RFC 3986's unreserved set percent-encoded.
    public static func query(_ items: [(String, String)]) -> String {
        items.map { "\(percentEncode($0.0))=\(percentEncode($0.1))" }.joined(separator: "&")
    }

    public static func percentEncode(_ value: String) -> String {
        let hex: [Character] = Array("0123456789ABCDEF")
        var encoded = ""
        encoded.reserveCapacity(value.utf8.count)
        for byte in value.utf8 {
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "."),
                UInt8(ascii: "_"), UInt8(ascii: "~"):
                encoded.append(Character(Unicode.Scalar(byte)))
            default:
                encoded.append("%")
                encoded.append(hex[Int(byte >> 4)])
                encoded.append(hex[Int(byte & 0x0F)])
            }
        }
        return encoded
    }
}
