import Logging

/// The syslog priority of a log level (RFC 5424 numbers), which journald reads from a `<N>` prefix on
/// a line of a service's standard error (sd-daemon(3), `SyslogLevelPrefix=yes`, systemd's default).
/// README "Logs": so `journalctl -p warning -u ingestd` shows warnings and worse.
public enum SyslogPriority {
    public static func number(for level: Logger.Level) -> Int {
        switch level {
        case .trace, .debug: 7
        case .info: 6
        case .notice: 5
        case .warning: 4
        case .error: 3
        case .critical: 2
        }
    }

    /// `<4>` for a warning, and so on.
    public static func prefix(for level: Logger.Level) -> String { "<\(number(for: level))>" }
}
