/// Why `MQTTSource.run()` could not start. Connection problems are never errors: the source keeps
/// retrying.
public enum MQTTSourceError: Error, CustomStringConvertible, Equatable {
    case invalidConfiguration([String])
    case setupFailed(String)
    case alreadyRunning

    public var description: String {
        switch self {
        case .invalidConfiguration(let problems): "invalid MQTT configuration: \(problems.joined(separator: "; "))"
        case .setupFailed(let what): "MQTT setup failed: \(what)"
        case .alreadyRunning: "MQTTSource.run() was called twice; create a new source instead"
        }
    }
}
