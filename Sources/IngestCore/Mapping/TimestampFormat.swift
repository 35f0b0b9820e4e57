/// How a mapping rule reads its timestamp value: RFC 3339 text, epoch numbers in a fixed unit
/// (a number or a string holding one), or `auto` (the envelope's rules: either, the unit told
/// apart by magnitude; see `TimestampParser`).
public enum TimestampFormat: String, Sendable, CaseIterable {
    case auto
    case rfc3339
    case seconds = "s"
    case milliseconds = "ms"
    case microseconds = "us"
    case nanoseconds = "ns"

    /// `TimestampParser.epochNanos`'s forced unit.
    var digitsBelowSecond: Int? {
        switch self {
        case .auto, .rfc3339: nil
        case .seconds: 9
        case .milliseconds: 6
        case .microseconds: 3
        case .nanoseconds: 0
        }
    }
}
