/// A message that passed stage 1 (`MessageValidator`): ready for the registry check and for
/// line protocol. `siteID` is the payload's site id, non-empty and representable as a tag value.
public struct ValidatedMessage: Sendable {
    public var address: TopicAddress
    public var envelope: Envelope
    public var siteID: String

    public init(address: TopicAddress, envelope: Envelope, siteID: String) {
        self.address = address
        self.envelope = envelope
        self.siteID = siteID
    }
}
