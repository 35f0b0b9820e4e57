import CCurl

/// gzip (RFC 1952) compression of request bodies with the system zlib (already a dependency of
/// libcurl). libcurl only decompresses responses; request bodies must be compressed by the caller.
public enum Gzip {
    public struct Failure: Error, Sendable, Equatable {
        /// zlib's return code.
        public let code: Int32
    }

    /// Compresses `input` in one call. Level 1 (fastest): line protocol compresses well even then,
    /// and the CPU is better spent on the hot path.
    public static func compress(_ input: [UInt8], level: Int32 = 1) throws(Failure) -> [UInt8] {
        let capacity = ingestd_gzip_bound(input.count)
        var output = [UInt8](repeating: 0, count: capacity)
        var length = 0
        let code = input.withUnsafeBufferPointer { inBuffer in
            output.withUnsafeMutableBufferPointer { outBuffer in
                ingestd_gzip(inBuffer.baseAddress, inBuffer.count, outBuffer.baseAddress, capacity, &length, level)
            }
        }
        guard code == Z_OK else { throw Failure(code: code) }
        output.removeSubrange(length...)
        return output
    }
}
