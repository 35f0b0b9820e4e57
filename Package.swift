// swift-tools-version:6.2
import PackageDescription

let package = Package(
    name: "ingestd",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "ingestd", targets: ["ingestd"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-crypto.git", "3.12.3"..<"5.0.0"),
        .package(url: "https://github.com/apple/swift-async-algorithms.git", from: "1.1.4"),
        // Health and metrics endpoints (HEALTH_LISTEN): NIOHTTP1 for three GET routes, swift-prometheus
        // for the text format and histograms.
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.3"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/vapor/postgres-nio.git", from: "1.33.2"),
        // MAPPING_FILE is YAML; the compiled rules live in IngestCore, only the file's parsing here.
        .package(url: "https://github.com/jpsim/Yams.git", from: "6.2.2"),
    ],
    targets: [
        .systemLibrary(
            name: "CMosquitto",
            pkgConfig: "libmosquitto",
            providers: [.apt(["libmosquitto-dev"])]
        ),
        .systemLibrary(
            name: "CCurl",
            pkgConfig: "libcurl",
            providers: [.apt(["libcurl4-openssl-dev"])]
        ),
        // TLS for the native MQTT client: the system OpenSSL that libmosquitto and libcurl use too.
        .systemLibrary(
            name: "COpenSSL",
            pkgConfig: "openssl",
            providers: [.apt(["libssl-dev"])]
        ),
        .target(
            name: "IngestCore",
            dependencies: [
                .product(name: "Crypto", package: "swift-crypto"),
            ]
        ),
        .target(
            name: "IngestService",
            dependencies: [
                "IngestCore",
                "CMosquitto",
                "CCurl",
                "COpenSSL",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "AsyncAlgorithms", package: "swift-async-algorithms"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Yams", package: "Yams"),
            ]
        ),
        .executableTarget(
            name: "ingestd",
            dependencies: [
                "IngestCore",
                "IngestService",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        // Load tools of bench/run.sh (publisher, fake InfluxDB sink); not shipped, not part of the tests.
        .executableTarget(name: "ingestd-bench", dependencies: ["CMosquitto", "IngestCore"]),
        // Helpers the tests share: free ports, child processes, waiting for conditions, test servers.
        .target(name: "TestSupport", path: "Tests/TestSupport"),
        .testTarget(name: "IngestCoreTests", dependencies: ["IngestCore"]),
        // The write ledger under seeded fault schedules (README, "How the write path works").
        .testTarget(name: "WriteLedgerSimulationTests", dependencies: ["IngestCore"]),
        .testTarget(name: "IngestServiceTests", dependencies: ["IngestService", "IngestCore", "TestSupport"]),
        .testTarget(name: "IntegrationTests", dependencies: ["IngestCore", "TestSupport"]),
    ],
    swiftLanguageModes: [.v6]
)
