import IngestCore

/// Makes concurrent cache misses for the same device share one registry query: when 50 messages of
/// a new device arrive together, the registry is asked once.
actor RegistryLookupCoalescer {
    /// The answer of one coalesced lookup. `provisioned` is true when AUTO_PROVISION inserted the device.
    struct Outcome: Sendable {
        var record: DeviceRecord?
        var provisioned: Bool
    }

    private let registry: any DeviceRegistry
    private var inFlight: [DeviceKey: Task<Result<Outcome, RegistryError>, Never>] = [:]
    private(set) var queries = 0

    init(registry: any DeviceRegistry) {
        self.registry = registry
    }

    /// `provisionSite` non-nil: when the device is unknown, provision it at that site (AUTO_PROVISION).
    func lookup(_ key: DeviceKey, provisionSite: String? = nil) async -> Result<Outcome, RegistryError> {
        if let running = inFlight[key] {
            return await running.value
        }
        queries += 1
        let registry = self.registry
        let task = Task<Result<Outcome, RegistryError>, Never> {
            do throws(RegistryError) {
                let record = try await registry.lookup(key)
                if record == nil, let provisionSite {
                    let inserted = try await registry.provisionIfUnknown(key, siteID: provisionSite)
                    return .success(Outcome(record: nil, provisioned: inserted))
                }
                return .success(Outcome(record: record, provisioned: false))
            } catch {
                return .failure(error)
            }
        }
        inFlight[key] = task
        let result = await task.value
        inFlight[key] = nil
        return result
    }
}
