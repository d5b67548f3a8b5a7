import ArgumentParser
import CallRunner
import HTTPAPI
import Hummingbird
import Logging
import Metrics
import Prometheus
import ServiceLifecycle
import Storage

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the server; creates and migrates the database when needed. Stops gracefully on SIGINT/SIGTERM.")

    @OptionGroup var database: DatabaseOption

    @Option(name: .long, help: "HTTP listening address, HOST:PORT.")
    var http = "127.0.0.1:8080"

    @Option(name: .customLong("log-level"), help: "trace, debug, info, notice, warning, error or critical.")
    var logLevel = "info"

    func validate() throws {
        _ = try ListenAddress(parsing: http, option: "--http")
        guard Logger.Level(rawValue: logLevel) != nil else {
            throw ValidationError("--log-level: expected trace, debug, info, notice, warning, error or critical")
        }
    }

    func run() async throws {
        let level = Logger.Level(rawValue: logLevel) ?? .info
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        let logger = Logger(label: "qualityrate")
        let registry = PrometheusCollectorRegistry()
        MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry))

        let store = try openStore(database.database, logger: logger)
        let address = try ListenAddress(parsing: http, option: "--http")
        // Calls the API starts (callbacks) need telephony: until SIP is connected (issue 4) the
        // call center has none, and a valid callback request answers 503 telephony_unavailable.
        let directory = CachingCallDirectory(caching: StoreCallDirectory(store: store))
        let calls = CallCenter(
            services: CallServices(
                store: store, directory: directory,
                queues: QueueRegistry(directory: directory, reachability: EveryAgentReachable()),
                interactive: HTTPInteractiveClient(), timers: TaskTimerScheduler(), logger: logger),
            telephony: nil)
        let application = APIServer.makeApplication(
            store: store, calls: calls, host: address.host, port: address.port, metrics: registry, logger: logger)
        let services = ServiceGroup(configuration: .init(
            services: [application], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        logger.info("starting", metadata: ["http": "\(http)", "database": "\(database.database)"])
        try await services.run()
        logger.info("stopped")
    }
}

/// `HOST:PORT`, with IPv6 hosts in brackets (`[::1]:8080`).
struct ListenAddress {
    var host: String
    var port: Int

    init(parsing text: String, option: String) throws {
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]), (0...65_535).contains(port)
        else { throw ValidationError("\(option): expected HOST:PORT, e.g. 127.0.0.1:8080, got '\(text)'") }
        var host = String(text[..<colon])
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        guard !host.isEmpty else { throw ValidationError("\(option): the host is missing in '\(text)'") }
        self.host = host
        self.port = port
    }
}

func openStore(_ location: String, logger: Logger) throws -> any Store {
    if location.hasPrefix("postgres://") || location.hasPrefix("postgresql://") {
        throw ValidationError(
            "--database: PostgreSQL is not available in this version yet; give a SQLite file path (default ./qualityrate.sqlite)")
    }
    return try SQLiteStore(path: location, logger: logger)
}
