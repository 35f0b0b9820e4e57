import IngestCore
public enum IngestServiceModule {}
