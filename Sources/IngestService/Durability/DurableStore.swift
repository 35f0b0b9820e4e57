import Logging

/// The disk spool and the dead-letter folder under `SPOOL_DIR`, as the batch writer and the replayer
/// use them, keeping `SpoolMetrics` current.
///
/// This is the one layer that logs spool and dead-letter events (a batch spooled, the spool full and
/// room again, a dead-letter file written, a write that failed), each once; `DiskSpool` and
/// `DeadLetterWriter` only report through their results. Both run on one `FileIOThread`: they share
/// the disk, so a second thread would only make their fsyncs queue in the kernel instead.
public final class DurableStore: OverflowStore {
    public let spool: DiskSpool
    public let deadLetters: DeadLetterWriter
    public let metrics: SpoolMetrics
    private let logger: Logger

    public init(directory: String, maxBytes: Int64, logger: Logger) throws(SpoolError) {
        let metrics = SpoolMetrics()
        let ioThread = FileIOThread(name: "ingestd-spool")
        spool = try DiskSpool(directory: directory, maxBytes: maxBytes, logger: logger, metrics: metrics, ioThread: ioThread)
        deadLetters = try DeadLetterWriter(directory: directory + "/dead-letter", logger: logger, ioThread: ioThread)
        self.metrics = metrics
        self.logger = logger
    }

    public func spool(database: String, body: [UInt8], lineCount: Int) async -> Bool {
        await spool(database: database, body: body, lineCount: lineCount, pastLimit: false)
    }

    public func spoolPastLimit(database: String, body: [UInt8], lineCount: Int) async -> Bool {
        await spool(database: database, body: body, lineCount: lineCount, pastLimit: true)
    }

    private func spool(database: String, body: [UInt8], lineCount: Int, pastLimit: Bool) async -> Bool {
        do {
            let id = try await spool.append(database: database, lines: body, lineCount: lineCount, pastLimit: pastLimit)
            logger.debug("batch spooled", metadata: [
                "database": "\(database)", "lines": "\(lineCount)", "file": "\(spool.directory)/\(id.fileName)",
            ])
            await refreshMetrics()
            return true
        } catch {
            if case .full = error {
                if metrics.full.exchange(1, ordering: .relaxed) == 0 {
                    logger.error("spool full: keeping batches in memory; MQTT intake pauses once memory is full too, the broker holds the rest", metadata: [
                        "directory": "\(spool.directory)", "max_bytes": "\(spool.maxBytes)", "batch_bytes": "\(body.count)",
                    ])
                }
            } else {
                logger.error("cannot write to the spool; keeping the batch in memory", metadata: [
                    "database": "\(database)", "lines": "\(lineCount)", "error": "\(error)",
                ])
            }
            return false
        }
    }

    public func deadLetter(database: String, status: Int, error: String, lines: [[UInt8]]) async -> Bool {
        do {
            let path = try await deadLetters.write(database: database, status: status, error: error, lines: lines)
            metrics.deadLetterLines.wrappingAdd(lines.count, ordering: .relaxed)
            logger.error("InfluxDB refused lines; set aside in the dead-letter folder", metadata: [
                "database": "\(database)", "lines": "\(lines.count)", "status": "\(status)", "file": "\(path)", "error": "\(error)",
            ])
            return true
        } catch {
            logger.critical("cannot write the dead-letter file; keeping the lines in memory", metadata: [
                "database": "\(database)", "lines": "\(lines.count)", "error": "\(error)",
            ])
            return false
        }
    }

    /// Reads the spool's size into the metrics (after every append and removal).
    public func refreshMetrics() async {
        let status = await spool.status
        metrics.segments.store(status.segments, ordering: .relaxed)
        metrics.bytes.store(Int(status.bytes), ordering: .relaxed)
        if await !spool.isFull, metrics.full.exchange(0, ordering: .relaxed) == 1 {
            logger.notice("spool has room again", metadata: ["segments": "\(status.segments)", "bytes": "\(status.bytes)"])
        }
    }
}
