import IngestCore
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Logging
import Synchronization

/// The crash journal of `DURABILITY=journal`: every accepted line is appended here before it is
/// handed to the batch writer, and given back after a crash unless the writer acknowledged it
/// (InfluxDB took it, or it is in the disk spool). This file is its API; reading what an earlier run
/// left is in `CrashJournal+Recovery.swift`, the journal files in `CrashJournal+Files.swift`.
///
/// **Group commit.** `append` only copies the lines into memory under a short lock and returns their
/// sequence numbers (one per line, increasing across databases and across runs); it never waits for
/// the disk, so it may be called on the intake path. `sync()` writes everything appended since the
/// previous sync plus the latest acknowledgement in one `write` and one `fsync`. `JournalService`
/// calls it every `JOURNAL_SYNC_MS` on the journal's own thread and once at shutdown.
///
/// **Acknowledgements.** A line is safe only after the `sync()` that follows its `append`. The native
/// MQTT client acknowledges a message only once the sync covering its lines is done (`sync()` returns
/// that mark for the `AcknowledgementRelay`), so a crash or power cut loses nothing the broker got an
/// acknowledgement for (README, Delivery guarantees).
///
/// **Acknowledgement.** `acknowledge(upTo:)` says every line numbered up to and including it is done.
/// Batches of several databases are in flight at once, so the writer passes its low-water mark: one
/// less than the smallest sequence number still buffered or in flight in any database.
///
/// **Files.** `journal-<20-digit number>.log` in `directory`, records as in `JournalRecord`. Each
/// file holds an acknowledgement record (the mark at its creation). A file is only appended to;
/// after `rotateAfterBytes` a new one is started, and older files are deleted once every line in
/// them is acknowledged. After a failed write or fsync the file is abandoned (what reached it is
/// unknown) and the lines are written again to a new file; recovery skips the duplicates by number.
///
/// **Start.** `init` takes over what an earlier run left: its unacknowledged lines are written to the
/// new journal file under new sequence numbers, fsynced, and only then are the earlier files deleted
/// (a damaged one is moved to `corruptDirectory` instead, see `CrashJournal+Recovery.swift`).
/// They are offered in `recovered`; hand them to the writer with those numbers (or spool them and
/// acknowledge them). A crash in between can at worst make a line come back twice, which is harmless:
/// every point has an explicit timestamp, so a repeated write overwrites itself in InfluxDB.
/// Recovered lines that the caller never acknowledges keep their file (disk use grows, nothing is lost).
///
/// A `final class` with two mutexes rather than an actor: appends must not queue behind an fsync.
/// `sync()` blocks for one write and fsync; call it through `syncOnIOThread()` from async code.
public final class CrashJournal: Sendable {
    public let directory: String
    /// Where damaged journal files of an earlier run are set aside (`SPOOL_DIR/corrupt`).
    public let corruptDirectory: String
    /// What an earlier run left unacknowledged, renumbered into this journal.
    public let recovered: [JournalBatch]
    /// Damaged files of an earlier run moved to `corruptDirectory` at start, and the lines in their
    /// unreadable parts (counted by newlines; the readable records are in `recovered`).
    public let corruptFiles: Int
    public let corruptLines: Int
    let logger: Logger
    let rotateAfterBytes: Int
    let pending: Mutex<Pending>
    let output: Mutex<Output>
    /// Syncs run here, never on the cooperative pool (see `FileIOThread`).
    let ioThread = FileIOThread(name: "ingestd-journal")

    /// Records larger than this are not extended by further appends (keeps records and rewrites small).
    static let maxRecordBody = 1 << 20

    struct Pending {
        var records: [JournalRecord] = []
        var nextSequence: UInt64
        var acknowledged: UInt64
    }

    struct Output {
        /// Descriptor of the current file; -1 when the next sync must start a new file.
        var fd: Int32
        var number: UInt64
        var size: Int
        /// Highest line sequence number written to the current file.
        var lastSequence: UInt64
        var older: [(number: UInt64, lastSequence: UInt64)] = []
        var writtenAcknowledgement: UInt64
    }

