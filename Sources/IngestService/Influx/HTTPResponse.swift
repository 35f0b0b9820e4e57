import Foundation

/// What came back from one HTTP exchange.
public struct HTTPResponse: Sendable, Equatable {
    public var status: Int
    /// Header names lower-cased; for repeated headers the last value wins.
    public var headers: [String: String]
    public var body: [UInt8]

    public init(status: Int, headers: [String: String] = [:], body: [UInt8] = []) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    public var bodyText: String { String(decoding: body, as: UTF8.self) }

    /// `Retry-After` in seconds: either delay-seconds or an HTTP-date (RFC 9110 §10.2.3).
    public func retryAfterSeconds(now: Date = Date()) -> Double? {
        guard let value = headers["retry-after"] else { return nil }
        return Self.parseRetryAfter(value, now: now)
    }

    public static func parseRetryAfter(_ raw: String, now: Date = Date()) -> Double? {
        let value = raw.trimmingCharacters(in: .whitespaces)
        if let seconds = Double(value), seconds.isFinite { return max(0, seconds) }
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "GMT")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss zzz"
        guard let date = formatter.date(from: value) else { return nil }
        return max(0, date.timeIntervalSince(now))
    }
}
