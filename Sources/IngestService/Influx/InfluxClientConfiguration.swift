import IngestCore

/// Everything the InfluxDB client needs to know. A plain value: the wiring maps the environment
/// settings (`INFLUXDB_URL`, `INFLUXDB_API`, `INFLUXDB_TOKEN`, …) into it.
///
/// `description` redacts the token and the password; neither is ever logged.
public struct InfluxClientConfiguration: Sendable, Equatable, CustomStringConvertible {
    /// Scheme, host, port and an optional path prefix, e.g. `http://localhost:8181` or
    /// `https://proxy.example/influx`. A trailing slash is ignored.
    public var baseURL: String
    public var api: InfluxAPIVersion
    /// v3: `Authorization: Bearer …`; v2 and v1: `Authorization: Token …`.
    public var token: String?
    /// v2 only: the organisation named in the `org=` query parameter.
    public var org: String?
    /// v1 only, used when no token is set: HTTP basic authentication.
    public var username: String?
    public var password: String?
    /// Whole-request timeout (connect + send + answer) in milliseconds.
    public var timeoutMilliseconds: Int
    /// Compress request bodies with gzip (`Content-Encoding: gzip`).
    public var gzip: Bool
    /// false = dry run: batches are built (and compressed) but never POSTed, and count as written.
    public var writeEnabled: Bool
    /// v1 only: answer a 404 `database not found` by creating the database once, then retry.
    public var createDatabase: Bool
    /// PEM bundle of certificate authorities to trust for https (`CURLOPT_CAINFO`).
    public var caFile: String?
    /// Skip TLS peer and host name verification. For test set-ups only.
    public var insecureSkipVerify: Bool
    /// Worker threads, each with its own keep-alive connection: the most writes in flight
    /// (`INFLUX_MAX_CONCURRENCY`; connections open only once a write needs them).
    public var concurrency: Int
    /// v3 only: `no_sync=true`, InfluxDB acknowledges before its WAL flush (`INFLUX_V3_NO_SYNC`).
    public var v3NoSync: Bool

    public init(
        baseURL: String = "http://localhost:8181",
        api: InfluxAPIVersion = .v3,
        token: String? = nil,
        org: String? = nil,
        username: String? = nil,
        password: String? = nil,
        timeoutMilliseconds: Int = 10_000,
        gzip: Bool = false,
        writeEnabled: Bool = true,
        createDatabase: Bool = true,
        caFile: String? = nil,
        insecureSkipVerify: Bool = false,
        concurrency: Int = 2,
        v3NoSync: Bool = false
    ) {
        self.baseURL = baseURL
        self.api = api
        self.token = token
        self.org = org
        self.username = username
        self.password = password
        self.timeoutMilliseconds = timeoutMilliseconds
        self.gzip = gzip
        self.writeEnabled = writeEnabled
        self.createDatabase = createDatabase
        self.caFile = caFile
        self.insecureSkipVerify = insecureSkipVerify
        self.concurrency = concurrency
        self.v3NoSync = v3NoSync
    }

    public var description: String {
        "InfluxClientConfiguration(baseURL: \(baseURL), api: \(api.rawValue), "
            + "token: \(token == nil ? "unset" : "<redacted>"), org: \(org ?? "unset"), "
            + "username: \(username ?? "unset"), password: \(password == nil ? "unset" : "<redacted>"), "
            + "timeoutMilliseconds: \(timeoutMilliseconds), gzip: \(gzip), writeEnabled: \(writeEnabled), "
            + "createDatabase: \(createDatabase), caFile: \(caFile ?? "unset"), "
            + "insecureSkipVerify: \(insecureSkipVerify), concurrency: \(concurrency), v3NoSync: \(v3NoSync))"
    }
}
