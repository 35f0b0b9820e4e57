#if canImport(Glibc)
import Glibc
#endif
import CMosquitto

/// Process-wide libmosquitto state and small helpers around its integer error codes.
enum MosquittoLibrary {
    /// `mosquitto_lib_init` exactly once per process (Swift initialises globals once, thread-safely).
    /// Never cleaned up: the library lives as long as the process.
    private static let initialised: Int32 = mosquitto_lib_init()

    static func ensureInitialised() { _ = initialised }

    static let success = Int32(MOSQ_ERR_SUCCESS.rawValue)
    static let errno = Int32(MOSQ_ERR_ERRNO.rawValue)

    /// Readable text for a libmosquitto return code; for `MOSQ_ERR_ERRNO` the text of `errno` as it
    /// was right after the call (pass it in: later calls may change it).
    static func describe(_ rc: Int32, errno savedErrno: Int32) -> String {
        if rc == Self.errno, savedErrno != 0 { return String(cString: strerror(savedErrno)) }
        return String(cString: mosquitto_strerror(rc))
    }

    /// libmosquitto's version, e.g. "2.0.11".
    static var version: String {
        var major: Int32 = 0, minor: Int32 = 0, revision: Int32 = 0
        _ = mosquitto_lib_version(&major, &minor, &revision)
        return "\(major).\(minor).\(revision)"
    }
}
