extension BatchWriter: LineSink {}
