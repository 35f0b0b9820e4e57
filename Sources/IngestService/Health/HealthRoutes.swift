/// What the health server answers, independent of the network: `GET /healthz` (the process is
/// alive and its event loop answers), `GET /readyz` (200 when ready, 503 when not) and `GET /metrics`.
public struct HealthRoutes: Sendable {
    public struct Response: Sendable, Equatable {
        public var status: Int
        public var contentType: String
        public var body: String
    }

    private let readiness: @Sendable () -> ReadinessReport
    private let metrics: @Sendable () -> String

    public init(readiness: @escaping @Sendable () -> ReadinessReport, metrics: @escaping @Sendable () -> String) {
        self.readiness = readiness
        self.metrics = metrics
    }

    public func respond(method: String, uri: String) -> Response {
        let path = uri.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init) ?? uri
        let text = "text/plain; charset=utf-8"
        guard method == "GET" || method == "HEAD" else {
            return Response(status: 405, contentType: text, body: "method not allowed\n")
        }
        switch path {
        case "/healthz":
            return Response(status: 200, contentType: text, body: "ok\n")
        case "/readyz":
            let report = readiness()
            return Response(status: report.isReady ? 200 : 503, contentType: text, body: report.text)
        case "/metrics":
            return Response(status: 200, contentType: "text/plain; version=0.0.4; charset=utf-8", body: metrics())
        default:
            return Response(status: 404, contentType: text, body: "not found: try /healthz, /readyz or /metrics\n")
        }
    }
}
