import IngestCore

/// Makes concurrent cache misses for the same device share one registry query: when 50 messages of
/// a new device arrive together, the registry is asked once.
actor RegistryLookupCoalescer {
    private let registry: any DeviceRegistry
    private var inFlight: [DeviceKey: Task<Result<DeviceRecord?, RegistryError>, Never>] = [:]
    private(set) var queries = 0

    init(registry: any DeviceRegistry) {
        self.registry = registry
    }

    func lookup(_ key: DeviceKey) async -> Result<DeviceRecord?, RegistryError> {
        if let running = inFlight[key] {
            return await running.value
        }
        queries += 1
        let registry = self.registry
        let task = Task<Result<DeviceRecord?, RegistryError>, Never> {
            do throws(RegistryError) {
                return .success(try await registry.lookup(key))
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
