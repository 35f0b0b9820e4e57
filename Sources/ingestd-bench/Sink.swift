#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Synchronization

/// A fake InfluxDB that answers every write with 204 at once (or `--delay-ms` later, like an InfluxDB
/// 3 waiting for its WAL flush or a loaded server) and counts lines, or (`--upstream`) a counting
/// proxy in front of a real one. One thread per connection (ingestd keeps
/// `INFLUX_CONCURRENCY` connections alive), blocking I/O, no allocation per request beyond the
/// connection's growing buffer.
struct Sink {
    let port: Int
    let expect: Int
    let latency: Bool
    let upstreamPort: Int?
    let delayMilliseconds: Int
    /// `--record FILE`: every acknowledged write body is appended to FILE as `<length>\n<body>`, so
    /// bench/run.sh can send the same requests to InfluxDB directly.
    let recordPath: String?

    init(options: Options) {
        port = options.int("port", 0)
        expect = options.int("expect", 0)
        latency = options.flag("latency")
        delayMilliseconds = options.int("delay-ms", 0)
        let record = options.string("record", "")
        recordPath = record.isEmpty ? nil : record
        let upstream = options.int("upstream", 0)
        upstreamPort = upstream > 0 ? upstream : nil
    }

    func run() {
        signal(SIGPIPE, SIG_IGN)
        let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard listener >= 0 else { fail("socket: \(String(cString: strerror(errno)))") }
        var yes: Int32 = 1
        setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &yes, socklen_t(MemoryLayout<Int32>.size))
        var address = loopback(port: port)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(listener, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0, listen(listener, 64) == 0 else { fail("bind/listen on 127.0.0.1:\(port): \(String(cString: strerror(errno)))") }
        var actual = sockaddr_in()
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &actual) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(listener, $0, &length) }
        }
        emit(#"{"listening":\#(UInt16(bigEndian: actual.sin_port))}"#)

        let recorder = recordPath.map { path in
            let file = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
            guard file >= 0 else { fail("--record \(path): \(String(cString: strerror(errno)))") }
            return BodyRecorder(file: file)
        }
        let state = SinkState(expect: expect, latency: latency, recorder: recorder)
        while true {
            let connection = accept(listener, nil, nil)
            if connection < 0 {
                if errno == EINTR { continue }
                fail("accept: \(String(cString: strerror(errno)))")
            }
            setsockopt(connection, Int32(IPPROTO_TCP), TCP_NODELAY, &yes, socklen_t(MemoryLayout<Int32>.size))
            let upstreamPort = self.upstreamPort
            let latency = self.latency
            let delay = self.delayMilliseconds
            let thread = Thread {
                SinkConnection(socket: connection, upstreamPort: upstreamPort, latency: latency,
                               delayMilliseconds: delay, state: state).serve()
            }
            thread.start()
        }
    }
}

func loopback(port: Int) -> sockaddr_in {
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = UInt16(port).bigEndian
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    return address
}

/// Counts shared by the connection threads.
final class SinkState: Sendable {
    struct Counts {
        var lines = 0
        var requests = 0
        var bytes = 0
        var refused = 0
        var firstNanos: Int64 = 0
        var reported = false
        var latencies: [Int64] = []
        /// Writes being served now, and the most at once: the concurrency the writer reached.
        var inFlight = 0
        var maxInFlight = 0
        /// The most lines in one write: the batch size the writer reached.
        var maxLines = 0
    }

    let expect: Int
    let latency: Bool
    let recorder: BodyRecorder?
    private let counts = Mutex(Counts())

    init(expect: Int, latency: Bool, recorder: BodyRecorder?) {
        self.expect = expect
        self.latency = latency
        self.recorder = recorder
    }

    /// A write arrived (whole); ``ended()`` or ``acknowledged(lines:bytes:latencies:)`` follows.
    func began() {
        counts.withLock { c in
            c.inFlight += 1
            c.maxInFlight = max(c.maxInFlight, c.inFlight)
        }
    }

    /// A write was answered without being counted (refused upstream, or the connection broke).
    func ended() { counts.withLock { $0.inFlight -= 1 } }

    /// Records one acknowledged write; prints the summary when the expected count is reached.
    func acknowledged(lines: Int, bytes: Int, latencies: [Int64]) {
        let now = monotonicNanos()
        let summary: String? = counts.withLock { c in
            if c.requests == 0 { c.firstNanos = now }
            c.inFlight -= 1
            c.maxLines = max(c.maxLines, lines)
            c.lines += lines
            c.requests += 1
            c.bytes += bytes
            if latency { c.latencies.append(contentsOf: latencies) }
            guard expect > 0, !c.reported, c.lines >= expect else { return nil }
            c.reported = true
            return summaryJSON(c, doneNanos: now)
        }
        if let summary { emit(summary) }
    }

    func refused() {
        counts.withLock {
            $0.refused += 1
            $0.inFlight -= 1
        }
    }

