public enum IngestCoreModule {}
