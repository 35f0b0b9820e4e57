/// The decoded JSON payload.
///
/// `siteID` is the payload's `site_id` as text (a JSON number becomes its literal text), nil when
/// absent or null; `MessageValidator` decides whether it is usable. `metrics` holds only the
/// metrics that will be written; `skippedFields` counts the ones left out on purpose (reserved
/// names, nested objects/arrays, strings with line breaks). JSON `null` metrics are neither.
public struct Envelope: Sendable {
    public var version: String
    public var timestampNanos: Int64?
    public var siteID: String?
    public var tenantID: String?
    public var seq: Int64
    public var provisionToken: String?
    public var metrics: [Metric]
    public var skippedFields: Int

    public init(
        version: String = "1",
        timestampNanos: Int64? = nil,
        siteID: String? = nil,
        tenantID: String? = nil,
        seq: Int64,
        provisionToken: String? = nil,
        metrics: [Metric] = [],
        skippedFields: Int = 0
    ) {
        self.version = version
        self.timestampNanos = timestampNanos
        self.siteID = siteID
        self.tenantID = tenantID
        self.seq = seq
        self.provisionToken = provisionToken
        self.metrics = metrics
        self.skippedFields = skippedFields
    }
}
