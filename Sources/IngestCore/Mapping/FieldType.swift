/// The type a mapping rule pins a field to. A value that cannot be converted is skipped and
/// counted, or rejects the message (`on_type_error`), so InfluxDB never sees a field change type.
///
/// Conversions (README, "Mapping other devices"):
/// - `float`: a JSON number, or a string holding one (`"21.5"`).
/// - `integer`: a JSON number or numeric string with an integral value in Int64 range (`42`, `"42"`, `42.0`).
/// - `boolean`: `true`/`false`; the strings `true`, `false`, `on`, `off`, `yes`, `no` in any case;
///   the numbers 1 and 0.
/// - `string`: a string (without line breaks), a number as written, a boolean as `true`/`false`.
public enum FieldType: String, Sendable, CaseIterable {
    case float, integer, boolean, string
}
