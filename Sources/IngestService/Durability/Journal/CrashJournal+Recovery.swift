import Logging

/// Reading what an earlier run left in the journal directory.
///
/// **Damage.** A record that does not decode (torn by a crash mid-write, or bytes changed on disk)
/// does not end the reading: the reader looks for the next record's magic number after it and goes
/// on from there (every record carries its own CRC-32C, so a false start is refused like any other
/// damage). The lines in the unreadable bytes are lost; everything before and after them is
/// recovered. A file with damage is moved to `corrupt/` at start instead of being deleted, named in
/// a log line and counted (`corrupt_files`, `corrupt_lines`), and start-up goes on: a damaged journal
/// never stops ingestd and never needs a manual wipe (README, Delivery guarantees).
extension CrashJournal {
    /// What an earlier run left unacknowledged, read without changing anything (for inspection; a
    /// running daemon gets the same lines from `recovered`). Damage is logged and skipped.
    public static func recover(directory: String, logger: Logger) throws(SpoolError) -> [JournalBatch] {
        guard SpoolFileIO.isDirectory(directory) else { return [] }
        return try read(directory: directory, logger: logger).batches
    }

    struct Earlier {
        var batches: [JournalBatch] = []
        var highestSequence: UInt64 = 0
        var fileNumbers: [UInt64] = []
        /// Files with bytes that did not decode, and the lines (newlines) in those bytes.
        var damaged: [(number: UInt64, lostLines: Int)] = []
    }

    static func read(directory: String, logger: Logger) throws(SpoolError) -> Earlier {
        var earlier = Earlier()
        earlier.fileNumbers = try SpoolFileIO.listDirectory(directory).compactMap(number(ofFile:)).sorted()
        var acknowledged: UInt64 = 0
        var lineRecords: [JournalRecord] = []
        for (index, number) in earlier.fileNumbers.enumerated() {
            let path = path(directory, number)
            let bytes = try SpoolFileIO.readFile(path)
            var offset = 0
            var lostLines = 0
            var damaged = false
            while offset < bytes.count {
                do {
                    let (record, next) = try JournalRecord.decode(bytes, at: offset)
                    offset = next
                    earlier.highestSequence = max(earlier.highestSequence, record.lastSequence)
                    if record.isAcknowledgement {
                        acknowledged = max(acknowledged, record.sequence)
                    } else {
                        lineRecords.append(record)
                    }
                } catch {
                    damaged = true
                    let resume = nextMagic(in: bytes, after: offset)
                    let skipped = bytes[offset..<(resume ?? bytes.count)]
                    let lines = lostLineCount(skipped)
                    lostLines += lines
                    let metadata: Logger.Metadata = [
                        "file": "\(path)", "offset": "\(offset)", "ignored_bytes": "\(skipped.count)",
                        "ignored_lines": "\(lines)", "error": "\(error)",
                    ]
                    if case .torn = error, resume == nil, index == earlier.fileNumbers.count - 1 {
                        logger.warning("journal ends with a torn record from an interrupted write; ignored", metadata: metadata)
                    } else {
                        logger.error(
                            "journal record is damaged; skipped to the next intact record", metadata: metadata)
                    }
                    offset = resume ?? bytes.count
                }
            }
            if damaged { earlier.damaged.append((number, lostLines)) }
        }

        // Lines up to `done` are acknowledged or already returned (a rewrite after a failed write
        // repeats numbers); numbers only grow through the files, so one mark is enough.
        var done = acknowledged
        for record in lineRecords where record.lastSequence > done {
            let skip = done >= record.sequence ? Int(done - record.sequence + 1) : 0
            let body = skip > 0 ? dropLines(skip, from: record.body) : record.body
            let count = record.lineCount - skip
            let first = record.lastSequence - UInt64(count) + 1
            done = record.lastSequence
            if let last = earlier.batches.last, last.database == record.database, last.sequences.upperBound + 1 == first {
                earlier.batches[earlier.batches.count - 1].lines.append(contentsOf: body)
                earlier.batches[earlier.batches.count - 1].lineCount += count
                earlier.batches[earlier.batches.count - 1].sequences = last.sequences.lowerBound...record.lastSequence
            } else {
                earlier.batches.append(JournalBatch(
                    database: record.database, lines: body, lineCount: count, sequences: first...record.lastSequence))
            }
        }
        earlier.highestSequence = max(earlier.highestSequence, acknowledged)
        return earlier
    }

    /// Moves the damaged files of an earlier run to `corruptDirectory`, each named in a log line.
    /// Called only once their readable lines are durable in the new journal file. A file that cannot
    /// be moved stays where it is (and is read again at the next start): logged, never fatal.
    static func setAside(
        _ damaged: [(number: UInt64, lostLines: Int)], directory: String, corruptDirectory: String, logger: Logger
    ) {
        for file in damaged {
            let path = path(directory, file.number)
            do {
                let destination = try SpoolFileIO.setAside(path, into: corruptDirectory)
                logger.error(
                    "journal file is damaged; its readable lines are recovered, the file moved to corrupt/",
                    metadata: ["file": "\(path)", "moved_to": "\(destination)", "lost_lines": "\(file.lostLines)"])
            } catch {
                logger.error(
                    "journal file is damaged and could not be moved to corrupt/; it stays",
                    metadata: ["file": "\(path)", "error": "\(error)"])
            }
        }
    }

    /// Lines in bytes that did not decode: the line count of the record header they start with when
    /// it is complete and has the magic number (exact for a torn tail or a damaged body; capped by
    /// the bytes after the header, since the checksum did not vouch for it), else their newlines.
    static func lostLineCount(_ skipped: ArraySlice<UInt8>) -> Int {
        let start = skipped.startIndex
        if skipped.count >= JournalRecord.headerSize, Array(skipped[start..<start + 4]) == JournalRecord.magic {
            let declared = Int(Array(skipped).readLittleEndian(UInt32.self, at: 16))
            return min(declared, skipped.count - JournalRecord.headerSize)
        }
        return skipped.reduce(0) { $1 == UInt8(ascii: "\n") ? $0 + 1 : $0 }
    }

    /// The offset of the next record magic number after `offset`, if any.
    static func nextMagic(in bytes: [UInt8], after offset: Int) -> Int? {
        let magic = JournalRecord.magic
        var index = offset + 1
        while index + magic.count <= bytes.count {
            if bytes[index] == magic[0], bytes[index + 1] == magic[1], bytes[index + 2] == magic[2],
                bytes[index + 3] == magic[3]
            {
                return index
            }
            index += 1
        }
        return nil
    }

    static func dropLines(_ count: Int, from body: [UInt8]) -> [UInt8] {
        var seen = 0
        for (index, byte) in body.enumerated() where byte == UInt8(ascii: "\n") {
            seen += 1
            if seen == count { return Array(body[(index + 1)...]) }
        }
        return []
    }
}
