import Foundation
import IngestCore
import Synchronization

/// Device records from a JSON file: an array of
/// `{"tenant_id","device_id","site_id","status","provision_token_hash"}` objects.
///
/// The whole file is held in memory (a fleet of 100,000 devices is a few MB) and replaced as a whole on
/// reload, so a lookup never sees half of an edit. A file that fails to parse on reload leaves the
/// previous records in place: a typo in the registry must not lock the whole fleet out.
public final class FileDeviceRegistry: DeviceRegistry {
    public let kind = "file"
    public let path: String
    private let state: Mutex<State>

    private struct State {
        var records: [DeviceKey: DeviceRecord] = [:]
        /// The modification time last looked at, loaded or not: a broken file is reported once, not
        /// on every poll.
        var seenModificationDate: Date?
    }

    /// Loads the file once; throws when it cannot be read or parsed, which stops start-up.
    public init(path: String) throws(RegistryError) {
        self.path = path
        let (records, date) = try Self.read(path)
        state = Mutex(State(records: records, seenModificationDate: date))
    }

    public var count: Int { state.withLock { $0.records.count } }

    /// A lookup answers from memory at once: one task runs a batch's lookups in turn.
    public var maxConcurrentLookups: Int? { 1 }

    public func lookup(_ key: DeviceKey) async throws(RegistryError) -> DeviceRecord? {
        state.withLock { $0.records[key] }
    }

    /// Re-reads the file. Returns the new record count, or throws and keeps the old records.
    @discardableResult
    public func reload() throws(RegistryError) -> Int {
        let seen = Self.modificationDate(path)
        state.withLock { $0.seenModificationDate = seen }
        let (records, _) = try Self.read(path)
        state.withLock { $0.records = records }
        return records.count
    }

    /// True when the file's modification time differs from the one last loaded.
    public func hasChangedOnDisk() -> Bool {
        let current = Self.modificationDate(path)
        return state.withLock { $0.seenModificationDate != current }
    }

    private static func modificationDate(_ path: String) -> Date? {
        (try? FileManager.default.attributesOfItem(atPath: path))?[.modificationDate] as? Date
    }

    private static func read(_ path: String) throws(RegistryError) -> ([DeviceKey: DeviceRecord], Date?) {
        let date = modificationDate(path)
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw .unavailable(reason: "cannot read \(path): \(error.localizedDescription)")
        }
        let list: [DeviceRecord]
        do {
            list = try JSONDecoder().decode([DeviceRecord].self, from: data)
        } catch let DecodingError.keyNotFound(key, context) {
            throw .malformedFile(path: path, reason: "record \(context.codingPath.first?.intValue.map { "#\($0 + 1)" } ?? "?") has no \(key.stringValue)")
        } catch let DecodingError.typeMismatch(_, context), let DecodingError.valueNotFound(_, context) {
            throw .malformedFile(path: path, reason: "wrong type at \(context.codingPath.map(\.stringValue).joined(separator: "."))")
        } catch {
            throw .malformedFile(path: path, reason: "expected a JSON array of device records")
        }
        var records: [DeviceKey: DeviceRecord] = [:]
        records.reserveCapacity(list.count)
        for record in list {
            records[DeviceKey(tenantID: record.tenantID, deviceID: record.deviceID)] = record
        }
        return (records, date)
    }
}
