import CCurl
import Foundation

/// One libcurl easy handle posting requests one after another, so the TCP (and TLS) connection is
/// kept alive and reused between requests.
///
/// Not `Sendable`, on purpose: every call blocks the calling thread for up to the timeout, so a
/// connection is created and used by exactly one ``InfluxClient`` worker thread and never leaves
/// it. Nothing here may run on Swift's cooperative pool.
final class CurlHTTPConnection {
    private let handle: UnsafeMutableRawPointer
    /// libcurl writes a human-readable error here (CURLOPT_ERRORBUFFER); CURL_ERROR_SIZE bytes.
    private let errorBuffer: UnsafeMutablePointer<CChar>
    private static let errorBufferSize = 256

    /// `curl_global_init` must run once per process before any other libcurl call, and is not
    /// thread-safe itself; a `static let` initialiser runs exactly once, under a lock.
    private static let globalInit: Bool = ingestd_curl_global_init_all() == CURLE_OK

    /// Returns nil when libcurl cannot be initialised or no handle can be allocated.
    init?(timeoutMilliseconds: Int, caFile: String? = nil, insecureSkipVerify: Bool = false) {
        guard Self.globalInit, let handle = curl_easy_init() else { return nil }
        self.handle = handle
        errorBuffer = .allocate(capacity: Self.errorBufferSize)
        errorBuffer.initialize(repeating: 0, count: Self.errorBufferSize)
        // A daemon must not let libcurl use SIGALRM for DNS timeouts (signals + threads = crashes).
        _ = ingestd_curl_setopt_long(handle, CURLOPT_NOSIGNAL, 1)
        _ = ingestd_curl_setopt_long(handle, CURLOPT_TIMEOUT_MS, max(1, timeoutMilliseconds))
        _ = ingestd_curl_setopt_long(handle, CURLOPT_CONNECTTIMEOUT_MS, max(1, min(timeoutMilliseconds, 10_000)))
        _ = ingestd_curl_setopt_long(handle, CURLOPT_TCP_KEEPALIVE, 1)
        _ = ingestd_curl_setopt_long(handle, CURLOPT_TCP_NODELAY, 1)
        _ = ingestd_curl_setopt_pointer(handle, CURLOPT_ERRORBUFFER, errorBuffer)
        if let caFile { _ = ingestd_curl_setopt_string(handle, CURLOPT_CAINFO, caFile) }
        if insecureSkipVerify {
            _ = ingestd_curl_setopt_long(handle, CURLOPT_SSL_VERIFYPEER, 0)
            _ = ingestd_curl_setopt_long(handle, CURLOPT_SSL_VERIFYHOST, 0)
        }
        _ = ingestd_curl_setopt_write_function(handle) { data, size, count, userdata in
            guard let userdata else { return 0 }
            let accumulator = Unmanaged<ResponseAccumulator>.fromOpaque(userdata).takeUnretainedValue()
            let length = size * count
            if let data, length > 0 {
                data.withMemoryRebound(to: UInt8.self, capacity: length) {
                    accumulator.body.append(contentsOf: UnsafeBufferPointer(start: $0, count: length))
                }
            }
            return length
        }
        _ = ingestd_curl_setopt_header_function(handle) { data, size, count, userdata in
            guard let userdata else { return 0 }
            let accumulator = Unmanaged<ResponseAccumulator>.fromOpaque(userdata).takeUnretainedValue()
            let length = size * count
            if let data, length > 0 {
                let line = data.withMemoryRebound(to: UInt8.self, capacity: length) {
                    String(decoding: UnsafeBufferPointer(start: $0, count: length), as: UTF8.self)
                }
                accumulator.addHeaderLine(line)
            }
            return length
        }
    }

    deinit {
        curl_easy_cleanup(handle)
        errorBuffer.deallocate()
    }

    /// POSTs `body` to `request.url` with `request.headers` and waits for the whole answer (every
    /// request InfluxDB needs from us is a POST). Blocks the calling thread.
    /// A transport failure (no HTTP answer at all) is returned as `.failure`.
    func perform(_ request: InfluxRequest, body: [UInt8]) -> Result<HTTPResponse, InfluxWriteFailure> {
        let accumulator = ResponseAccumulator()
        var headerList: UnsafeMutablePointer<curl_slist>? = nil
        for header in request.headers {
            headerList = curl_slist_append(headerList, "\(header.name): \(header.value)")
        }
        // curl sends `Expect: 100-continue` for large bodies and waits a round trip for it.
        headerList = curl_slist_append(headerList, "Expect:")
        defer { curl_slist_free_all(headerList) }

        errorBuffer[0] = 0
        _ = ingestd_curl_setopt_string(handle, CURLOPT_URL, request.url)
        _ = ingestd_curl_setopt_slist(handle, CURLOPT_HTTPHEADER, headerList)
        let box = Unmanaged.passUnretained(accumulator).toOpaque()
        _ = ingestd_curl_setopt_userdata(handle, CURLOPT_WRITEDATA, box)
        _ = ingestd_curl_setopt_userdata(handle, CURLOPT_HEADERDATA, box)

        // POSTFIELDS must never be NULL (curl would read the body from stdin): an empty body still
        // gets a valid pointer.
        let padded = body.isEmpty ? [UInt8](repeating: 0, count: 1) : body
        let code: CURLcode = padded.withUnsafeBufferPointer { buffer in
            _ = ingestd_curl_setopt_long(handle, CURLOPT_POST, 1)
            _ = ingestd_curl_setopt_off_t(handle, CURLOPT_POSTFIELDSIZE_LARGE, curl_off_t(body.count))
            _ = ingestd_curl_setopt_pointer(handle, CURLOPT_POSTFIELDS, UnsafeMutableRawPointer(mutating: buffer.baseAddress))
            let code = curl_easy_perform(handle)
            // The pointer is only valid inside this closure; make sure curl forgets it.
            _ = ingestd_curl_setopt_pointer(handle, CURLOPT_POSTFIELDS, nil)
            return code
        }
        _ = ingestd_curl_setopt_userdata(handle, CURLOPT_WRITEDATA, nil)
        _ = ingestd_curl_setopt_userdata(handle, CURLOPT_HEADERDATA, nil)
        _ = ingestd_curl_setopt_slist(handle, CURLOPT_HTTPHEADER, nil)
        withExtendedLifetime(accumulator) {}

        guard code == CURLE_OK else {
            var message = String(cString: errorBuffer)
            if message.isEmpty { message = String(cString: curl_easy_strerror(code)) }
            return .failure(.transport(curlCode: Int(code.rawValue), message: message))
        }
        var status = 0
        _ = ingestd_curl_getinfo_long(handle, CURLINFO_RESPONSE_CODE, &status)
        return .success(HTTPResponse(status: status, headers: accumulator.headers, body: accumulator.body))
    }
}

/// Collects one response inside libcurl's callbacks (which run on the thread that called
/// `curl_easy_perform`, synchronously). Reached through `userdata`, never shared between threads.
private final class ResponseAccumulator {
    var body: [UInt8] = []
    var headers: [String: String] = [:]

    func addHeaderLine(_ line: String) {
        // A new status line (after `100 Continue`, or a redirect) starts a new header block.
        if line.hasPrefix("HTTP/") {
            headers = [:]
            return
        }
        guard let colon = line.firstIndex(of: ":") else { return }
        let name = line[..<colon].trimmingCharacters(in: .whitespaces).lowercased()
        let value = line[line.index(after: colon)...].trimmingCharacters(in: .whitespacesAndNewlines)
        headers[name] = value
    }
}
