import Logging

/// Retries with backoff: a batch waits out its delay and then goes first in the ready list.
extension BatchWriter {
    /// Warns on the first failure of a batch and then on attempts 2, 4, 8, …, so an outage does not
    /// flood the log; the other attempts log at debug. 401/403 are operator errors (credentials) and
    /// are logged as errors on every attempt.
    private func logRetry(_ batch: Batch, failure: InfluxWriteFailure, delayMilliseconds: Int) {
        let metadata: Logger.Metadata = [
            "database": "\(batch.database)", "lines": "\(batch.lineCount)",
            "status": "\(failure.statusCode.map(String.init) ?? "-")", "attempt": "\(batch.failedAttempts)",
            "delay_ms": "\(delayMilliseconds)", "error": "\(failure)",
        ]
        let attempt = batch.failedAttempts
        let prominent = attempt & (attempt - 1) == 0
        switch failure.statusCode {
        case 401, 403:
            // An operator's error: say so on every attempt, the data is kept until it is fixed.
            logger.error("InfluxDB refused the credentials; check INFLUXDB_TOKEN and permissions; will retry", metadata: metadata)
        default:
            logger.log(level: prominent ? .warning : .debug, "write failed; will retry", metadata: metadata)
        }
    }

    func scheduleRetry(_ batch: Batch, failure: InfluxWriteFailure) {
        var retry = batch
        retry.failedAttempts += 1
        let delay = backoff.delayMilliseconds(attempt: retry.failedAttempts, retryAfterSeconds: failure.retryAfterSeconds)
        metrics.retries.wrappingAdd(1, ordering: .relaxed)
        logRetry(retry, failure: failure, delayMilliseconds: delay)
        waitingRetry[retry.id] = retry
        let sleep = self.sleep
        Task {
            try? await sleep(.milliseconds(delay))
            self.retryDue(id: retry.id)
        }
    }

    private func retryDue(id: Int) {
        guard let batch = waitingRetry.removeValue(forKey: id) else { return }
        ready.insert(batch, at: 0)
        pump()
    }
}
