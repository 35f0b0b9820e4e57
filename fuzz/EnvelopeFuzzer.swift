/// libFuzzer target: the JSON envelope decoder (`EnvelopeDecoder`, with `JSONReader`,
/// `TimestampParser` and `MetricName`) on any payload a device could publish. Built by
/// `scripts/fuzz.sh` together with the IngestCore sources.
///
/// The first input byte picks the limits (small ones reach the limit checks with short inputs); the
/// rest is the payload, in an allocation of exactly its size so AddressSanitizer catches a read past it.
@_cdecl("LLVMFuzzerTestOneInput")
public func envelopeFuzzerTestOneInput(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard size >= 1 else { return 0 }
    let small = data[0] & 1 == 1
    let limits = EnvelopeLimits(maxMetricKeys: small ? 3 : 50, maxMetricKeyBytes: small ? 4 : 128,
                                integersAsIntegers: data[0] & 2 == 2)
    let decoder = EnvelopeDecoder(limits: limits)
    let payload = UnsafeRawBufferPointer(start: data + 1, count: size - 1)
    let first = Result { () throws(RejectReason) -> Envelope in try decoder.decode(payload) }
    // The array entry point must agree with the pointer one.
    let second = Result { () throws(RejectReason) -> Envelope in try decoder.decode(Array(payload)) }
    switch (first, second) {
    case (.success(let envelope), .success(let again)):
        precondition(envelope.metrics.count <= limits.maxMetricKeys, "\(envelope.metrics.count) metrics over the limit")
        precondition(envelope.metrics.count == again.metrics.count && envelope.seq == again.seq, "two decodes differ")
    case (.failure(let reason), .failure(let again)):
        precondition(reason == again, "two decodes differ: \(reason) and \(again)")
    default:
        preconditionFailure("one decode failed, the other did not")
    }
    return 0
}
