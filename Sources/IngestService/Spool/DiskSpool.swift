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
/// process shares it. Every call does blocking file I/O with fsync (one segment per call, so a call
/// lasts milliseconds): call it from the batch writer's flush/replay path, never per message.
///
/// Layout of `directory`:
/// - `segment-<20-digit sequence>-<unix ms>.spool`: one batch each (format in `SpoolSegment`)
/// - `segment-….spool.tmp`: a segment being written (renamed when complete)
/// - `corrupt/`: segments that failed to read or decode, kept for inspection, never replayed
/// Other names (the lock file, `dead-letter/`, journal files) are left alone.
public actor DiskSpool {
    public nonisolated let directory: String
    public nonisolated let corruptDirectory: String
    public nonisolated let maxBytes: Int64
    private let logger: Logger
    private let now: @Sendable () -> Date

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
        now: @escaping @Sendable () -> Date = { Date() }
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
    /// Throws `.full` without writing when the segment would take the spool past `maxBytes`: the
    /// caller keeps the batch and stops reading MQTT until `isFull` turns false. `pastLimit` lifts
    /// that bound: a shutdown spools what is left rather than lose it (README, "Delivery guarantees").
    @discardableResult
    public func append(database: String, lines: [UInt8], lineCount: Int, pastLimit: Bool = false) throws(SpoolError) -> SegmentID {
        let segment = try SpoolSegment(database: database, lineCount: lineCount, body: lines)
        let size = Int64(segment.encodedSize)
        guard pastLimit || totalBytes + size <= maxBytes else {
            if !refusedForRoom {
                logger.warning(
                    "spool full; refusing batches until replay frees space",
                    metadata: [
                        "directory": "\(directory)", "bytes": "\(totalBytes)",
                        "max_bytes": "\(maxBytes)", "batch_bytes": "\(size)",
                    ])
            }
            refusedForRoom = true
            throw .full(currentBytes: totalBytes, maxBytes: maxBytes)
        }
        let id = SegmentID(
            sequence: nextSequence,
            createdAtMilliseconds: Int64((now().timeIntervalSince1970 * 1000).rounded(.down)))
        let path = directory + "/" + id.fileName
        try SpoolFileIO.writeDurably(segment.encode(), to: path, temporaryPath: path + ".tmp", directory: directory)
        nextSequence += 1
        segments.append((id, size))
        totalBytes += size
        logger.debug(
            "batch spooled",
            metadata: [
                "file": "\(path)", "database": "\(database)", "lines": "\(lineCount)",
                "bytes": "\(size)", "spool_segments": "\(segments.count)", "spool_bytes": "\(totalBytes)",
            ])
        return id
    }

    /// The oldest segment that reads and decodes, or nil when the spool is empty. A segment that fails
    /// is moved to `corrupt/` (logged with the file and the error) and the next one is tried, so one
    /// bad file never stops replay. Only errors of the process rather than of the file (out of file
    /// descriptors or memory) are thrown; the segment stays and is tried again on the next call.
    public func oldest() throws(SpoolError) -> (id: SegmentID, segment: SpoolSegment)? {
        while let first = segments.first {
            let path = directory + "/" + first.id.fileName
            do {
                let segment = try SpoolSegment.decode(SpoolFileIO.readFile(path))
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
                quarantine(first.id, path: path, error: error)
            }
        }
        return nil
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
        logger.debug(
            "spool segment removed",
            metadata: ["file": "\(path)", "spool_segments": "\(segments.count)", "spool_bytes": "\(totalBytes)"])
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

    /// Reads the status of a spool directory without opening it (no directory is created, no file
    /// deleted): for `ingestd spool status` while a daemon may be running on it.
    public static func inspect(directory: String, now: Date = Date()) throws(SpoolError) -> SpoolStatus {
        var count = 0
        var bytes: Int64 = 0
        var oldest: SegmentID?
        for name in try SpoolFileIO.listDirectory(directory) {
            guard let id = SegmentID(fileName: name),
                let size = SpoolFileIO.regularFileSize(directory + "/" + name)
            else { continue }
            count += 1
            bytes += size
            if oldest.map({ id < $0 }) ?? true { oldest = id }
        }
        return SpoolStatus(
            segments: count, bytes: bytes,
            oldestAgeSeconds: oldest.map { max(0, now.timeIntervalSince($0.createdAt)) })
    }

    private func dropFromIndex(at index: Int) {
        totalBytes -= segments[index].bytes
        segments.remove(at: index)
        if refusedForRoom && totalBytes < maxBytes {
            refusedForRoom = false
            logger.info(
                "spool has room again",
                metadata: ["directory": "\(directory)", "bytes": "\(totalBytes)", "max_bytes": "\(maxBytes)"])
        }
    }

    /// Moves a bad segment to `corrupt/` under a name not taken yet. If even the move fails, the file
    /// stays where it is (and is tried again after a restart) but leaves the replay order.
    private func quarantine(_ id: SegmentID, path: String, error: SpoolError) {
        var destination = corruptDirectory + "/" + id.fileName
        var attempt = 1
        while SpoolFileIO.exists(destination) {
            destination = corruptDirectory + "/" + id.fileName + ".\(attempt)"
            attempt += 1
        }
        do {
            try SpoolFileIO.move(path, to: destination)
            try SpoolFileIO.syncDirectory(corruptDirectory)
            try SpoolFileIO.syncDirectory(directory)
            logger.error(
                "spool segment is unreadable; moved to corrupt/ and skipped",
                metadata: ["file": "\(path)", "moved_to": "\(destination)", "error": "\(error)"])
        } catch let moveError {
            logger.error(
                "spool segment is unreadable and could not be moved to corrupt/; skipped",
                metadata: ["file": "\(path)", "error": "\(error)", "move_error": "\(moveError)"])
        }
        if let index = segments.firstIndex(where: { $0.id == id }) { dropFromIndex(at: index) }
    }
}
