/// One entry of the envelope's `metrics` object, in payload order.
public struct Metric: Sendable, Equatable {
    public var key: String
    public var value: MetricValue

    public init(key: String, value: MetricValue) {
        self.key = key
        self.value = value
    }
}
