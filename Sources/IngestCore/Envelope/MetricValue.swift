/// A metric value as it will be written: float, integer (`Ni`), boolean or string field.
public enum MetricValue: Sendable, Equatable {
    case float(Double)
    case integer(Int64)
    case boolean(Bool)
    case string(String)
}
