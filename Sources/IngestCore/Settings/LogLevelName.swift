/// The lowest level that is logged (LOG_LEVEL).
public enum LogLevelName: String, CaseIterable, Sendable {
    case trace
    case debug
    case info
    case notice
    case warning
    case error
    case critical
}