    /// `corruptDirectory` defaults to `corrupt` beside `directory` (`SPOOL_DIR/corrupt` for the
    /// daemon's `SPOOL_DIR/journal`).
    public init(
        directory: String, logger: Logger, rotateAfterBytes: Int = 8 << 20, corruptDirectory: String? = nil
    ) throws(SpoolError) {
        try SpoolFileIO.makeDirectory(directory)
        let corruptDirectory = corruptDirectory ?? SpoolFileIO.parent(of: directory) + "/corrupt"
        let earlier = try Self.read(directory: directory, logger: logger)

        // Continue numbering after everything the earlier run used: recovery orders and de-duplicates
        // lines by number, so a number must never come back.
        var next = earlier.highestSequence + 1
        let baseline = earlier.highestSequence
        var bytes: [UInt8] = []
        var renumbered: [JournalBatch] = []
        for batch in earlier.batches {
            let first = next
            next += UInt64(batch.lineCount)
            JournalRecord.lines(firstSequence: first, database: batch.database, lineCount: batch.lineCount, body: batch.lines)
                .encode(into: &bytes)
            renumbered.append(JournalBatch(
                database: batch.database, lines: batch.lines, lineCount: batch.lineCount, sequences: first...(next - 1)))
        }
        // The mark that retires the earlier run's numbers goes after the renumbered lines: a reader
        // resynchronises after a damaged record but never trusts a torn tail, so if this write is
        // torn, the mark is not seen and the earlier files still count (a line may come back twice,
        // never zero times).
        JournalRecord.acknowledgement(upTo: baseline).encode(into: &bytes)

        let number = (earlier.fileNumbers.last ?? 0) + 1
        let fd = try Self.createFile(directory: directory, number: number)
        do throws(SpoolError) {
            let path = Self.path(directory, number)
            try SpoolFileIO.writeAll(fd, bytes, path: path)
            try SpoolFileIO.syncFile(fd, path: path)
        } catch {
            close(fd)
            throw error
        }
        // Only now, with the lines durable in the new file, do the earlier files go: intact ones are
        // deleted, damaged ones kept in corrupt/ for inspection.
        Self.setAside(earlier.damaged, directory: directory, corruptDirectory: corruptDirectory, logger: logger)
        let damagedNumbers = Set(earlier.damaged.map(\.number))
        for old in earlier.fileNumbers where !damagedNumbers.contains(old) { try SpoolFileIO.remove(Self.path(directory, old)) }
        if !earlier.fileNumbers.isEmpty { try SpoolFileIO.syncDirectory(directory) }

        self.directory = directory
        self.corruptDirectory = corruptDirectory
        self.recovered = renumbered
        self.corruptFiles = earlier.damaged.count
        self.corruptLines = earlier.damaged.reduce(0) { $0 + $1.lostLines }
        self.logger = logger
        self.rotateAfterBytes = rotateAfterBytes
        self.pending = Mutex(Pending(nextSequence: next, acknowledged: baseline))
        self.output = Mutex(Output(
            fd: fd, number: number, size: bytes.count, lastSequence: next - 1, writtenAcknowledgement: baseline))
        logger.info(
            "journal opened",
            metadata: [
                "file": "\(Self.path(directory, number))",
                "recovered_batches": "\(renumbered.count)",
                "recovered_lines": "\(renumbered.reduce(0) { $0 + $1.lineCount })",
                "removed_files": "\(earlier.fileNumbers.count - earlier.damaged.count)",
                "corrupt_files": "\(earlier.damaged.count)",
            ])
    }

    deinit {
        output.withLock { if $0.fd >= 0 { close($0.fd) } }
    }

    /// Buffers `lines` (newline-separated line protocol for `database`; a missing final newline is
    /// added) and returns their sequence numbers, one per line. Durable after the next `sync()`.
    @discardableResult
    public func append(database: String, lines: [UInt8]) throws(SpoolError) -> ClosedRange<UInt64> {
        guard !database.isEmpty, database.utf8.count <= Int(UInt16.max) else {
            throw .invalidBatch(reason: "database name of \(database.utf8.count) bytes")
        }
        guard !lines.isEmpty else { throw .invalidBatch(reason: "no lines for database \(database)") }
        var body = lines
        if body.last != UInt8(ascii: "\n") { body.append(UInt8(ascii: "\n")) }
        let count = body.withUnsafeBytes { NewlineScan.count(in: $0) }
        return pending.withLock { state in
            let first = state.nextSequence
            state.nextSequence += UInt64(count)
            if let last = state.records.last, last.database == database, last.lastSequence + 1 == first,
                last.body.count + body.count <= Self.maxRecordBody
            {
                state.records[state.records.count - 1].body.append(contentsOf: body)
                state.records[state.records.count - 1].lineCount += count
            } else {
                state.records.append(.lines(firstSequence: first, database: database, lineCount: count, body: body))
            }
            return first...(first + UInt64(count) - 1)
        }
    }

