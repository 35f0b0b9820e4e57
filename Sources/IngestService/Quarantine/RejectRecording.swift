import IngestCore

/// The pipeline's hook for refused messages. Called only on the reject path, from the pipeline's task;
/// it must not block (implementations hand the event to a task of their own).
public protocol RejectRecording: Sendable {
    /// True when payloads are kept (MODE=DEV with STORE_REJECTS=1). When false the pipeline passes
    /// nil, so no payload is ever retained (MODE=PROD).
    var storesPayloads: Bool { get }
    func record(topic: String, payload: [UInt8]?, reason: RejectReason, receivedAtNanos: Int64)
}