    func statsJSON() -> String { counts.withLock { summaryJSON($0, doneNanos: monotonicNanos()) } }

    private func summaryJSON(_ c: Counts, doneNanos: Int64) -> String {
        var fields = [
            #""lines":\#(c.lines)"#, #""requests":\#(c.requests)"#, #""bytes":\#(c.bytes)"#,
            #""refused":\#(c.refused)"#, #""first_ns":\#(c.firstNanos)"#, #""done_ns":\#(doneNanos)"#,
            #""max_in_flight":\#(c.maxInFlight)"#, #""max_batch_lines":\#(c.maxLines)"#,
        ]
        if latency, !c.latencies.isEmpty {
            let sorted = c.latencies.sorted()
            func percentile(_ p: Double) -> Double {
                Double(sorted[min(sorted.count - 1, Int(p * Double(sorted.count)))]) / 1e6
            }
            fields.append(#""latency_ms":{"p50":\#(percentile(0.5)),"p99":\#(percentile(0.99)),"max":\#(Double(sorted.last!) / 1e6),"samples":\#(sorted.count)}"#)
        }
        return "{" + fields.joined(separator: ",") + "}"
    }
}

/// One client connection: HTTP/1.1 requests with Content-Length bodies, kept alive.
struct SinkConnection {
    let socket: Int32
    let upstreamPort: Int?
    let latency: Bool
    /// Every write is answered this long after its body arrived (each connection serves one request at
    /// a time, as HTTP/1.1 without pipelining does, so this is the latency every request sees).
    let delayMilliseconds: Int
    let state: SinkState

    private static let noContent = Array("HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n".utf8)
    private static let queryOK = Array("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 33\r\n\r\n{\"results\":[{\"statement_id\":0}]}\n".utf8)

    func serve() {
        defer { close(socket) }
        var reader = SocketReader(socket: socket)
        var upstream: Int32 = -1
        var upstreamReader = SocketReader(socket: -1)
        defer { if upstream >= 0 { close(upstream) } }

        while let head = reader.readHead() {
            let target = head.target
            guard reader.fill(head.end + head.contentLength) else { return }
            let end = head.end + head.contentLength
            let isWrite = target.hasPrefix("/write") || target.hasPrefix("/api/v2/write") || target.hasPrefix("/api/v3/write_lp")
            if target.hasPrefix("/bench/stats") {
                let json = state.statsJSON()
                sendAll(socket, Array("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: \(json.utf8.count)\r\n\r\n\(json)".utf8))
            } else if let upstreamPort {
                if upstream < 0 {
                    upstream = connectLoopback(port: upstreamPort)
                    upstreamReader = SocketReader(socket: upstream)
                }
                if isWrite { state.began() }
                guard upstream >= 0, reader.with(reader.start..<end, { sendAll(upstream, $0) }),
                      let answer = upstreamReader.readHead(), upstreamReader.fill(answer.end + answer.contentLength) else {
                    if isWrite { state.ended() }
                    return
                }
                if isWrite {
                    if answer.status / 100 == 2 {
                        let (lines, latencies) = reader.with(head.end..<end) { count($0) }
                        reader.with(head.end..<end) { state.recorder?.record($0) }
                        state.acknowledged(lines: lines, bytes: head.contentLength, latencies: latencies)
                    } else {
                        state.refused()
                    }
                }
                let answerEnd = answer.end + answer.contentLength
                guard upstreamReader.with(upstreamReader.start..<answerEnd, { sendAll(socket, $0) }) else { return }
                upstreamReader.consume(upTo: answerEnd)
            } else if isWrite {
                state.began()
                if delayMilliseconds > 0 { usleep(useconds_t(delayMilliseconds * 1000)) }
                let (lines, latencies) = reader.with(head.end..<end) { count($0) }
                reader.with(head.end..<end) { state.recorder?.record($0) }
                state.acknowledged(lines: lines, bytes: head.contentLength, latencies: latencies)
                guard sendAll(socket, Self.noContent) else { return }
            } else {
                guard sendAll(socket, Self.queryOK) else { return }
            }
            reader.consume(upTo: head.end + head.contentLength)
        }
    }

    /// Lines in the body and, with `--latency`, now minus each line's timestamp (its last field, ns).
    private func count(_ body: UnsafeRawBufferPointer) -> (Int, [Int64]) {
        guard latency else {
            var lines = 0
            for byte in body where byte == UInt8(ascii: "\n") { lines += 1 }
            if let last = body.last, last != UInt8(ascii: "\n") { lines += 1 }
            return (lines, [])
        }
        let now = wallClockNanos()
        var latencies: [Int64] = []
        var lastSpace = -1
        for index in body.indices {
            let byte = body[index]
            if byte == UInt8(ascii: " ") {
                lastSpace = index
            } else if byte == UInt8(ascii: "\n") {
                var ts: Int64 = 0
                var digit = lastSpace + 1
                while digit < index { ts = ts * 10 + Int64(body[digit] &- UInt8(ascii: "0")); digit += 1 }
                latencies.append(now - ts)
            }
        }
        return (latencies.count, latencies)
    }
}

/// Buffered reads of HTTP/1.1 messages (requests or responses) from a blocking socket.
struct SocketReader {
    struct Head {
        /// Index just past the blank line.
        var end: Int
        var target: String
        var status: Int
        var contentLength: Int
    }

