/// Outcome of one write of one batch.
public enum InfluxWriteResult: Sendable, Equatable {
    /// InfluxDB acknowledged the batch (2xx), or writing is disabled (dry run).
    case written
    /// Worth sending again later, unchanged: timeouts, connection errors, 5xx, 429, 401/403 (an
    /// operator must fix credentials; nothing is lost meanwhile), 404 (wrong URL or missing
    /// database), and any other status not listed under `rejected`.
    case retryable(InfluxWriteFailure)
    /// Sending the same bytes again cannot succeed: 400 (bad line protocol; InfluxDB 1.x answers
    /// `partial write` after keeping the good lines), 413 (body too large), 422 (unprocessable).
    case rejected(InfluxWriteFailure)

    /// Maps an HTTP answer to a result. `body` is InfluxDB's answer (kept, truncated, for logs).
    public static func classify(status: Int, body: String, retryAfterSeconds: Double?) -> InfluxWriteResult {
        if (200..<300).contains(status) { return .written }
        let trimmed = body.count > 1024 ? String(body.prefix(1024)) + "…" : body
        let failure = InfluxWriteFailure.status(code: status, body: trimmed, retryAfterSeconds: retryAfterSeconds)
        switch status {
        case 400, 413, 422: return .rejected(failure)
        default: return .retryable(failure)
        }
    }
}
