/// When an accepted message is safe, and so when the native MQTT client acknowledges it to the broker
/// (DURABILITY; README "Delivery guarantees").
public enum DurabilityMode: String, CaseIterable, Sendable {
    /// Acknowledged once the intake took it; lines wait in memory, so a crash (not a stop) loses what
    /// was not yet written or spooled.
    case memory
    /// Every accepted line is also appended to a crash journal, fsynced every JOURNAL_SYNC_MS; a
    /// message is acknowledged once the sync covering its lines is done. A crash loses nothing.
    case journal
    /// Nothing is written locally on the happy path: a message is acknowledged once InfluxDB took its
    /// lines or the spool fsynced them, and the broker keeps it until then. A crash loses nothing.
    case broker

    /// Whether the MQTT acknowledgement waits until the message is safe (needs the native client).
    public var acknowledgesWhenSafe: Bool { self != .memory }

    /// The default (README "Durability modes"): `broker`, which loses nothing to a crash and drained as
    /// fast as `memory` in the benchmark, wherever it can keep its promise at speed: the native client
    /// (libmosquitto acknowledges before ingestd sees a message) on MQTT 5 (whose Receive Maximum
    /// ingestd sets; MQTT 3.1.1 leaves the window to the broker, 20 messages with mosquitto's default).
    public static func defaultMode(client: MQTTClientKind, protocol: MQTTProtocolVersion) -> DurabilityMode {
        client == .native && `protocol` == .v5 ? .broker : .memory
    }
}