    let socket: Int32
    private(set) var bytes: [UInt8] = []
    private(set) var start = 0

    init(socket: Int32) {
        self.socket = socket
        bytes.reserveCapacity(1 << 20)
    }

    /// Reads up to the end of the next message's head; nil at end of stream.
    mutating func readHead() -> Head? {
        var scanFrom = start
        while true {
            if let end = findBlankLine(from: scanFrom) { return parseHead(end: end) }
            scanFrom = max(start, bytes.count - 3)
            guard readMore() else { return nil }
        }
    }

    /// Makes sure `bytes` holds everything up to `end`.
    mutating func fill(_ end: Int) -> Bool {
        while bytes.count < end { guard readMore() else { return false } }
        return true
    }

    func with<R>(_ range: Range<Int>, _ body: (UnsafeRawBufferPointer) -> R) -> R {
        bytes.withUnsafeBytes { body(UnsafeRawBufferPointer(rebasing: $0[range])) }
    }

    mutating func consume(upTo end: Int) {
        start = end
        if start == bytes.count {
            bytes.removeAll(keepingCapacity: true)
            start = 0
        }
    }

    private mutating func readMore() -> Bool {
        if start > 0 {
            bytes.removeFirst(start)
            start = 0
        }
        let old = bytes.count
        let chunk = 256 * 1024
        bytes.append(contentsOf: repeatElement(0, count: chunk))
        let got = bytes.withUnsafeMutableBytes { raw in
            recv(socket, raw.baseAddress! + old, chunk, 0)
        }
        bytes.removeLast(chunk - max(0, got))
        return got > 0
    }

    private func findBlankLine(from: Int) -> Int? {
        var index = from
        while index + 3 < bytes.count {
            if bytes[index] == 13, bytes[index + 1] == 10, bytes[index + 2] == 13, bytes[index + 3] == 10 { return index + 4 }
            index += 1
        }
        return nil
    }

    private func parseHead(end: Int) -> Head {
        let text = String(decoding: bytes[start..<end], as: UTF8.self)
        let lines = text.split(separator: "\r\n")
        let first = lines.first.map { $0.split(separator: " ") } ?? []
        var head = Head(end: end, target: "", status: 0, contentLength: 0)
        if first.count >= 2 {
            if first[0].hasPrefix("HTTP/") { head.status = Int(first[1]) ?? 0 } else { head.target = String(first[1]) }
        }
        for line in lines.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            if line[..<colon].lowercased() == "content-length" {
                head.contentLength = Int(line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)) ?? 0
            }
        }
        return head
    }
}

@discardableResult
func sendAll(_ socket: Int32, _ bytes: [UInt8]) -> Bool {
    bytes.withUnsafeBytes { sendAll(socket, $0) }
}

func sendAll(_ socket: Int32, _ bytes: UnsafeRawBufferPointer) -> Bool {
    var offset = 0
    while offset < bytes.count {
        let sent = send(socket, bytes.baseAddress! + offset, bytes.count - offset, Int32(MSG_NOSIGNAL))
        if sent < 0 && errno == EINTR { continue }
        guard sent > 0 else { return false }
        offset += sent
    }
    return true
}

func connectLoopback(port: Int) -> Int32 {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { return -1 }
    var address = loopback(port: port)
    let rc = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    guard rc == 0 else { close(fd); return -1 }
    var yes: Int32 = 1
    setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &yes, socklen_t(MemoryLayout<Int32>.size))
    return fd
}

/// Appends request bodies to a file for `--record`, one writer at a time.
final class BodyRecorder: Sendable {
    /// The descriptor; the lock keeps one body's two writes together.
    private let file: Mutex<Int32>

    init(file: Int32) { self.file = Mutex(file) }

    func record(_ body: UnsafeRawBufferPointer) {
        file.withLock { file in
            Array("\(body.count)\n".utf8).withUnsafeBytes { Self.writeAll(file, $0) }
            Self.writeAll(file, body)
        }
    }

    private static func writeAll(_ file: Int32, _ bytes: UnsafeRawBufferPointer) {
        var offset = 0
        while offset < bytes.count {
            let written = write(file, bytes.baseAddress! + offset, bytes.count - offset)
            if written < 0 && errno == EINTR { continue }
            guard written > 0 else { fail("--record: \(String(cString: strerror(errno)))") }
            offset += written
        }
    }
}
