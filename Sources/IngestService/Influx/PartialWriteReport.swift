import Foundation

/// InfluxDB 3's answer to a write whose lines were partly refused (400, or 422 for a catalog limit):
/// `{"error":"partial write of line protocol occurred","data":[{"original_line":"…","line_number":2,
/// "error_message":"…"}]}`. InfluxDB 3 has stored every other line, so exactly the listed ones are
/// set aside and nothing is sent again.
struct PartialWriteReport: Sendable, Equatable {
    struct RefusedLine: Sendable, Equatable {
        /// 1-based, as InfluxDB counts.
        let lineNumber: Int
        let message: String
    }

    let error: String
    let refused: [RefusedLine]

    /// Nil when the body is not such a report (InfluxDB 1.x and 2.x answer differently).
    init?(body: String) {
        guard let object = try? JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any],
              let data = object["data"] as? [[String: Any]], !data.isEmpty
        else { return nil }
        var refused: [RefusedLine] = []
        for entry in data {
            guard let number = (entry["line_number"] as? NSNumber)?.intValue, number >= 1 else { return nil }
            refused.append(RefusedLine(lineNumber: number, message: entry["error_message"] as? String ?? ""))
        }
        self.error = object["error"] as? String ?? "partial write"
        self.refused = refused
    }
}
