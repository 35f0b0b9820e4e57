/// One entry of the envelope's `metrics` object, in payload order.
///
/// The key is kept as UTF-8 bytes (`name`, see `MetricName`); `key` builds a String on demand for
/// callers that want one. Two metrics are equal when their keys have the same bytes.
public struct Metric: Sendable, Equatable {
    var name: MetricName
    public var value: MetricValue

    public var key: String {
        get { name.string }
        set { name = MetricName(newValue) }
    }

    public init(key: String, value: MetricValue) {
        self.name = MetricName(key)
        self.value = value
    }

    init(name: MetricName, value: MetricValue) {
        self.name = name
        self.value = value
    }
}
