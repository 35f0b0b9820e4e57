/// Why one write attempt did not succeed. Carries no secrets: response bodies are InfluxDB's own
/// error messages (truncated), never the request.
public enum InfluxWriteFailure: Error, Sendable, Equatable, CustomStringConvertible {
    /// The request did not get an HTTP answer: connection refused, DNS, TLS, timeout…
    /// `curlCode` is libcurl's `CURLcode`; -1 means the request was never sent (client shut down).
    case transport(curlCode: Int, message: String)
    /// InfluxDB answered with a non-2xx status. `retryAfterSeconds` comes from a `Retry-After` header.
    case status(code: Int, body: String, retryAfterSeconds: Double?)

    /// The server's `Retry-After`, if it sent one.
    public var retryAfterSeconds: Double? {
        if case .status(_, _, let retryAfter) = self { return retryAfter }
        return nil
    }

    /// HTTP status, or nil for transport failures.
    public var statusCode: Int? {
        if case .status(let code, _, _) = self { return code }
        return nil
    }

    public var description: String {
        switch self {
        case .transport(let code, let message):
            return "transport error \(code): \(message)"
        case .status(let code, let body, let retryAfter):
            let after = retryAfter.map { ", retry after \($0) s" } ?? ""
            return "HTTP \(code)\(after): \(body)"
        }
    }

    /// A short one-line form for metrics (`lastWriteError`): at most 200 characters.
    public var shortDescription: String {
        let line = description.replacingOccurrences(of: "\n", with: " ")
        return line.count > 200 ? String(line.prefix(200)) + "…" : line
    }
}
