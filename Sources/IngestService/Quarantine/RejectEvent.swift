import IngestCore

/// One refused message on its way from the pipeline to the quarantine task.
struct RejectEvent: Sendable {
    var topic: String
    /// nil unless payloads are stored (MODE=DEV, STORE_REJECTS=1).
    var payload: [UInt8]?
    var reason: RejectReason
    var receivedAtNanos: Int64

    /// The tenant and device named by the topic, when the topic has them (`tenant/{t}/device/{d}/…`),
    /// even if it was refused for its format.
    var topicIDs: (tenant: String?, device: String?) {
        let levels = topic.split(separator: "/", omittingEmptySubsequences: false)
        let tenant = levels.count >= 2 && levels[0] == "tenant" && !levels[1].isEmpty ? String(levels[1]) : nil
        let device = levels.count >= 4 && levels[2] == "device" && !levels[3].isEmpty ? String(levels[3]) : nil
        return (tenant, device)
    }
}
