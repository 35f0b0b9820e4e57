#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation
import Logging

/// Keeps the lines InfluxDB refused for good (HTTP 400/422: a type conflict, a malformed point), one
/// readable text file per refused batch, so they are never dropped silently and an operator can fix
/// and re-send them. Pass `SPOOL_DIR/dead-letter` as `directory`.
///
/// File `deadletter-<UTC time>-<counter>.lp`:
///
///     # ingestd dead letter
///     # time: 2026-02-09T09:15:23.045Z
///     # database: telemetry_t1
///     # status: 400
///     # error: partial write: field type conflict
///     # lines: 2
///     telemetry,device_id=d1,site_id=s1 temp_c="warm" 1770628523045000000
///     telemetry,device_id=d2,site_id=s1 temp_c="cold" 1770628523046000000
///
/// Header lines start with `#`, which line protocol reads as comments, so the file can be re-sent as
/// it is (`influx write -f`). Files are written durably (temporary name, fsync, rename, fsync of the
/// directory), so the actor runs on a `FileIOThread`, never on the cooperative pool. `DurableStore`
/// logs each file written; this actor logs nothing.
public actor DeadLetterWriter {
    public nonisolated let directory: String
    private let now: @Sendable () -> Date
    private let ioThread: FileIOThread

    /// Runs this actor's jobs on its file I/O thread.
    public nonisolated var unownedExecutor: UnownedSerialExecutor { ioThread.asUnownedSerialExecutor() }
    private var counter = 0

    /// `logger` is kept for the callers' sake (the signature the daemon and tests use); nothing is
    /// logged here.
    public init(
        directory: String, logger: Logger, now: @escaping @Sendable () -> Date = { Date() },
        ioThread: FileIOThread = FileIOThread(name: "ingestd-dead-letter")
    ) throws(SpoolError) {
        try SpoolFileIO.makeDirectory(directory)
        self.directory = directory
        self.now = now
        self.ioThread = ioThread
    }

    /// Writes one file for the refused `lines` (each one line of line protocol, with or without its
    /// final newline) and returns its path.
    @discardableResult
    public func write(database: String, status: Int, error: String, lines: [[UInt8]]) throws(SpoolError) -> String {
        let time = now()
        let stamp = Self.timestamp(time)
        var text: [UInt8] = Array("""
            # ingestd dead letter
            # time: \(stamp)
            # database: \(Self.oneLine(database))
            # status: \(status)
            # error: \(Self.oneLine(error))
            # lines: \(lines.count)

            """.utf8)
        for line in lines {
            text.append(contentsOf: line)
            if line.last != UInt8(ascii: "\n") { text.append(UInt8(ascii: "\n")) }
        }

        let fileStamp = stamp.filter { $0 != "-" && $0 != ":" }
        var path: String
        repeat {
            counter += 1
            path = directory + "/deadletter-\(fileStamp)-\(counter).lp"
        } while SpoolFileIO.exists(path)
        try SpoolFileIO.writeDurably(text, to: path, temporaryPath: path + ".tmp", directory: directory)
        return path
    }

    /// A header value must stay on its header line.
    private static func oneLine(_ text: String) -> String {
        String(text.map { $0 == "\n" || $0 == "\r" || $0 == "\r\n" ? " " : $0 })
    }

    private static func timestamp(_ date: Date) -> String {
        date.formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: true))
    }
}
