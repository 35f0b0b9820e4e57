/// What kind of installation this is (MODE). `DEV` may keep refused messages, payload included, in the
/// quarantine file; `PROD` never stores a payload anywhere, only counts.
public enum RunMode: String, CaseIterable, Sendable {
    case dev = "DEV"
    case prod = "PROD"
}
