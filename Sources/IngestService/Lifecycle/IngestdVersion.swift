public enum IngestdVersion {
    public static let current = "0.1.0"
}