    /// Every line numbered up to and including `sequence` is done. Takes effect in memory at once and
    /// on disk at the next `sync()`. A number beyond the last one handed out is clamped (and logged):
    /// it would otherwise silently cover lines not appended yet.
    public func acknowledge(upTo sequence: UInt64) {
        let highest = pending.withLock { state in
            let highest = state.nextSequence - 1
            state.acknowledged = max(state.acknowledged, min(sequence, highest))
            return highest
        }
        if sequence > highest {
            logger.warning(
                "journal acknowledgement beyond the last appended line; clamped",
                metadata: ["sequence": "\(sequence)", "last_appended": "\(highest)"])
        }
    }

    /// Writes and fsyncs what was appended and acknowledged since the last sync; rotates and deletes
    /// fully acknowledged files. Does nothing when there is nothing new. On failure nothing is lost:
    /// the lines stay buffered and go to a fresh file on the next call.
    ///
    /// Returns the synced mark: every line numbered up to it is on disk (or acknowledged, so safe
    /// elsewhere). With DURABILITY=journal the MQTT acknowledgements wait for it.
    @discardableResult
    public func sync() throws(SpoolError) -> UInt64 {
        try output.withLock { (out: inout Output) throws(SpoolError) -> UInt64 in
            let (taken, acknowledged, appended) = pending.withLock { state in
                defer { state.records.removeAll(keepingCapacity: true) }
                return (state.records, state.acknowledged, state.nextSequence - 1)
            }
            // Lines acknowledged before they were ever written need not be written.
            let live = taken.filter { $0.lastSequence > acknowledged }
            let startNew = out.fd < 0 || out.size >= rotateAfterBytes
            var bytes: [UInt8] = []
            if startNew || acknowledged > out.writtenAcknowledgement {
                JournalRecord.acknowledgement(upTo: acknowledged).encode(into: &bytes)
            }
            for record in live { record.encode(into: &bytes) }
            if !bytes.isEmpty {
                let newLast = live.last?.lastSequence ?? 0
                do throws(SpoolError) {
                    if startNew { try startNewFile(&out) }
                    let path = Self.path(directory, out.number)
                    try SpoolFileIO.writeAll(out.fd, bytes, path: path)
                    try SpoolFileIO.syncFile(out.fd, path: path)
                    out.size += bytes.count
                    out.lastSequence = max(out.lastSequence, newLast)
                    out.writtenAcknowledgement = acknowledged
                } catch {
                    pending.withLock { $0.records.insert(contentsOf: taken, at: 0) }
                    if out.fd >= 0 {
                        // What reached this file is unknown: keep it (until its lines, written or
                        // not, are acknowledged) but never append to it again.
                        close(out.fd)
                        out.fd = -1
                        out.older.append((out.number, max(out.lastSequence, newLast)))
                    }
                    logger.error(
                        "journal write failed; lines stay buffered and go to a new journal file",
                        metadata: ["file": "\(Self.path(directory, out.number))", "error": "\(error)"])
                    throw error
                }
            }
            deleteAcknowledgedFiles(&out, acknowledged: acknowledged)
            return appended
        }
    }

    /// `sync()` on the journal's own thread: the caller awaits without holding a pool thread.
    @discardableResult
    public func syncOnIOThread() async throws(SpoolError) -> UInt64 {
        try await ioThread.run { () throws(SpoolError) -> UInt64 in try self.sync() }
    }

    /// Syncs every `interval` until the task is cancelled, then once more, each on the journal's own
    /// thread, and tells `synced` each synced mark. Errors are logged by `sync()` (the lines stay
    /// buffered and are retried).
    public func syncPeriodically(every interval: Duration, synced: @Sendable (UInt64) -> Void = { _ in }) async {
        while !Task.isCancelled {
            do { try await Task.sleep(for: interval) } catch { break }
            if let mark = try? await syncOnIOThread() { synced(mark) }
        }
        if let mark = try? await syncOnIOThread() { synced(mark) }
    }
}
