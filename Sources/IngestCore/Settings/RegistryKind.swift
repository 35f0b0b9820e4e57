/// Where device records come from (REGISTRY).
public enum RegistryKind: String, CaseIterable, Sendable {
    case file
    case none
}
