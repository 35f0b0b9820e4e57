/// Why the native client's connection to the broker failed or ended.
enum MQTTTransportError: Error, CustomStringConvertible {
    /// Name resolution, socket or TCP connect failure (`detail` is the system's text, e.g.
    /// "Connection refused").
    case connectFailed(String)
    /// The TLS handshake failed; `detail` carries OpenSSL's reason and the certificate check's verdict.
    case tlsFailed(String)
    /// The broker closed the connection.
    case closedByBroker
    /// A read or write failed.
    case io(String)
    /// The stop flag was raised while connecting.
    case stopped

    var description: String {
        switch self {
        case .connectFailed(let detail): detail
        case .tlsFailed(let detail): "TLS: \(detail)"
        case .closedByBroker: "connection closed by the broker"
        case .io(let detail): detail
        case .stopped: "stopped"
        }
    }
}
