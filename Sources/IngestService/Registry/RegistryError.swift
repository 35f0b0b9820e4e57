/// Why the registry could not answer or could not be loaded.
public enum RegistryError: Error, Equatable, CustomStringConvertible, Sendable {
    /// The registry is there in principle but cannot be asked now (file vanished, database down).
    case unavailable(reason: String)
    /// The registry file exists but its content is not a list of device records.
    case malformedFile(path: String, reason: String)

    public var description: String {
        switch self {
        case let .unavailable(reason): return "registry unavailable: \(reason)"
        case let .malformedFile(path, reason): return "registry file \(path) is not valid: \(reason)"
        }
    }
}
