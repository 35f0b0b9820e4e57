import Foundation
import IngestService

/// `ingestd spool export DIR`: the spool as line-protocol files, one per database, oldest batch
/// first (README "Spool tools"). Every line carries its timestamp in nanoseconds, so a file can be
/// sent again as it is, and sending it twice overwrites rather than duplicates. The spool itself is
/// left as it was (unreadable segments are moved to `corrupt/`, as replay would).
struct SpoolExport {
    struct File: Sendable {
        var database: String
        var path: String
        var lines: Int
    }

    struct Summary: Sendable {
        var segments = 0
        var lines = 0
        var unreadable = 0
        var files: [File] = []
    }

    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    let store: DurableStore
    let directory: String

    func run() async throws -> Summary {
        let manager = FileManager.default
        var isDirectory: ObjCBool = false
        if manager.fileExists(atPath: directory, isDirectory: &isDirectory) {
            guard isDirectory.boolValue else { throw Failure(description: "it is a file, not a folder") }
            guard try manager.contentsOfDirectory(atPath: directory).isEmpty else {
                throw Failure(description: "the folder is not empty; name a new or empty one")
            }
        } else {
            try manager.createDirectory(atPath: directory, withIntermediateDirectories: true)
        }
        var summary = Summary()
        var handles: [String: (handle: FileHandle, index: Int)] = [:]
        defer { for (_, open) in handles { try? open.handle.close() } }
        for id in await store.spool.segmentIDs {
            guard let segment = try await store.spool.read(id) else {
                summary.unreadable += 1
                continue
            }
            if handles[segment.database] == nil {
                let path = directory + "/" + Self.fileName(for: segment.database, taken: Set(summary.files.map(\.path)), in: directory)
                guard manager.createFile(atPath: path, contents: nil) else { throw Failure(description: "cannot create \(path)") }
                handles[segment.database] = (try FileHandle(forWritingTo: URL(fileURLWithPath: path)), summary.files.count)
                summary.files.append(File(database: segment.database, path: path, lines: 0))
            }
            let (handle, index) = handles[segment.database]!
            var body = segment.body
            if body.last != UInt8(ascii: "\n") { body.append(UInt8(ascii: "\n")) }
            try handle.write(contentsOf: body)
            summary.files[index].lines += segment.lineCount
            summary.segments += 1
            summary.lines += segment.lineCount
        }
        for (_, open) in handles { try open.handle.synchronize() }
        return summary
    }

    /// `<database>.lp`, with characters a file name cannot hold replaced by `_` (and a number added
    /// should two databases come out the same).
    static func fileName(for database: String, taken: Set<String>, in directory: String) -> String {
        let safe = String(database.map { $0 == "/" || $0 == "\0" || $0 == "\\" ? "_" : $0 })
        let base = safe.isEmpty || safe.hasPrefix(".") ? "_" + safe : safe
        var name = base + ".lp"
        var n = 2
        while taken.contains(directory + "/" + name) {
            name = "\(base)-\(n).lp"
            n += 1
        }
        return name
    }
}
