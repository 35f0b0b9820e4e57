extension Array where Element == UInt8 {
    /// Appends raw bytes in one copy. `append(contentsOf:)` with an `UnsafeRawBufferPointer` (or a
    /// String's UTF-8 view) goes through the generic sequence path, about a hundred instructions
    /// for a ten-byte name; a typed buffer pointer is a plain memcpy.
    @inline(__always)
    mutating func append(bytes: UnsafeRawBufferPointer) {
        append(contentsOf: bytes.assumingMemoryBound(to: UInt8.self))
    }

    /// Appends a literal's UTF-8 bytes (`" seq="`, `"true"`) in one copy.
    @inline(__always)
    mutating func append(literal: StaticString) {
        append(contentsOf: UnsafeBufferPointer(start: literal.utf8Start, count: literal.utf8CodeUnitCount))
    }
}
