#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation
import Logging

/// The disk spool: batches InfluxDB could not take, one `SpoolSegment` file each, replayed oldest
/// first when InfluxDB is healthy again.
///
/// The actor owns its directory; hold the `InstanceLock` before opening one, so that no second
/// process shares it. Every call does blocking file I/O with fsync (one segment per call), so the
/// actor runs on a `FileIOThread` of its own, never on the cooperative pool: a slow disk makes its
/// callers wait, never the pipeline or the health server. Events a caller acts on (a batch spooled,
/// the spool full, room again) are logged by `DurableStore`; this actor logs only what it alone sees
/// (start-up, damaged segments, failed deletions).
///
/// Layout of `directory`:
/// - `segment-<20-digit sequence>-<unix ms>.spool`: one batch each (format in `SpoolSegment`)
/// - `segment-….spool.tmp`: a segment being written (renamed when complete)
/// - `corrupt/`: segments (and journal files) that failed to read or decode, kept for inspection,
///   never replayed; counted in `SpoolMetrics.corruptFiles` and `corruptLines`
/// Other names (the lock file, `dead-letter/`, journal files) are left alone.
public actor DiskSpool {
    public nonisolated let directory: String
    public nonisolated let corruptDirectory: String
    public nonisolated let maxBytes: Int64
    private let logger: Logger
    private let now: @Sendable () -> Date
    private let metrics: SpoolMetrics
    private let ioThread: FileIOThread

    /// Runs this actor's jobs on its file I/O thread (see the type's comment).
    public nonisolated var unownedExecutor: UnownedSerialExecutor { ioThread.asUnownedSerialExecutor() }

    /// Oldest first.
    private var segments: [(id: SegmentID, bytes: Int64)]
    private var totalBytes: Int64
    private var nextSequence: UInt64
    /// Set when an append was refused for room; cleared when a removal frees space.
    private var refusedForRoom = false

    /// Creates `directory` and `corrupt/` if needed and adopts the segments an earlier run left.
    /// Segments are not read here, only listed: a damaged one is found and moved aside by `oldest()`,
    /// so a bad file can never stop start-up.
    ///
    /// Leftover `.tmp` files are deleted. A temporary file is renamed before `append` returns, so one
    /// that is still there belongs to an append that never returned: that run did not count the batch
    /// as spooled and still held it in memory (and, with DURABILITY=journal, unacknowledged in the
    /// journal, which `CrashJournal` recovers). It is not ours to replay; keeping it could only
    /// duplicate a batch the journal already gives back.
    public init(
        directory: String,
        maxBytes: Int64,
        logger: Logger,
        now: @escaping @Sendable () -> Date = { Date() },
        metrics: SpoolMetrics = SpoolMetrics(),
        ioThread: FileIOThread = FileIOThread(name: "ingestd-spool")
    ) throws(SpoolError) {
        guard maxBytes > 0 else { throw .invalidBatch(reason: "spool maxBytes must be positive, got \(maxBytes)") }
        let corrupt = directory + "/corrupt"
        try SpoolFileIO.makeDirectory(directory)
        try SpoolFileIO.makeDirectory(corrupt)

        var found: [(id: SegmentID, bytes: Int64)] = []
        var highest: UInt64 = 0
        var removedTemporary = false
        for name in try SpoolFileIO.listDirectory(directory) {
            let path = directory + "/" + name
            if name.hasPrefix(SegmentID.prefix), name.hasSuffix(SegmentID.suffix + ".tmp") {
                let size = SpoolFileIO.regularFileSize(path) ?? 0
                do {
                    try SpoolFileIO.remove(path)
                    removedTemporary = true
                    logger.warning(
                        "removed temporary spool file left by an interrupted write",
                        metadata: ["file": "\(path)", "bytes": "\(size)"])
                } catch {
                    // Never a reason not to start: the file is not a segment and is never replayed.
                    logger.error(
                        "could not remove temporary spool file left by an interrupted write",
                        metadata: ["file": "\(path)", "error": "\(error)"])
                }
            } else if let id = SegmentID(fileName: name), let size = SpoolFileIO.regularFileSize(path) {
                found.append((id, size))
                highest = max(highest, id.sequence)
            }
        }
        if removedTemporary { try SpoolFileIO.syncDirectory(directory) }
        // Quarantined names count too, so a new segment never reuses the name of one in corrupt/.
        for name in try SpoolFileIO.listDirectory(corrupt) {
            if let id = SegmentID(fileName: name) { highest = max(highest, id.sequence) }
        }
        found.sort { $0.id < $1.id }

        self.directory = directory
        self.corruptDirectory = corrupt
        self.maxBytes = maxBytes
        self.logger = logger
        self.now = now
        self.metrics = metrics
        self.ioThread = ioThread
        self.segments = found
        let bytes = found.reduce(0) { $0 + $1.bytes }
        self.totalBytes = bytes
        self.nextSequence = highest + 1
        logger.info(
            "spool opened",
            metadata: [
                "directory": "\(directory)", "segments": "\(found.count)",
                "bytes": "\(bytes)", "max_bytes": "\(maxBytes)",
            ])
    }

    /// Stores one batch durably (temporary file, fsync, rename, fsync of the directory). `lines` is
    /// newline-separated line protocol for `database`; a missing final newline is added.
    /// Throws `.full` without writing when the segment would take the spool past `maxBytes`, or when
    /// the file system has no room left (ENOSPC, EDQUOT): the caller keeps the batch and stops reading
    /// MQTT until `isFull` turns false.
    /// `pastLimit` lifts the `maxBytes` bound: a shutdown spools what is left rather than lose it
    /// (README, "Delivery guarantees").
    @discardableResult
    public func append(database: String, lines: [UInt8], lineCount: Int, pastLimit: Bool = false) throws(SpoolError) -> SegmentID {
        let segment = try SpoolSegment(database: database, lineCount: lineCount, body: lines)
        let size = Int64(segment.encodedSize)
        guard pastLimit || totalBytes + size <= maxBytes else {
            refusedForRoom = true
            throw .full(currentBytes: totalBytes, maxBytes: maxBytes)
        }
        let id = SegmentID(
            sequence: nextSequence,
            createdAtMilliseconds: Int64((now().timeIntervalSince1970 * 1000).rounded(.down)))
        let path = directory + "/" + id.fileName
        do {
            try SpoolFileIO.writeDurably(segment.encode(), to: path, temporaryPath: path + ".tmp", directory: directory)
        } catch let error {
            // A full file system (or quota) is the spool being full before `maxBytes`: the same answer,
            // so the caller keeps the batch and pauses the intake instead of failing batch by batch.
            // `writeDurably` removed its temporary file, so the attempt left nothing behind.
            if case let .io(_, _, code) = error, code == ENOSPC || code == EDQUOT {
                refusedForRoom = true
                throw .full(currentBytes: totalBytes, maxBytes: maxBytes)
            }
            throw error
        }
        nextSequence += 1
        segments.append((id, size))
        totalBytes += size
        return id
    }

    /// The oldest segment that reads and decodes, or nil when the spool is empty. A segment that fails
    /// (damaged in the middle, truncated, not a segment at all) is moved to `corrupt/`, logged with
    /// the file and the error, counted, and the next one is tried, so one bad file never stops replay.
    /// Only errors of the process rather than of the file (out of file descriptors or memory) are
    /// thrown; the segment stays and is tried again on the next call.
    public func oldest() throws(SpoolError) -> (id: SegmentID, segment: SpoolSegment)? {
        while let first = segments.first {
            let path = directory + "/" + first.id.fileName
            var bytes: [UInt8] = []
            do {
                bytes = try SpoolFileIO.readFile(path)
                let segment = try SpoolSegment.decode(bytes)
                return (first.id, segment)
            } catch {
                if case let .io(_, _, code) = error {
                    if code == ENOENT {
                        logger.warning("spool segment vanished; skipping it", metadata: ["file": "\(path)"])
                        dropFromIndex(at: 0)
                        continue
                    }
                    if code == EMFILE || code == ENFILE || code == ENOMEM { throw error }
                }
                quarantine(first.id, path: path, error: error, lines: SpoolSegment.declaredLineCount(bytes))
            }
        }
        return nil
    }

    /// Every segment, oldest first: for `ingestd spool export` and `replay`, which go on past one
    /// they cannot send.
    public var segmentIDs: [SegmentID] { segments.map(\.id) }

    /// One segment by id; nil when the spool does not hold it (any more). One that fails to read or
    /// decode is moved to `corrupt/` as in `oldest()`, and nil returned.
    public func read(_ id: SegmentID) throws(SpoolError) -> SpoolSegment? {
        guard segments.contains(where: { $0.id == id }) else { return nil }
        let path = directory + "/" + id.fileName
        var bytes: [UInt8] = []
        do {
            bytes = try SpoolFileIO.readFile(path)
            return try SpoolSegment.decode(bytes)
        } catch {
            if case let .io(_, _, code) = error {
                if code == EMFILE || code == ENFILE || code == ENOMEM { throw error }
                if code == ENOENT, let index = segments.firstIndex(where: { $0.id == id }) {
                    dropFromIndex(at: index)
                    return nil
                }
            }
            quarantine(id, path: path, error: error, lines: SpoolSegment.declaredLineCount(bytes))
            return nil
        }
    }

    /// Deletes a segment after InfluxDB accepted it, and fsyncs the directory. Not throwing: a failure
    /// is logged and the segment is dropped from the replay order anyway, so replay moves on; if the
    /// file survives, the next start replays it once more, which is harmless because every point has
    /// an explicit timestamp (the write is idempotent).
    public func remove(_ id: SegmentID) {
        guard let index = segments.firstIndex(where: { $0.id == id }) else {
            logger.warning("asked to remove a segment the spool does not hold", metadata: ["segment": "\(id)"])
            return
        }
        let path = directory + "/" + id.fileName
        dropFromIndex(at: index)
        do {
            try SpoolFileIO.remove(path)
            try SpoolFileIO.syncDirectory(directory)
        } catch {
            logger.error(
                "could not delete replayed spool segment; it will be replayed again after a restart",
                metadata: ["file": "\(path)", "error": "\(error)"])
        }
    }

    public var status: SpoolStatus {
        SpoolStatus(
            segments: segments.count,
            bytes: totalBytes,
            oldestAgeSeconds: segments.first.map { max(0, now().timeIntervalSince($0.id.createdAt)) })
    }

    /// True once an append was refused for room (or the limit is reached) until a removal frees space:
    /// the signal to stop reading MQTT and, when it turns false, to resume.
    public var isFull: Bool { refusedForRoom || totalBytes >= maxBytes }

    private func dropFromIndex(at index: Int) {
        totalBytes -= segments[index].bytes
        segments.remove(at: index)
        if refusedForRoom && totalBytes < maxBytes { refusedForRoom = false }
    }

    /// Moves a bad segment to `corrupt/` under a name not taken yet and counts it. If even the move
    /// fails, the file stays where it is (and is tried again after a restart) but leaves the replay
    /// order; it is counted once it has been moved.
    private func quarantine(_ id: SegmentID, path: String, error: SpoolError, lines: Int) {
        do {
            let destination = try SpoolFileIO.setAside(path, into: corruptDirectory)
            metrics.corruptFiles.wrappingAdd(1, ordering: .relaxed)
            metrics.corruptLines.wrappingAdd(lines, ordering: .relaxed)
            logger.error(
                "spool segment is unreadable; moved to corrupt/ and skipped",
                metadata: ["file": "\(path)", "moved_to": "\(destination)", "lines": "\(lines)", "error": "\(error)"])
        } catch let moveError {
            logger.error(
                "spool segment is unreadable and could not be moved to corrupt/; skipped",
                metadata: ["file": "\(path)", "error": "\(error)", "move_error": "\(moveError)"])
        }
        if let index = segments.firstIndex(where: { $0.id == id }) { dropFromIndex(at: index) }
    }
}
