import ArgumentParser
import Foundation
import IngestCore
import IngestService
import Logging

/// `ingestd spool status|replay|export|purge`: look after the spool while the daemon is stopped.
struct SpoolCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "spool",
        abstract: "Inspect, replay, export or purge the disk spool (SPOOL_DIR) while the daemon is stopped.",
        subcommands: [Status.self, Replay.self, Export.self, Purge.self]
    )

    struct Status: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Segments, bytes and the oldest segment's age.")

        func run() async throws {
            // The daemon's stats line reports the spool while it runs; here the directory must be quiet.
            let (settings, _, lock, store) = try SpoolCommand.prepare()
            defer { lock.release() }
            // Opening the store already scanned the directory; no second pass over it.
            let status = await store.spool.status
            let age = status.oldestAgeSeconds.map { String(format: "%.0f s", $0) } ?? "-"
            print("spool \(settings.spoolDirectory): \(status.segments) segments, \(status.bytes) bytes, oldest \(age)")
            let deadLetters = (try? FileManager.default.contentsOfDirectory(atPath: settings.spoolDirectory + "/dead-letter")) ?? []
            print("dead-letter files: \(deadLetters.count) (\(settings.spoolDirectory)/dead-letter)")
            let corrupt = (try? FileManager.default.contentsOfDirectory(atPath: store.spool.corruptDirectory)) ?? []
            print("corrupt files set aside: \(corrupt.count) (\(store.spool.corruptDirectory))")
        }
    }

    struct Replay: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Send every spooled batch to InfluxDB now, oldest first, going past any it cannot send; exit 1 if anything is left.",
            discussion: "Shows a progress bar on a terminal, a log line every few seconds otherwise, and a summary at the end.")

        func run() async throws {
            let (settings, logger, lock, store) = try SpoolCommand.prepare()
            defer { lock.release() }
            let client = InfluxClient(configuration: settings.influxClientConfiguration, logger: logger)
            defer { client.shutdown() }
            let replayer = SpoolReplayer(store: store, client: client, backoff: settings.retryBackoff, logger: logger)
            let progress = try await SpoolReplayRun(replayer: replayer, store: store, backoff: settings.retryBackoff, logger: logger).run()
            print(progress.summary)
            logger.info("spool replay finished", metadata: [
                "segments": "\(progress.totalSegments)", "sent": "\(progress.sentSegments)", "lines": "\(progress.lines)",
                "unreadable": "\(progress.missingSegments)", "segments_left": "\(progress.leftSegments)",
                "dead_letter_lines": "\(store.metrics.deadLetterLines.load(ordering: .relaxed))",
            ])
            if progress.leftSegments > 0 || progress.missingSegments > 0 { throw ExitCode(IngestExitCode.failure.rawValue) }
        }
    }

    struct Export: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write the spool as line-protocol files, one per database (DIR/<database>.lp), and keep the spool.",
            discussion: """
                Each file can be sent as it is, e.g. `influx write --bucket DB --precision ns --file DB.lp` or
                `curl --data-binary @DB.lp 'http://influxdb:8086/write?db=DB&precision=ns'`.
                """)

        @Argument(help: "A folder that does not exist yet, or an empty one.")
        var directory: String

        func run() async throws {
            let (settings, logger, lock, store) = try SpoolCommand.prepare()
            defer { lock.release() }
            let export: SpoolExport.Summary
            do {
                export = try await SpoolExport(store: store, directory: directory).run()
            } catch {
                throw SpoolCommand.fail("cannot export the spool of \(settings.spoolDirectory) to \(directory): \(error)")
            }
            for file in export.files {
                print("\(file.path): \(file.lines) lines (database \(file.database))")
            }
            print("spool export: \(export.segments) segments, \(export.lines) lines in \(export.files.count) files"
                + (export.unreadable > 0 ? ", \(export.unreadable) unreadable segments moved to corrupt/" : ""))
            logger.info("spool exported", metadata: [
                "directory": "\(directory)", "segments": "\(export.segments)", "lines": "\(export.lines)",
                "files": "\(export.files.count)", "unreadable": "\(export.unreadable)",
            ])
            if export.unreadable > 0 { throw ExitCode(IngestExitCode.failure.rawValue) }
        }
    }

    struct Purge: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Delete every spooled batch. Their data is gone for good.")

        @Flag(name: .customLong("yes-delete-data"), help: "Confirm that the spooled data may be deleted.")
        var confirmed = false

        func validate() throws {
            guard confirmed else {
                throw ValidationError("purge deletes spooled data that is not in InfluxDB; add --yes-delete-data to confirm")
            }
        }

        func run() async throws {
            let (settings, logger, lock, store) = try SpoolCommand.prepare()
            defer { lock.release() }
            var segments = 0
            while case let (id, _)? = try? await store.spool.oldest() {
                await store.spool.remove(id)
                segments += 1
            }
            logger.warning("spool purged", metadata: ["segments": "\(segments)", "directory": "\(settings.spoolDirectory)"])
        }
    }

    /// Settings, logging, the instance lock and the spool: what every spool sub-command starts with.
    static func prepare() throws -> (Settings, Logger, InstanceLock, DurableStore) {
        let settings = try SettingsLoader.loadOrExit()
        LineLogHandler.bootstrap(format: settings.logFormat, level: settings.logLevel)
        let logger = Logger(label: "ingestd")
        let (lock, store) = try open(settings, logger: logger)
        return (settings, logger, lock, store)
    }

    /// Takes the instance lock (a running daemon makes this exit 75) and opens the spool.
    static func open(_ settings: Settings, logger: Logger) throws -> (InstanceLock, DurableStore) {
        do {
            let lock = try InstanceLock(directory: settings.spoolDirectory)
            let store = try DurableStore(directory: settings.spoolDirectory, maxBytes: Int64(settings.spoolMaxBytes), logger: logger)
            return (lock, store)
        } catch let SpoolError.alreadyLocked(path, pid) {
            logger.critical("ingestd is running on this spool directory; stop it first", metadata: [
                "lock": "\(path)", "pid": "\(pid.map(String.init) ?? "unknown")", "exit_code": "75",
            ])
            throw ExitCode(IngestExitCode.locked.rawValue)
        } catch {
            throw fail("cannot open the spool in \(settings.spoolDirectory): \(error)")
        }
    }

    static func fail(_ message: String) -> ExitCode {
        FileHandle.standardError.write(Data((LogLineFormatter.forStandardError(format: .logfmt).render(
            level: .error, message: message, metadata: [:]) + "\n").utf8))
        return ExitCode(IngestExitCode.failure.rawValue)
    }
}
