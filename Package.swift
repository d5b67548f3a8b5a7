// swift-tools-version:6.1
import PackageDescription

let strictSwift: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("InternalImportsByDefault"),
]

let package = Package(
    name: "qualityrate",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "qualityrate", targets: ["qualityrate"]),
    ],
    dependencies: [
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1", traits: ["FullFoundation"]),
        .package(url: "https://github.com/groue/GRDB.swift.git", from: "7.10.0"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-extras.git", from: "1.35.2"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-crypto.git", from: "3.12.3"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/vapor/postgres-nio.git", from: "1.33.2"),
    ],
    targets: [
        // Who is let in: bans after failed authentications, limits on calls and connections — plain
        // values, and the locked, counted shells the SIP and HTTP edges share them through.
        .target(
            name: "Admission",
            dependencies: [
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
            ],
            swiftSettings: strictSwift
        ),
        // The vocabulary of SPEC §1, §3 and §4.3, and the client-time-zone arithmetic they need.
        .target(name: "Domain", swiftSettings: strictSwift),
        // The call-flow engine: per-call state machines that take events and return actions.
        // No sockets, no clock, no storage: time and the outcome of every action come in as events.
        .target(name: "CallFlow", dependencies: ["Domain"], swiftSettings: strictSwift),
        // SIP messages (RFC 3261): parsing any bytes safely, serialising, header values.
        .target(
            name: "SIP",
            dependencies: [.product(name: "Crypto", package: "swift-crypto")],
            swiftSettings: strictSwift
        ),
        // The SIP transport and transaction layer (RFC 3261 §17, §18) on SwiftNIO, UDP and TCP.
        .target(
            name: "SIPTransport",
            dependencies: [
                "Admission",
                "SIP",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
            ],
            swiftSettings: strictSwift
        ),
        // RTP (RFC 3550) packets, paced prompt streams, RFC 4733 key presses read and sent, SRTP (RFC 3711).
        .target(
            name: "RTP",
            dependencies: [
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "_CryptoExtras", package: "swift-crypto"),
            ],
            swiftSettings: strictSwift
        ),
        // Sound files: WAV parsing, G.711 µ-law/A-law, 16 → 8 kHz resampling, the built-in prompts.
        // Pure Swift; the prompts' WAV files are SwiftPM resources embedded in the code.
        .target(
            name: "Audio",
            // The built-in prompts' WAV files, embedded in the binary (tools/make_prompts.sh makes them).
            resources: [
                .embedInCode("Prompts/ratingPrompt.wav"), .embedInCode("Prompts/ratingFinish.wav"), .embedInCode("Prompts/invalidKey.wav"),
            ],
            swiftSettings: strictSwift
        ),
        // RTP on SwiftNIO UDP: one socket per call leg from a port range, prompts paced at 20 ms,
        // RFC 4733 keys, and the relay between two bridged legs. Knows nothing of SIP.
        .target(
            name: "Media",
            dependencies: [
                "RTP",
                "Audio",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
            ],
            swiftSettings: strictSwift
        ),
        // Runs calls: performs the engine's actions with storage, timers, HTTP and a telephony port
        // (SIP, or the simulated one of `qualityrate simulate`), and feeds their outcomes back.
        .target(
            name: "CallRunner",
            dependencies: [
                "CallFlow",
                "Domain",
                "Storage",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            swiftSettings: strictSwift
        ),
        // The server's SIP user agent: registrar, routing of INVITEs from trunks and phones, and
        // each call's SIP and RTP legs doing what its CallRunner asks.
        .target(
            name: "Telephony",
            dependencies: [
                "Admission", "Audio", "CallFlow", "CallRunner", "Domain", "Media", "RTP", "SIP", "SIPTransport", "Storage",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            swiftSettings: strictSwift
        ),
        // Persistence behind the `Store` protocol; the SQLite implementation uses GRDB.
        .target(
            name: "Storage",
            dependencies: [
                "Domain",
                .product(name: "GRDB", package: "GRDB.swift"),
                // SQLite's C API, for reading the statistics' rollups column by column.
                .product(name: "GRDBSQLite", package: "GRDB.swift"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strictSwift
        ),
        // The `Store` protocols on PostgreSQL (issue 12): several nodes sharing one database. The
        // schema is data, an SQL file per migration embedded in the binary.
        .target(
            name: "PostgresStorage",
            dependencies: [
                "Domain",
                "Storage",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            resources: [.embedInCode("Migrations/v01-schema.sql")],
            swiftSettings: strictSwift
        ),
        // OAuth 2 grants, token and secret hashing, and who may see and change what.
        .target(
            name: "Access",
            dependencies: [
                "Domain",
                "SIP",
                "Storage",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "_CryptoExtras", package: "swift-crypto"),
            ],
            swiftSettings: strictSwift
        ),
        // Rating notifications (issue 10): the signed payload, the retry schedule's use, and the
        // service that delivers the outbox over HTTP.
        .target(
            name: "Notifications",
            dependencies: [
                "Domain",
                "Storage",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strictSwift
        ),
        // The REST API of SPEC §3–§6, its OpenAPI document, the API browser, /health and /metrics.
        .target(
            name: "HTTPAPI",
            dependencies: [
                "Admission",
                "CallFlow",
                "CallRunner",
                "Domain",
                "Storage",
                "Access",
                "Audio",
                .product(name: "Hummingbird", package: "hummingbird"),
                // HTTP/1.1 or HTTPS (`HTTPServerBuilder`, HummingbirdTLS on swift-nio-ssl).
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "HummingbirdTLS", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                // Live event streams end on a graceful shutdown (`withGracefulShutdownHandler`).
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            // The API's documents are data: embedded in the binary, so a deployed server is one file.
            resources: [
                .embedInCode("Resources/openapi.json"), .embedInCode("Resources/api-browser.html"), .embedInCode("Resources/dashboard.html"),
            ],
            swiftSettings: strictSwift
        ),
        .executableTarget(
            name: "qualityrate",
            dependencies: [
                "Admission",
                "CallRunner",
                "Media",
                "SIP",
                "SIPTransport",
                "Telephony",
                "Domain",
                "Storage",
                "Access",
                "HTTPAPI",
                "Notifications",
                "PostgresStorage",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strictSwift
        ),
        // `scripts/bench-api`: 10 million ratings, then latency, throughput and memory figures, on
        // SQLite or PostgreSQL (loaded by COPY through PostgresNIO).
        .executableTarget(
            name: "qualityrate-bench",
            dependencies: [
                "Domain",
                "Storage",
                "PostgresStorage",
                "Access",
                "HTTPAPI",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
            ],
            path: "Benchmarks/qualityrate-bench",
            swiftSettings: strictSwift
        ),
        // `scripts/bench-callflow`: rated calls through the engine alone, then through CallRunner with SQLite.
        .executableTarget(
            name: "callflow-bench",
            dependencies: [
                "CallFlow",
                "CallRunner",
                "Domain",
                "Notifications",
                "Storage",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            path: "Benchmarks/callflow-bench",
            swiftSettings: strictSwift
        ),
        // Prompt pacing under load: legs playing at once, packets per second, loss, CPU per thread.
        .executableTarget(
            name: "media-bench",
            dependencies: [
                "Media",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            path: "Benchmarks/media-bench",
            swiftSettings: strictSwift
        ),
        // Temporary databases for tests: a SQLite file, or a PostgreSQL database of its own when
        // QR_TEST_POSTGRES names a server (`scripts/test` runs the storage tests on both).
        .target(
            name: "TestSupport",
            dependencies: [
                "PostgresStorage",
                "Storage",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
            ],
            path: "Tests/TestSupport",
            swiftSettings: strictSwift
        ),
        .testTarget(name: "AdmissionTests", dependencies: ["Admission"], swiftSettings: strictSwift),
        .testTarget(name: "DomainTests", dependencies: ["Domain"], swiftSettings: strictSwift),
        .testTarget(name: "CallFlowTests", dependencies: ["CallFlow", "Domain"], swiftSettings: strictSwift),
        .testTarget(
            name: "CallRunnerTests",
            dependencies: [
                "CallFlow", "CallRunner", "Domain", "Storage", "TestSupport",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
            ],
            // Read from the source tree by ScenarioTests, as `qualityrate simulate` reads a file.
            exclude: ["Scenarios"],
            swiftSettings: strictSwift
        ),
        .testTarget(
            name: "TelephonyTests",
            dependencies: [
                "Admission", "Audio", "CallFlow", "CallRunner", "Domain", "Media", "SIP", "SIPTransport", "Storage", "Telephony", "TestSupport",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            swiftSettings: strictSwift
        ),
        .testTarget(name: "AudioTests", dependencies: ["Audio"], swiftSettings: strictSwift),
        .testTarget(name: "RTPTests", dependencies: ["RTP"], swiftSettings: strictSwift),
        .testTarget(
            name: "MediaTests",
            dependencies: [
                "Media", "RTP", "Audio",
                .product(name: "MetricsTestKit", package: "swift-metrics"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strictSwift
        ),
        .testTarget(
            name: "SIPTests", dependencies: ["SIP", .product(name: "Crypto", package: "swift-crypto")], swiftSettings: strictSwift),
        .testTarget(
            name: "SIPTransportTests",
            dependencies: [
                "SIP", "SIPTransport",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strictSwift
        ),
        .testTarget(
            name: "StorageTests",
            dependencies: [
                "Domain", "PostgresStorage", "Storage", "TestSupport",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
            ],
            swiftSettings: strictSwift
        ),
        .testTarget(
            name: "NotificationsTests",
            dependencies: [
                "Domain", "Notifications", "Storage", "TestSupport",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strictSwift
        ),
        .testTarget(
            name: "HTTPAPITests",
            dependencies: [
                "CallFlow",
                "CallRunner",
                "Domain",
                "Storage",
                "Access",
                "Admission",
                "HTTPAPI",
                "TestSupport",
                // Reads live event streams as they come (HummingbirdTesting's client waits for the end).
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
            ],
            swiftSettings: strictSwift
        ),
    ]
)
