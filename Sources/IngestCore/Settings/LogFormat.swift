/// How log lines are written (LOG_FORMAT).
public enum LogFormat: String, CaseIterable, Sendable {
    case logfmt
    case json
}
