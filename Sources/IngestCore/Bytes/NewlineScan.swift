#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Finds line ends in line protocol with `memchr`, which skips a line's ~100 bytes many at a time;
/// a loop testing each byte cost the writer a few hundred instructions per line, twice.
public enum NewlineScan {
    /// Number of `\n` bytes.
    public static func count(in bytes: UnsafeRawBufferPointer) -> Int {
        var count = 0
        forEachNewline(in: bytes) { _ in
            count += 1
            return true
        }
        return count
    }

    /// The longest run of whole lines at the start of `bytes` with at most `maxLines` lines and
    /// `maxBytes` bytes, but at least one line: its line count and byte length (0, 0 without a `\n`).
    public static func leadingLines(in bytes: UnsafeRawBufferPointer, maxLines: Int, maxBytes: Int) -> (lines: Int, end: Int) {
        var lines = 0
        var end = 0
        forEachNewline(in: bytes) { index in
            if index + 1 > maxBytes && lines > 0 { return false }
            lines += 1
            end = index + 1
            return lines < maxLines
        }
        return (lines, end)
    }

    /// Where the last `count` whole lines of `bytes` (which ends in a `\n`) begin: just after the
    /// `(count + 1)`-th `\n` from the end, 0 when there are no more lines than that, `bytes.count` for
    /// none. Scanned backwards over those lines only: a batch's last few hundred lines, not megabytes.
    public static func startOfTrailingLines(_ count: Int, in bytes: UnsafeRawBufferPointer) -> Int {
        guard count > 0 else { return bytes.count }
        var newlines = 0
        var index = bytes.count - 1
        while index >= 0 {
            if bytes[index] == UInt8(ascii: "\n") {
                newlines += 1
                if newlines == count + 1 { return index + 1 }
            }
            index -= 1
        }
        return 0
    }

    /// Calls `body` with the offset of each `\n` in order while it returns true.
    private static func forEachNewline(in bytes: UnsafeRawBufferPointer, _ body: (Int) -> Bool) {
        guard let base = bytes.baseAddress else { return }
        var position = 0
        while position < bytes.count, let hit = memchr(base + position, Int32(UInt8(ascii: "\n")), bytes.count - position) {
            let index = base.distance(to: UnsafeRawPointer(hit))
            guard body(index) else { return }
            position = index + 1
        }
    }
}
