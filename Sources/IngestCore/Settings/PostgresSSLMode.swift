/// TLS towards PostgreSQL (PG_SSLMODE), with libpq's meaning: `disable` never, `prefer` when the server
/// offers it, `require` or fail (neither checks the certificate, as with libpq); `verify-ca` also
/// checks that a CA of `PG_SSLROOTCERT` (default: the system's) signed the server's certificate, and
/// `verify-full` also that the certificate names `PG_HOST`.
public enum PostgresSSLMode: String, CaseIterable, Sendable {
    case disable
    case prefer
    case require
    case verifyCA = "verify-ca"
    case verifyFull = "verify-full"

    /// True for the modes that check the server's certificate.
    public var verifiesCertificate: Bool { self == .verifyCA || self == .verifyFull }
}
