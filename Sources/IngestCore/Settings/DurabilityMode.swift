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
}
