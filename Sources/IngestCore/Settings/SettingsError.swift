/// A setting that cannot be used. Its description is the one line ingestd prints before exiting with
/// code 78 (EX_CONFIG): it names the variable, the value given and what is allowed.
public enum SettingsError: Error, Equatable, CustomStringConvertible, Sendable {
    case invalidValue(name: String, value: String, allowed: String)
    case unreadableFile(name: String, path: String, reason: String)
    case conflict(names: [String], reason: String)

    public var description: String {
        switch self {
        case let .invalidValue(name, value, allowed):
            return "invalid setting \(name)=\"\(value)\": expected \(allowed)"
        case let .unreadableFile(name, path, reason):
            return "invalid setting \(name)=\"\(path)\": cannot read the file (\(reason))"
        case let .conflict(names, reason):
            return "invalid settings \(names.joined(separator: ", ")): \(reason)"
        }
    }

    /// The variable the error is about, for callers that want it as log metadata.
    public var variable: String {
        switch self {
        case let .invalidValue(name, _, _), let .unreadableFile(name, _, _): return name
        case let .conflict(names, _): return names.joined(separator: ",")
        }
    }
}
