import Foundation

/// Appends quarantine records to a JSON Lines file and rotates it: when a record would take the file
/// past `maxBytes`, the file becomes `<path>.1` (replacing the previous one) and a new file starts.
/// Owned by the quarantine task alone.
final class QuarantineFileWriter {
    let path: String
    let maxBytes: Int
    private var handle: FileHandle?
    private var size = 0
    private let encoder: JSONEncoder

    init(path: String, maxBytes: Int) {
        self.path = path
        self.maxBytes = maxBytes
        encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
    }

    deinit { try? handle?.close() }

    /// Writes the records; throws when the file cannot be opened or written.
    func append(_ records: [QuarantineRecord]) throws {
        guard !records.isEmpty else { return }
        var chunk = Data()
        for record in records {
            var line = try encoder.encode(record)
            line.append(0x0A)
            if size + chunk.count + line.count > maxBytes, size + chunk.count > 0 {
                try write(chunk)
                chunk.removeAll(keepingCapacity: true)
                try rotate()
            }
            chunk.append(line)
        }
        try write(chunk)
    }

    private func write(_ data: Data) throws {
        guard !data.isEmpty else { return }
        let handle = try openIfNeeded()
        try handle.write(contentsOf: data)
        size += data.count
    }

    private func openIfNeeded() throws -> FileHandle {
        if let handle { return handle }
        let directory = (path as NSString).deletingLastPathComponent
        if !directory.isEmpty {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        }
        if !FileManager.default.fileExists(atPath: path) {
            guard FileManager.default.createFile(atPath: path, contents: nil, attributes: [.posixPermissions: 0o640]) else {
                throw CocoaError(.fileWriteNoPermission, userInfo: [NSFilePathErrorKey: path])
            }
        }
        let opened = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        size = Int(try opened.seekToEnd())
        handle = opened
        return opened
    }

    private func rotate() throws {
        try handle?.close()
        handle = nil
        size = 0
        let rotated = path + ".1"
        try? FileManager.default.removeItem(atPath: rotated)
        try FileManager.default.moveItem(atPath: path, toPath: rotated)
    }
}
