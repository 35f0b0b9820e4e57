/// TLS towards PostgreSQL (PG_SSLMODE), with libpq's meaning: `disable` never, `prefer` when the server
/// offers it, `require` or fail (the certificate is not verified, as with libpq's `require`).
public enum PostgresSSLMode: String, CaseIterable, Sendable {
    case disable
    case prefer
    case require
}
