/// What `MQTTSource` needs of an MQTT client: a blocking loop for a thread of its own that connects,
/// reconnects and puts every message into the intake, and a way to stop it. Two implementations:
/// `NativeMQTTSession` (default) and `MosquittoSession` (libmosquitto), chosen by `MQTT_CLIENT`.
protocol MQTTClientLoop: AnyObject, Sendable {
    /// Runs until `requestStop()`, then disconnects cleanly and returns.
    func runLoop()
    /// Asks the loop to return. Safe from any thread.
    func requestStop()
    /// Frees resources; only after `runLoop()` has returned (or if it never ran).
    func close()
}
