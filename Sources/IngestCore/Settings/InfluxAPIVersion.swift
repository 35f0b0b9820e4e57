/// Which InfluxDB write API ingestd speaks (INFLUXDB_API).
public enum InfluxAPIVersion: String, CaseIterable, Sendable {
    case v1
    case v2
    case v3
}
