/// CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), table driven. Written here rather than
/// linking zlib: zlib only has plain CRC-32, and CRC-32C detects more error patterns in short records.
/// Check value: `CRC32C.checksum(Array("123456789".utf8)) == 0xE3069283`.
struct CRC32C: Sendable {
    private static let table: [UInt32] = (0..<256).map { index in
        var crc = UInt32(index)
        for _ in 0..<8 { crc = (crc & 1) != 0 ? (crc >> 1) ^ 0x82F6_3B78 : crc >> 1 }
        return crc
    }

    private var state: UInt32 = 0xFFFF_FFFF

    init() {}

    mutating func update(_ bytes: ArraySlice<UInt8>) {
        var crc = state
        Self.table.withUnsafeBufferPointer { table in
            bytes.withUnsafeBufferPointer { buffer in
                for byte in buffer {
                    crc = table[Int((crc ^ UInt32(byte)) & 0xFF)] ^ (crc >> 8)
                }
            }
        }
        state = crc
    }

    mutating func update(_ bytes: [UInt8]) { update(bytes[...]) }

    var value: UInt32 { state ^ 0xFFFF_FFFF }

    static func checksum(_ bytes: [UInt8]) -> UInt32 {
        var crc = CRC32C()
        crc.update(bytes)
        return crc.value
    }
}
