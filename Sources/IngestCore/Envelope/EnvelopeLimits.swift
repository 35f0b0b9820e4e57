/// Limits applied while decoding; both bounds are inclusive.
public struct EnvelopeLimits: Sendable, Equatable {
    public var maxMetricKeys: Int
    /// Counted in UTF-8 bytes.
    public var maxMetricKeyBytes: Int
    /// `METRICS_INTEGERS=1`: JSON integers that fit Int64 become integer fields (`42i`).
    /// Off by default because the replaced service wrote every number as a float, and a field
    /// cannot change type inside an InfluxDB shard.
    public var integersAsIntegers: Bool

    public init(maxMetricKeys: Int = 50, maxMetricKeyBytes: Int = 128, integersAsIntegers: Bool = false) {
        self.maxMetricKeys = maxMetricKeys
        self.maxMetricKeyBytes = maxMetricKeyBytes
        self.integersAsIntegers = integersAsIntegers
    }
}
