#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Everything that can go wrong in the durable on-disk pieces (spool, dead letters, lock, journal).
/// `description` is written to read well as the `error=` value of a log line.
public enum SpoolError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The bytes end before the header or the declared body does: a write cut short by a crash.
    case torn(expectedBytes: Int, actualBytes: Int)
    /// The file does not start with the format's magic number: not ours, or overwritten.
    case badMagic(found: UInt32)
    /// Written by a format version this build does not know.
    case unsupportedVersion(found: UInt16, supported: UInt16)
    /// More bytes than the header declares: something appended to or overwrote the file.
    case lengthMismatch(declaredBytes: Int, actualBytes: Int)
    /// The checksum over header and body does not match: bytes changed after they were written.
    case checksumMismatch(stored: UInt32, computed: UInt32)
    /// The caller handed over something that cannot be stored (empty batch, oversized name or body).
    case invalidBatch(reason: String)
    /// Writing this segment would take the spool past its limit; the caller stops reading MQTT.
    case full(currentBytes: Int64, maxBytes: Int64)
    /// A system call failed; `errno` is the C error number.
    case io(operation: String, path: String, errno: Int32)
    /// Another process holds the instance lock; `pid` is what it wrote into the lock file, if readable.
    case alreadyLocked(path: String, pid: Int32?)

    public var description: String {
        switch self {
        case let .torn(expected, actual):
            return "torn record: expected \(expected) bytes, found \(actual)"
        case let .badMagic(found):
            return "bad magic number 0x\(String(found, radix: 16)): not a file of this format"
        case let .unsupportedVersion(found, supported):
            return "unsupported format version \(found) (this build reads version \(supported))"
        case let .lengthMismatch(declared, actual):
            return "length mismatch: header declares \(declared) bytes, file has \(actual)"
        case let .checksumMismatch(stored, computed):
            return "checksum mismatch: stored crc32c 0x\(String(stored, radix: 16)), "
                + "computed 0x\(String(computed, radix: 16))"
        case let .invalidBatch(reason):
            return "invalid batch: \(reason)"
        case let .full(current, max):
            return "spool full: \(current) of \(max) bytes used"
        case let .io(operation, path, code):
            return "\(operation) \(path) failed: \(String(cString: strerror(code))) (errno \(code))"
        case let .alreadyLocked(path, pid):
            if let pid { return "another ingestd (pid \(pid)) holds the lock \(path)" }
            return "another process holds the lock \(path) (its pid is unknown)"
        }
    }
}
