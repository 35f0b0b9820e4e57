/// TLS settings, handed to `mosquitto_tls_set` / `mosquitto_tls_insecure_set`.
public struct MQTTTLSConfiguration: Sendable, Equatable {
    /// PEM file of trusted CA certificates; nil uses no explicit CA file.
    public var caFile: String?
    /// Client certificate (PEM) for mutual TLS; needs `keyFile` too.
    public var certFile: String?
    /// Client private key (PEM, unencrypted).
    public var keyFile: String?
    /// Skip the server host name check. For testing only.
    public var insecure: Bool

    public init(caFile: String? = nil, certFile: String? = nil, keyFile: String? = nil, insecure: Bool = false) {
        self.caFile = caFile
        self.certFile = certFile
        self.keyFile = keyFile
        self.insecure = insecure
    }
}
