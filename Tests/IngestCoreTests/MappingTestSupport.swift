import Foundation
import IngestCore
import XCTest

/// Rules written as JSON (the same `MappingDefinition` the daemon reads from YAML) and one-message
/// mapping, for the mapping tests.
enum MappingFixture {
    static func rules(_ json: String, databaseTemplate: String = "telemetry_{tenant_id}",
                      limits: EnvelopeLimits = EnvelopeLimits()) throws -> MappingRuleSet {
        let definition = try JSONDecoder().decode(MappingDefinition.self, from: Data(json.utf8))
        return try MappingCompiler(databaseNamer: DatabaseNamer(template: databaseTemplate), limits: limits).compile(definition)
    }

    /// The compile error of a rule file.
    static func error(_ json: String) -> MappingError? {
        do {
            _ = try rules(json)
            return nil
        } catch let error as MappingError {
            return error
        } catch {
            XCTFail("not a MappingError: \(error)")
            return nil
        }
    }

    struct Mapped: Equatable {
        var rule: String
        var database: String
        var lines: [String]
        var skipped: Int
        /// The (tenant, device) a `registry: true` rule has the pipeline check.
        var registryDevice: DeviceKey? = nil
    }

    static func map(_ rules: MappingRuleSet, topic: String, payload: String, received: Int64 = 7)
        throws(RejectReason) -> Mapped? {
        var limiter = RateLimiter(ratePerSecond: 0, burst: 1, maxDevices: 1)
        var scratch = MappingScratch()
        switch try rules.map(topic: topic, payload: Array(payload.utf8), receivedAtNanos: received, rateLimiter: &limiter,
                             scratch: &scratch) {
        case .envelope:
            return nil
        case let .mapped(index, database, count, skipped, registryDevice):
            let lines = String(decoding: scratch.output, as: UTF8.self).split(separator: "\n").map(String.init)
            XCTAssertEqual(lines.count, count)
            XCTAssertEqual(scratch.output.last, UInt8(ascii: "\n"))
            return Mapped(rule: rules.rules[index].name, database: database, lines: lines, skipped: skipped,
                          registryDevice: registryDevice)
        }
    }
}
