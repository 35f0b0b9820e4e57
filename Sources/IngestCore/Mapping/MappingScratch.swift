/// Buffers one mapping call works in, owned by its caller (the pipeline keeps one for its whole
/// run) and reused from message to message, so mapping allocates nothing once they have grown.
public struct MappingScratch: Sendable {
    var captures: [Range<Int>] = []
    var slots: [SlotValue] = []
    var strings: [UInt8] = []
    var fields: [UInt8] = []
    var series: [UInt8] = []
    var path: [UInt8] = []
    var name: [UInt8] = []
    /// The database of the last message and the bytes it was named from, so a run of messages for
    /// one database names it once.
    var lastDatabaseKey: [UInt8] = []
    var lastDatabase: String?
    var lastDatabaseRule = -1
    /// The last receipt time a point was given: points without a time of their own get strictly
    /// increasing ones, so messages that arrived in one read never overwrite each other in InfluxDB.
    var lastReceiptNanos: Int64 = 0
    /// The lines of the last mapped message.
    public internal(set) var output: [UInt8] = []

    public init() {
        captures.reserveCapacity(8)
        strings.reserveCapacity(1024)
        fields.reserveCapacity(1024)
        series.reserveCapacity(256)
        output.reserveCapacity(4096)
    }

    /// The receipt time for one more point: `receivedAtNanos`, or one nanosecond after the last one given.
    mutating func receiptTime(_ receivedAtNanos: Int64) -> Int64 {
        let time = max(receivedAtNanos, lastReceiptNanos &+ 1)
        lastReceiptNanos = time
        return time
    }

    mutating func resetSlots(count: Int) {
        slots.removeAll(keepingCapacity: true)
        slots.append(contentsOf: repeatElement(.absent, count: count))
    }
}
