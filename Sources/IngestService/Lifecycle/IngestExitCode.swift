/// Exit codes of the contract (sysexits.h where one fits), so systemd and scripts can tell a bad
/// setting from a crash.
public enum IngestExitCode: Int32, Sendable {
    case clean = 0
    case failure = 1
    case usage = 64
    case locked = 75
    case badConfiguration = 78
}
