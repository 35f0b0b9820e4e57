#if canImport(Glibc)
import Glibc
#endif
import IngestCore

/// A minimal blocking HTTP/1.0 GET over a plain socket, for `ingestd healthcheck` (a short-lived
/// process run by Docker's HEALTHCHECK: no event loop, no libcurl set-up needed).
public enum HealthProbe {
    public struct Answer: Sendable, Equatable {
        public var status: Int
        public var body: String
    }

    public struct Failure: Error, CustomStringConvertible, Sendable {
        public var description: String
    }

    /// `0.0.0.0` and `::` (listen on every address) are asked on the loopback address.
    public static func get(_ address: Settings.ListenAddress, path: String, timeoutSeconds: Int) -> Result<Answer, Failure> {
        let host = address.host == "0.0.0.0" ? "127.0.0.1" : (address.host == "::" ? "::1" : address.host)
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var list: UnsafeMutablePointer<addrinfo>?
        let rc = getaddrinfo(host, String(address.port), &hints, &list)
        guard rc == 0, let first = list else {
            return .failure(Failure(description: "cannot resolve \(host): \(String(cString: gai_strerror(rc)))"))
        }
        defer { freeaddrinfo(list) }
        var lastError = "no address"
        var entry: UnsafeMutablePointer<addrinfo>? = first
        while let info = entry {
            entry = info.pointee.ai_next
            let fd = socket(info.pointee.ai_family, info.pointee.ai_socktype | Int32(SOCK_CLOEXEC.rawValue), info.pointee.ai_protocol)
            guard fd >= 0 else { lastError = String(cString: strerror(errno)); continue }
            defer { close(fd) }
            var timeout = timeval(tv_sec: max(1, timeoutSeconds), tv_usec: 0)
            setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
            setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
            guard connect(fd, info.pointee.ai_addr, info.pointee.ai_addrlen) == 0 else {
                lastError = "connect to \(address): \(String(cString: strerror(errno)))"
                continue
            }
            let request = Array("GET \(path) HTTP/1.0\r\nHost: \(host)\r\nConnection: close\r\n\r\n".utf8)
            guard request.withUnsafeBytes({ send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }) == request.count else {
                lastError = "send to \(address): \(String(cString: strerror(errno)))"
                continue
            }
            var response: [UInt8] = []
            var chunk = [UInt8](repeating: 0, count: 4096)
            while response.count < 1 << 20 {
                let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
                if n <= 0 { break }
                response.append(contentsOf: chunk[0..<n])
            }
            return parse(response, from: address)
        }
        return .failure(Failure(description: lastError))
    }

    static func parse(_ bytes: [UInt8], from address: Settings.ListenAddress) -> Result<Answer, Failure> {
        let text = String(decoding: bytes, as: UTF8.self)
        let statusLine = text.split(separator: "\r\n", maxSplits: 1).first ?? ""
        let parts = statusLine.split(separator: " ")
        guard parts.count >= 2, parts[0].hasPrefix("HTTP/"), let status = Int(parts[1]) else {
            return .failure(Failure(description: "no HTTP answer from \(address)"))
        }
        let body = text.range(of: "\r\n\r\n").map { String(text[$0.upperBound...]) } ?? ""
        return .success(Answer(status: status, body: body))
    }
}
