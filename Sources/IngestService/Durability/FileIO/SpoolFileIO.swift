#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The few POSIX file operations the spool, dead-letter writer, lock and journal need, with the
/// durability steps spelled out (fsync of the file, rename, fsync of the directory) and every
/// failure turned into `SpoolError.io`. All calls block: callers keep them off hot paths.
enum SpoolFileIO {
    /// `mkdir -p`: creates the directory and any missing parents; an existing directory is fine.
    static func makeDirectory(_ path: String) throws(SpoolError) {
        var prefix = path.hasPrefix("/") ? "" : "."
        for component in path.split(separator: "/") {
            prefix += "/" + component
            if mkdir(prefix, 0o750) == 0 { continue }
            let code = errno
            guard code == EEXIST, isDirectory(prefix) else {
                throw .io(operation: "create directory", path: prefix, errno: code == EEXIST ? ENOTDIR : code)
            }
        }
    }

    static func isDirectory(_ path: String) -> Bool {
        var info = stat()
        return stat(path, &info) == 0 && (info.st_mode & S_IFMT) == S_IFDIR
    }

    /// Size of a regular file, or nil when there is none (missing, a directory, a link).
    static func regularFileSize(_ path: String) -> Int64? {
        var info = stat()
        guard lstat(path, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else { return nil }
        return Int64(info.st_size)
    }

    static func exists(_ path: String) -> Bool {
        var info = stat()
        return lstat(path, &info) == 0
    }

    /// Names in a directory, without `.` and `..`, in no particular order.
    static func listDirectory(_ path: String) throws(SpoolError) -> [String] {
        guard let directory = opendir(path) else {
            throw .io(operation: "list directory", path: path, errno: errno)
        }
        defer { closedir(directory) }
        var names: [String] = []
        while let entry = readdir(directory) {
            let name = withUnsafePointer(to: &entry.pointee.d_name) { pointer in
                pointer.withMemoryRebound(to: CChar.self, capacity: MemoryLayout.size(ofValue: pointer.pointee)) {
                    String(cString: $0)
                }
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names
    }

    static func readFile(_ path: String) throws(SpoolError) -> [UInt8] {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw .io(operation: "open", path: path, errno: errno) }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            let count = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count > 0 {
                bytes.append(contentsOf: chunk[0..<count])
            } else if count == 0 {
                return bytes
            } else if errno != EINTR {
                throw .io(operation: "read", path: path, errno: errno)
            }
        }
    }

    /// Writes every byte, retrying short writes and EINTR.
    static func writeAll(_ fd: Int32, _ bytes: [UInt8], path: String) throws(SpoolError) {
        var offset = 0
        while offset < bytes.count {
            let written = bytes.withUnsafeBytes { buffer in
                write(fd, buffer.baseAddress! + offset, buffer.count - offset)
            }
            if written >= 0 {
                offset += written
            } else if errno != EINTR {
                throw .io(operation: "write", path: path, errno: errno)
            }
        }
    }

    static func syncFile(_ fd: Int32, path: String) throws(SpoolError) {
        guard fsync(fd) == 0 else { throw .io(operation: "fsync", path: path, errno: errno) }
    }

    /// Makes creations, renames and deletions of entries in `path` durable.
    static func syncDirectory(_ path: String) throws(SpoolError) {
        let fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw .io(operation: "open directory", path: path, errno: errno) }
        defer { close(fd) }
        guard fsync(fd) == 0 else { throw .io(operation: "fsync directory", path: path, errno: errno) }
    }

    /// Creates `path` atomically and durably: the bytes go to `temporaryPath` (same directory, so the
    /// rename cannot cross file systems), which is fsynced, renamed over `path`, and then the
    /// directory is fsynced. A reader sees either no file or the whole file, also after a power cut.
    /// On failure the temporary file is removed and nothing is left under `path`.
    static func writeDurably(_ bytes: [UInt8], to path: String, temporaryPath: String, directory: String)
        throws(SpoolError)
    {
        let fd = open(temporaryPath, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o640)
        guard fd >= 0 else { throw .io(operation: "create", path: temporaryPath, errno: errno) }
        do {
            try writeAll(fd, bytes, path: temporaryPath)
            try syncFile(fd, path: temporaryPath)
        } catch {
            close(fd)
            unlink(temporaryPath)
            throw error
        }
        guard close(fd) == 0 else {
            let code = errno
            unlink(temporaryPath)
            throw .io(operation: "close", path: temporaryPath, errno: code)
        }
        guard rename(temporaryPath, path) == 0 else {
            let code = errno
            unlink(temporaryPath)
            throw .io(operation: "rename to \(path)", path: temporaryPath, errno: code)
        }
        try syncDirectory(directory)
    }

    /// Deletes a file; returns false when it was already gone.
    @discardableResult
    static func remove(_ path: String) throws(SpoolError) -> Bool {
        if unlink(path) == 0 { return true }
        if errno == ENOENT { return false }
        throw .io(operation: "delete", path: path, errno: errno)
    }

    static func move(_ source: String, to destination: String) throws(SpoolError) {
        guard rename(source, destination) == 0 else {
            throw .io(operation: "rename to \(destination)", path: source, errno: errno)
        }
    }

    /// Moves a damaged file into `directory` (created if needed) under its own name, or with `.1`,
    /// `.2`… appended when that is taken, and makes both directory entries durable. Returns the new
    /// path. For the spool's and the journal's `corrupt/`.
    static func setAside(_ path: String, into directory: String) throws(SpoolError) -> String {
        try makeDirectory(directory)
        let name = String(path.split(separator: "/").last ?? Substring(path))
        var destination = directory + "/" + name
        var attempt = 1
        while exists(destination) {
            destination = directory + "/" + name + ".\(attempt)"
            attempt += 1
        }
        try move(path, to: destination)
        try syncDirectory(directory)
        try syncDirectory(parent(of: path))
        return destination
    }

    /// The directory part of `path` ("." for a bare name).
    static func parent(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        return slash == path.startIndex ? "/" : String(path[..<slash])
    }
}
