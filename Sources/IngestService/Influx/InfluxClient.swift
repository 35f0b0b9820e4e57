import IngestCore
import Foundation
import Logging

/// Writes batches of line protocol to InfluxDB over libcurl.
///
/// `configuration.concurrency` worker threads (`INFLUX_MAX_CONCURRENCY`: the most writes the
/// writer's adaptive limit can have in flight) each own one
/// ``CurlHTTPConnection`` (one keep-alive connection) and take jobs from a shared queue. The
/// blocking `curl_easy_perform`, and gzip compression, run only on those threads; `write` suspends
/// its caller with a continuation, so Swift's cooperative pool never blocks.
///
/// Outcomes are classified as described on ``InfluxWriteResult``. InfluxDB 1.x only: an answer
/// `404 database not found` makes the client create the database (`CREATE DATABASE`, once per write)
/// and send the batch again immediately, when `createDatabase` is on.
public final class InfluxClient: InfluxWriting {
    public let configuration: InfluxClientConfiguration
    private let queue = BlockingQueue<Job>()
    private let logger: Logger

    struct Job: Sendable {
        let database: String
        let body: [UInt8]
        let lineCount: Int
        let continuation: CheckedContinuation<InfluxWriteResult, Never>
    }

    public init(configuration: InfluxClientConfiguration, logger: Logger) {
        self.configuration = configuration
        self.logger = logger
        let worker = Worker(configuration: configuration, logger: logger)
        for index in 0..<max(1, configuration.concurrency) {
            // The threads capture the queue and an immutable worker description, never `self`,
            // so dropping the client (deinit → shutdown) lets them finish and exit.
            let queue = self.queue
            let thread = Thread {
                worker.run(queue: queue)
            }
            thread.name = "influx-writer-\(index)"
            thread.start()
        }
    }

    deinit { queue.close() }

    public func write(database: String, body: [UInt8], lineCount: Int) async -> InfluxWriteResult {
        await withCheckedContinuation { continuation in
            let job = Job(database: database, body: body, lineCount: lineCount, continuation: continuation)
            if let refused = queue.push(job) {
                refused.continuation.resume(returning: .retryable(.transport(curlCode: -1, message: "influx client is shut down")))
            }
        }
    }

    /// Stops taking writes. Queued writes are still sent; the threads exit after them. Later
    /// `write` calls answer `.retryable(.transport(curlCode: -1, …))` at once.
    public func shutdown() { queue.close() }

    /// What one worker thread does. Immutable and Sendable; the connection is created on the
    /// thread itself and never leaves it.
    private struct Worker: Sendable {
        let configuration: InfluxClientConfiguration
        let builder: InfluxRequestBuilder
        let logger: Logger

        init(configuration: InfluxClientConfiguration, logger: Logger) {
            self.configuration = configuration
            self.builder = InfluxRequestBuilder(configuration: configuration)
            self.logger = logger
        }

        func run(queue: BlockingQueue<Job>) {
            var connection: CurlHTTPConnection? = nil
            while let job = queue.pop() {
                if connection == nil {
                    connection = CurlHTTPConnection(
                        timeoutMilliseconds: configuration.timeoutMilliseconds,
                        caFile: configuration.caFile,
                        insecureSkipVerify: configuration.insecureSkipVerify
                    )
                }
                let result: InfluxWriteResult
                if let connection {
                    result = perform(job, on: connection)
                } else {
                    result = .retryable(.transport(curlCode: 2, message: "libcurl could not be initialised"))
                }
                job.continuation.resume(returning: result)
            }
        }

        private func perform(_ job: Job, on connection: CurlHTTPConnection) -> InfluxWriteResult {
            var request = builder.writeRequest(database: job.database)
            var body = job.body
            if configuration.gzip {
                do {
                    body = try Gzip.compress(job.body)
                } catch {
                    // Cannot really happen (only on allocation failure); send it uncompressed.
                    logger.warning("gzip failed, sending uncompressed", metadata: ["error": "\(error.code)"])
                    request.headers.removeAll { $0.name == "Content-Encoding" }
                }
            }
            guard configuration.writeEnabled else { return .written }

            var createdDatabase = false
            while true {
                let response: HTTPResponse
                switch connection.perform(request, body: body) {
                case .failure(let failure): return .retryable(failure)
                case .success(let answer): response = answer
                }
                if configuration.api == .v1, configuration.createDatabase, !createdDatabase,
                   response.status == 404, response.bodyText.contains("database not found") {
                    createdDatabase = true
                    if let failure = createDatabase(job.database, on: connection) {
                        return .retryable(failure)
                    }
                    continue
                }
                return InfluxWriteResult.classify(
                    status: response.status, body: response.bodyText, retryAfterSeconds: response.retryAfterSeconds())
            }
        }

        /// v1: `CREATE DATABASE "name"` (idempotent in InfluxDB 1.x). Returns nil on success.
        private func createDatabase(_ database: String, on connection: CurlHTTPConnection) -> InfluxWriteFailure? {
            let request = builder.createDatabaseRequest()
            switch connection.perform(request, body: builder.createDatabaseBody(database: database)) {
            case .failure(let failure):
                logger.warning("could not create database", metadata: ["database": "\(database)", "error": "\(failure)"])
                return failure
            case .success(let response) where (200..<300).contains(response.status):
                // InfluxDB 1.x answers 200 even for some errors, with {"results":[{"error":…}]}.
                if response.bodyText.contains("\"error\"") {
                    let failure = InfluxWriteFailure.status(code: response.status, body: response.bodyText, retryAfterSeconds: nil)
                    logger.warning("could not create database", metadata: ["database": "\(database)", "error": "\(failure)"])
                    return failure
                }
                logger.notice("created database", metadata: ["database": "\(database)"])
                return nil
            case .success(let response):
                let failure = InfluxWriteFailure.status(
                    code: response.status, body: response.bodyText, retryAfterSeconds: response.retryAfterSeconds())
                logger.warning("could not create database", metadata: ["database": "\(database)", "status": "\(response.status)", "error": "\(failure)"])
                return failure
            }
        }
    }
}
