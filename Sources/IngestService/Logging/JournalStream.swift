#if canImport(Glibc)
import Glibc
#endif

/// The stream systemd connected a service's standard output or error to: `JOURNAL_STREAM` holds its
/// `<device>:<inode>` (systemd.exec(5)). A process whose standard error was redirected elsewhere (a
/// child of the service, a shell pipe) inherits the variable too, so the variable alone is not
/// enough: the file descriptor must be that very stream.
public struct JournalStream: Sendable, Equatable {
    public let device: UInt64
    public let inode: UInt64

    public init(device: UInt64, inode: UInt64) {
        self.device = device
        self.inode = inode
    }

    /// Parses `JOURNAL_STREAM` (two decimal numbers and a colon); nil when unset or malformed.
    public init?(environmentValue: String?) {
        guard let value = environmentValue else { return nil }
        let parts = value.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 2, let device = UInt64(parts[0]), let inode = UInt64(parts[1]) else { return nil }
        self.init(device: device, inode: inode)
    }

    /// The device and inode of an open file descriptor; nil when `fstat` fails (a closed descriptor).
    public init?(fileDescriptor: Int32) {
        var status = stat()
        guard fstat(fileDescriptor, &status) == 0 else { return nil }
        self.init(device: UInt64(status.st_dev), inode: UInt64(status.st_ino))
    }

    /// True when `fileDescriptor` is the journal stream `environment` names.
    public static func isJournal(fileDescriptor: Int32, environment: [String: String]) -> Bool {
        guard let named = JournalStream(environmentValue: environment["JOURNAL_STREAM"]) else { return false }
        return JournalStream(fileDescriptor: fileDescriptor) == named
    }
}
