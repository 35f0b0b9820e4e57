#if canImport(Glibc)
import Glibc
#endif
import IngestCore
import Logging

/// Acknowledgements that wait until a message is safe (DURABILITY=journal or broker; README "Durability
/// modes"): see "Delivery" in `NativeMQTTSession`. Everything here runs on the MQTT thread.
extension NativeMQTTSession {
    /// A second stop signal: disconnect without waiting for the acknowledgements still due.
    func abandonAcknowledgementWait() { abandonFlag.store(true, ordering: .releasing) }

    /// DURABILITY=journal/broker: queues the acknowledgements of this connection's messages the relay
    /// released since the last call, in arrival order (and a protocol violation's DISCONNECT after
    /// them, as `messagesTaken` does).
    func sendReleasedAcknowledgements(_ connection: MQTTConnection) {
        guard let acknowledgements else { return }
        let count = cursor.take(released: acknowledgements.released)
        let now = monotonicNanos()
        connection.queue { protocolState.messagesTaken(count, now: now, into: &$0) }
        metrics.setUnacknowledged(cursor.outstanding)
    }

    /// A stop with DURABILITY=journal/broker: reads nothing more, closes the intake (so the pipeline
    /// drains it and the writer, already flushing at once, writes the rest), and sends the
    /// acknowledgements of what this connection handed on as the relay releases them, until all are
    /// sent, `acknowledgementWaitAtStop` passed, a second stop request came, or the connection failed.
    /// What is left unacknowledged the broker delivers again (README "Delivery guarantees").
    func awaitAcknowledgementsAtStop(_ connection: MQTTConnection) {
        guard let acknowledgements else { return }
        intake.close()
        let start = monotonicNanos()
        let deadline = start + UInt64(max(0, acknowledgementWaitAtStop / .milliseconds(1))) * 1_000_000
        let waiting = cursor.outstanding
        logger.info("mqtt stopping: acknowledging what is safe before disconnecting", metadata: [
            "messages": "\(waiting)", "timeout_ms": "\(acknowledgementWaitAtStop / .milliseconds(1))",
        ])
        do throws(MQTTTransportError) {
            while cursor.outstanding > 0 && monotonicNanos() < deadline && !abandonFlag.load(ordering: .acquiring) {
                var entry = pollfd(fd: acknowledgements.wakeDescriptor, events: Int16(POLLIN), revents: 0)
                _ = poll(&entry, 1, Self.pollMilliseconds)
                acknowledgements.drainWake()
                sendReleasedAcknowledgements(connection)
                keepAliveWhileBlocked(connection)
                if connection.hasPendingOutput { try connection.flush(now: monotonicNanos()) }
                if metrics.connected == 0 { break }
            }
        } catch {
            logger.warning("mqtt connection lost while acknowledging at stop", metadata: ["error": "\(error)"])
        }
        let left = cursor.outstanding
        let metadata: Logger.Metadata = [
            "acknowledged": "\(waiting - left)", "unacknowledged": "\(left)",
            "waited_ms": "\((monotonicNanos() - start) / 1_000_000)",
        ]
        if left == 0 {
            logger.info("mqtt stopping: every message handed on is acknowledged", metadata: metadata)
        } else {
            logger.warning("mqtt stopping: messages not yet safe stay unacknowledged; the broker delivers them again",
                           metadata: metadata)
        }
    }
}
