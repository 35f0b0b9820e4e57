/// One HTTP request to InfluxDB, as built by ``InfluxRequestBuilder``: method, absolute URL, headers.
/// The body travels separately (it is large and the connection posts it without copying).
///
/// `description` redacts the `Authorization` header, so a request can be logged safely.
public struct InfluxRequest: Sendable, Equatable, CustomStringConvertible, CustomDebugStringConvertible {
    public var method: String
    public var url: String
    /// Header names and values in the order they are sent.
    public var headers: [(name: String, value: String)]

    public init(method: String, url: String, headers: [(name: String, value: String)]) {
        self.method = method
        self.url = url
        self.headers = headers
    }

    /// The value of the first header called `name` (case-insensitive), if any.
    public func header(_ name: String) -> String? {
        let lowered = name.lowercased()
        return headers.first { $0.name.lowercased() == lowered }?.value
    }

    public static func == (lhs: InfluxRequest, rhs: InfluxRequest) -> Bool {
        lhs.method == rhs.method && lhs.url == rhs.url
            && lhs.headers.map(\.name) == rhs.headers.map(\.name)
            && lhs.headers.map(\.value) == rhs.headers.map(\.value)
    }

    public var description: String {
        let shown = headers.map { header in
            header.name.lowercased() == "authorization"
                ? "\(header.name): <redacted>" : "\(header.name): \(header.value)"
        }
        return "\(method) \(url) [\(shown.joined(separator: ", "))]"
    }

    public var debugDescription: String { description }
}
