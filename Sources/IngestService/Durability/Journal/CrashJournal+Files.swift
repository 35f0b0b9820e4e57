#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Logging

/// The journal's files: creating, rotating, naming and deleting them once every line in them is
/// acknowledged.
extension CrashJournal {
    func startNewFile(_ out: inout Output) throws(SpoolError) {
        let number = out.number + 1
        let fd = try Self.createFile(directory: directory, number: number)
        if out.fd >= 0 {
            close(out.fd)
            out.older.append((out.number, out.lastSequence))
        }
        logger.debug("journal rotated", metadata: ["file": "\(Self.path(directory, number))"])
        out = Output(
            fd: fd, number: number, size: 0, lastSequence: 0, older: out.older,
            writtenAcknowledgement: out.writtenAcknowledgement)
    }

    func deleteAcknowledgedFiles(_ out: inout Output, acknowledged: UInt64) {
        var removed = false
        out.older.removeAll { file in
            guard file.lastSequence <= acknowledged else { return false }
            let path = Self.path(directory, file.number)
            do {
                try SpoolFileIO.remove(path)
                removed = true
                logger.debug("journal file fully acknowledged; deleted", metadata: ["file": "\(path)"])
            } catch {
                // Harmless if it stays: its lines are all covered by an acknowledgement on disk.
                logger.error("could not delete acknowledged journal file", metadata: ["file": "\(path)", "error": "\(error)"])
            }
            return true
        }
        if removed {
            do {
                try SpoolFileIO.syncDirectory(directory)
            } catch {
                logger.error("could not fsync journal directory", metadata: ["directory": "\(directory)", "error": "\(error)"])
            }
        }
    }

    /// Creates a new, empty journal file and makes its directory entry durable.
    static func createFile(directory: String, number: UInt64) throws(SpoolError) -> Int32 {
        let path = path(directory, number)
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC, 0o640)
        guard fd >= 0 else { throw .io(operation: "create journal", path: path, errno: errno) }
        do {
            try SpoolFileIO.syncDirectory(directory)
        } catch {
            close(fd)
            throw error
        }
        return fd
    }

    static func path(_ directory: String, _ number: UInt64) -> String {
        let digits = String(number)
        return directory + "/journal-" + String(repeating: "0", count: max(0, 20 - digits.count)) + digits + ".log"
    }

    static func number(ofFile name: String) -> UInt64? {
        guard name.hasPrefix("journal-"), name.hasSuffix(".log"),
            let number = UInt64(name.dropFirst("journal-".count).dropLast(".log".count)),
            path("", number) == "/" + name
        else { return nil }
        return number
    }
}
