/// Which InfluxDB write API the client speaks (`INFLUXDB_API`).
public enum InfluxAPIVersion: String, Sendable, CaseIterable {
    /// InfluxDB 1.x: `POST /write?db=…&precision=n`.
    case v1
    /// InfluxDB 2.x (and v2-compatible servers): `POST /api/v2/write?org=…&bucket=…&precision=ns`.
    case v2
    /// InfluxDB 3: `POST /api/v3/write_lp?db=…&precision=nanosecond`.
    case v3
}
