/// Float field values as text: byte for byte `Double.description` (the shortest digits that read
/// back to the same Double), which the InfluxDB parsers round-trip and the tests pin down.
///
/// `description` costs several hundred instructions per value and a String. Telemetry values are
/// mostly short decimals (`21.5`, `3.127`), so those are written directly when that is provably the
/// same text; everything else still goes through `description`.
enum FloatText {
    static func append(_ value: Double, to buffer: inout [UInt8]) {
        if !appendShortDecimal(value, to: &buffer) {
            buffer.append(contentsOf: value.description.utf8)
        }
    }

    /// The fast path: `±m / 10^k` with `m < 10^15`, for magnitudes in `[0.001, 10^15)`, where
    /// `description` uses plain decimal notation (it switches to exponents below 10^-4 and above
    /// 2^53). Returns false, having written nothing, for any other value.
    ///
    /// Why the text is the same as `description`'s, for the smallest `k` whose `m` reads back:
    /// - It reads back: `m` and `10^k` (k ≤ 18) are exact Doubles, so `m / 10^k` is the correctly
    ///   rounded value of the decimal `m·10^-k`, i.e. what parsing its text yields.
    /// - It is the shortest: a text with fewer decimals that reads back would be found at its own
    ///   `k`: it lies within half an ulp of `value`, which for `m < 10^15` is < 0.12 in units of
    ///   `10^-k`, as is the rounding error of `value * 10^k`, so `rounded()` finds it.
    /// - It is the one `description` picks among equally short ones: at that `k` there is only
    ///   one (steps of `10^-k` are more than 4 ulps wide for `m < 10^15`), and `m / 10^k` is never
    ///   a tie between two Doubles (a tie needs 54 significant bits, `m` has at most 50).
    static func appendShortDecimal(_ value: Double, to buffer: inout [UInt8]) -> Bool {
        let magnitude = value.magnitude
        guard magnitude >= 0.001, magnitude < 1e15 else { return false }
        var scale = 1.0
        var decimals = 0
        while true {
            let scaled = magnitude * scale
            guard scaled < 1e15 else { return false }
            // Nearest integer without `rounded()`, a libm call on baseline x86-64: `scaled + 0.5` is
            // exact below 2^52, and ties cannot matter (a candidate is within 0.25 of `scaled`).
            let digits = UInt64(scaled + 0.5)
            if Double(digits) / scale == magnitude {
                appendDigits(digits, decimals: decimals, negative: value < 0, to: &buffer)
                return true
            }
            scale *= 10
            decimals += 1
        }
    }

    /// `[-]<integer part>.<decimals digits>` of `digits / 10^decimals`; `.0` when there are none.
    private static func appendDigits(_ digits: UInt64, decimals: Int, negative: Bool, to buffer: inout [UInt8]) {
        // At most 15 digits, a leading "0.", the 3 zeros after the point of 0.001 and a sign: 24 bytes.
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 24) { scratch in
            var start = 24
            var remaining = digits
            func put(_ byte: UInt8) {
                start -= 1
                scratch[start] = byte
            }
            if decimals == 0 {
                put(UInt8(ascii: "0"))
            } else {
                for _ in 0..<decimals {
                    put(UInt8(ascii: "0") &+ UInt8(truncatingIfNeeded: remaining % 10))
                    remaining /= 10
                }
            }
            put(UInt8(ascii: "."))
            repeat {
                put(UInt8(ascii: "0") &+ UInt8(truncatingIfNeeded: remaining % 10))
                remaining /= 10
            } while remaining > 0
            if negative { put(UInt8(ascii: "-")) }
            buffer.append(contentsOf: UnsafeBufferPointer(rebasing: scratch[start..<24]))
        }
    }
}
