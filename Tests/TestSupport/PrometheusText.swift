import Foundation

/// Parses Prometheus text exposition with an independent parser: `prometheus_client`'s
/// (`scripts/install-deps.sh` installs it from PyPI), run through `python3`.
public enum PrometheusText {
    public struct Parsed: Sendable {
        /// Family name (without `_total` for counters, as the parser reports it) → type.
        public var families: [String: String]
        /// `name` or `name{k="v",…}` (labels sorted) → value.
        public var samples: [String: Double]
    }

    private static let script = #"""
    import json, sys
    try:
        from prometheus_client.parser import text_string_to_metric_families
    except ImportError:
        sys.stderr.write("python3 module prometheus_client is missing: run scripts/install-deps.sh (pip install prometheus_client)\n")
        sys.exit(3)
    out = {"families": {}, "samples": {}}
    for family in text_string_to_metric_families(sys.stdin.read()):
        out["families"][family.name] = family.type
        for s in family.samples:
            labels = ",".join('%s="%s"' % (k, v) for k, v in sorted(s.labels.items()))
            out["samples"][s.name + ("{" + labels + "}" if labels else "")] = s.value
    print(json.dumps(out))
    """#

    public static func parse(_ text: String) async throws -> Parsed {
        let directory = try TemporaryDirectory(prefix: "prom")
        defer { directory.remove() }
        try text.write(toFile: directory.file("metrics.txt"), atomically: true, encoding: .utf8)
        try script.write(toFile: directory.file("parse.py"), atomically: true, encoding: .utf8)
        guard let python = ExecutableLocator.find("python3") else { throw MosquittoServerError("python3 not found") }
        let child = try ChildProcess(name: "python3", executable: "/bin/sh",
                                     arguments: ["-c", "\"$0\" \"$1\" < \"$2\" 2>\"$3\"", python, directory.file("parse.py"),
                                                 directory.file("metrics.txt"), directory.file("stderr.txt")],
                                     logPath: directory.file("stdout.txt"))
        let code = try await child.waitForExit(timeout: 60)
        let errors = (try? String(contentsOfFile: directory.file("stderr.txt"), encoding: .utf8)) ?? ""
        guard code == 0 else { throw MosquittoServerError("prometheus_client could not parse /metrics (exit \(code)): \(errors)") }
        let data = Data(child.log().utf8)
        guard let object = try JSONSerialization.jsonObject(with: data) as? [String: Any],
              let families = object["families"] as? [String: String],
              let samples = object["samples"] as? [String: Double] else {
            throw MosquittoServerError("unexpected parser output: \(child.log())")
        }
        return Parsed(families: families, samples: samples)
    }
}
