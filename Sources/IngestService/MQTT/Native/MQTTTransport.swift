/// A connected, non-blocking byte stream to the broker: plain TCP or TLS. Used only by the MQTT loop
/// thread.
protocol MQTTTransport: AnyObject {
    /// The socket, for `poll`.
    var descriptor: Int32 { get }
    /// True when bytes are already decrypted and waiting: `poll` on the socket would not report them.
    var hasBufferedInput: Bool { get }
    /// Reads what is there into `buffer`: the count, 0 when nothing is available now. Throws
    /// `.closedByBroker` at end of stream.
    func read(into buffer: UnsafeMutableRawBufferPointer) throws(MQTTTransportError) -> Int
    /// Writes what the socket takes now: the count, 0 when it would block.
    func write(_ bytes: UnsafeRawBufferPointer) throws(MQTTTransportError) -> Int
    func close()
}
