import IngestCore

/// One connection's byte buffers: what was read from the broker and not yet framed, and what is
/// queued to go out. Confined to the MQTT loop thread.
///
/// The socket is read in chunks of up to `readChunk` bytes, so one system call brings every packet
/// already there (libmosquitto reads each packet's header bytes one call at a time); everything the
/// loop queues in a turn (a burst of PUBACKs) leaves in one write.
final class MQTTConnection {
    let transport: MQTTTransport
    private static let readChunk = 64 * 1024
    /// Below this much free room behind the data, make room before reading: a read into a sliver
    /// would bring a packet or two per system call.
    private static let minimumReadRoom = 4 * 1024

    private(set) var input: [UInt8]
    /// `input[inputStart..<inputEnd]` is read and not yet framed.
    private(set) var inputStart = 0
    private(set) var inputEnd = 0
    private var output: [UInt8] = []
    private var outputStart = 0
    private(set) var lastWriteNanos: UInt64
    /// Bytes of an oversized packet still to be read and thrown away (`skip(_:)`).
    private(set) var skipping = 0

    init(transport: MQTTTransport, now: UInt64) {
        self.transport = transport
        self.input = [UInt8](repeating: 0, count: Self.readChunk)
        self.lastWriteNanos = now
    }

    var hasPendingOutput: Bool { outputStart < output.count }

    /// Reads what the socket holds now (up to the free room, growing the buffer when a packet is larger
    /// than it). Returns the number of bytes read, 0 when there was nothing.
    func readAvailable() throws(MQTTTransportError) -> Int {
        if inputStart == inputEnd {
            inputStart = 0
            inputEnd = 0
        } else if input.count - inputEnd < Self.minimumReadRoom {
            if inputStart > 0 {
                // Move the partial packet to the front to make room behind it.
                input.withUnsafeMutableBytes { raw in
                    let base = raw.baseAddress!
                    base.copyMemory(from: base + inputStart, byteCount: inputEnd - inputStart)
                }
                inputEnd -= inputStart
                inputStart = 0
            }
            if input.count - inputEnd < Self.minimumReadRoom {
                // One packet (nearly) fills the whole buffer: make it larger (`MQTTFrame.next` bounds it).
                input += [UInt8](repeating: 0, count: input.count)
            }
        }
        let end = inputEnd
        // `withUnsafeMutableBytes` rethrows untyped errors: carry the typed one out in a Result.
        let count = try input.withUnsafeMutableBytes { raw in
            Result { () throws(MQTTTransportError) -> Int in
                try transport.read(into: UnsafeMutableRawBufferPointer(rebasing: raw[end...]))
            }
        }.get()
        inputEnd += count
        dropSkipped()
        return count
    }

    /// Throws away the next `count` bytes of the stream, those already read and those still to come:
    /// the body of a packet too large to keep. Memory stays at one read chunk, whatever the size.
    func skip(_ count: Int) {
        skipping += count
        dropSkipped()
    }

    private func dropSkipped() {
        let dropped = min(skipping, inputEnd - inputStart)
        skipping -= dropped
        consumeInput(upTo: inputStart + dropped)
    }

    /// Marks the input up to `offset` as framed and handled.
    func consumeInput(upTo offset: Int) {
        inputStart = offset
        if inputStart == inputEnd, input.count > Self.readChunk {
            // A large packet is gone: give its memory back.
            input = [UInt8](repeating: 0, count: Self.readChunk)
            inputStart = 0
            inputEnd = 0
        }
    }

    /// Runs `encode` on the output buffer (what it appends leaves with the next `flush`).
    func queue<Value>(_ encode: (inout [UInt8]) throws -> Value) rethrows -> Value {
        try encode(&output)
    }

    /// Writes what the socket takes now; the rest waits for POLLOUT.
    func flush(now: UInt64) throws(MQTTTransportError) {
        while outputStart < output.count {
            let start = outputStart
            let written = try output.withUnsafeBytes { raw in
                Result { () throws(MQTTTransportError) -> Int in
                    try transport.write(UnsafeRawBufferPointer(rebasing: raw[start...]))
                }
            }.get()
            if written == 0 { break }
            outputStart += written
            lastWriteNanos = now
        }
        if outputStart == output.count {
            output.removeAll(keepingCapacity: output.capacity <= 64 * 1024)
            outputStart = 0
        }
    }
}
