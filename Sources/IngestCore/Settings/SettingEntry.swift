/// One effective setting as `ingestd check-config` prints it.
public struct SettingEntry: Sendable, Equatable {
    public let name: String
    /// The effective value, already redacted when `isSecret`.
    public let displayValue: String
    public let isSecret: Bool
    /// True when the value came from the environment rather than the default.
    public let isFromEnvironment: Bool
}
