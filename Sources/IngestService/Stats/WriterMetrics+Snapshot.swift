import Synchronization

extension WriterMetrics {
    /// Copies the writer's counters into a stats snapshot.
    func fill(_ snapshot: inout StatsSnapshot) {
        snapshot.influxBatchesOK = batchesOK.load(ordering: .relaxed)
        snapshot.influxBatchesFailed = batchesFailed.load(ordering: .relaxed)
        snapshot.influxFlushes = flushes.load(ordering: .relaxed)
        snapshot.influxBufferedLines = bufferedLines.load(ordering: .relaxed)
        snapshot.influxRetries = retries.load(ordering: .relaxed)
        snapshot.influxUp = influxUp.load(ordering: .relaxed) == 1
        snapshot.influxConcurrency = writeConcurrency.load(ordering: .relaxed)
        snapshot.influxLastBatchLines = lastBatchLines.load(ordering: .relaxed)
        snapshot.lastWriteError = lastWriteError
    }
}
