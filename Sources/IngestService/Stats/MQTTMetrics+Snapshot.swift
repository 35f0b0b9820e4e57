extension MQTTMetrics {
    /// Copies the MQTT source's counters into a stats snapshot.
    func fill(_ snapshot: inout StatsSnapshot) {
        snapshot.mqttConnected = connected == 1
        snapshot.mqttReconnects = reconnects
        snapshot.mqttOversized = oversized
        snapshot.mqttUnacknowledged = unacknowledged
    }
}
