#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Synchronization

/// One ingestd per spool directory: an exclusive `flock` on `directory/.lock`, with the holder's PID
/// written into the file so that a second instance can say who holds it (exit code 75).
///
/// `flock` locks belong to the open file description, so the kernel drops the lock when the holder's
/// descriptor is closed, which includes the process dying in any way: a lock file left by a crashed
/// run never blocks the next one, and there is no stale-PID guessing. For the same reason, a second
/// `open`+`flock` of the same file within one process conflicts too.
///
/// Keep the instance for the life of the process (the lock is released when it is deallocated or on
/// `release()`). The descriptor is opened with O_CLOEXEC, so child processes do not inherit the lock.
public final class InstanceLock: Sendable {
    public let path: String
    /// The open descriptor holding the lock; -1 once released. A Mutex so `release()` may be called
    /// from anywhere, at most once in effect.
    private let descriptor: Mutex<Int32>

    /// Creates `directory` if needed and takes the lock without waiting.
    /// Throws `.alreadyLocked(path:pid:)` when another open file description holds it.
    public init(directory: String) throws(SpoolError) {
        try SpoolFileIO.makeDirectory(directory)
        let path = directory + "/.lock"
        // Not O_TRUNC: until we hold the lock, the PID in the file is the holder's, which we report.
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw .io(operation: "open lock file", path: path, errno: errno) }
        var result: Int32
        repeat { result = flock(fd, LOCK_EX | LOCK_NB) } while result != 0 && errno == EINTR
        guard result == 0 else {
            let code = errno
            defer { close(fd) }
            if code == EWOULDBLOCK {
                throw .alreadyLocked(path: path, pid: Self.readPID(fd))
            }
            throw .io(operation: "flock", path: path, errno: code)
        }
        let pid = Array("\(getpid())\n".utf8)
        do throws(SpoolError) {
            guard ftruncate(fd, 0) == 0 else { throw SpoolError.io(operation: "truncate", path: path, errno: errno) }
            guard lseek(fd, 0, SEEK_SET) == 0 else { throw SpoolError.io(operation: "seek", path: path, errno: errno) }
            try SpoolFileIO.writeAll(fd, pid, path: path)
        } catch {
            close(fd)
            throw error
        }
        self.path = path
        self.descriptor = Mutex(fd)
    }

    /// Drops the lock (closing the descriptor). For tests and orderly shutdown; safe to call twice.
    public func release() {
        descriptor.withLock { fd in
            guard fd >= 0 else { return }
            close(fd)
            fd = -1
        }
    }

    deinit { release() }

    /// The PID the holder wrote, if the file holds one (it may be empty for a moment after creation).
    private static func readPID(_ fd: Int32) -> Int32? {
        var buffer = [UInt8](repeating: 0, count: 32)
        let count = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, 0) }
        guard count > 0 else { return nil }
        let digits = buffer[0..<count].prefix { $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }
        return Int32(String(decoding: digits, as: UTF8.self))
    }
}
