import Admission
import ArgumentParser
import CallRunner
import Foundation
import HTTPAPI
import NIOCore
import Hummingbird
import Logging
import Media
import Metrics
import NIOSSL
import Prometheus
import SIP
import SIPTransport
import ServiceLifecycle
import Notifications
import Storage
import Telephony

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the server; creates and migrates the database when needed. Stops gracefully on SIGINT/SIGTERM.")

    @OptionGroup var database: DatabaseOption

    @Option(name: .long, help: "HTTP listening address, HOST:PORT (default 127.0.0.1:8080).")
    var http: String?

    @Option(name: .long, help: "Serve the API over HTTPS instead of HTTP, at HOST:PORT (needs --tls-certificate and --tls-key).")
    var https: String?

    @Option(name: .long, help: "SIP listening address (UDP and TCP), HOST:PORT; HOST is also put in Contact headers and SDP.")
    var sip = "127.0.0.1:5060"

    @Option(name: .customLong("sip-tls"), help: "Also serve SIP over TLS at HOST:PORT (needs --tls-certificate and --tls-key); HOST as --sip's.")
    var sipTLS: String?

    @Option(name: .customLong("tls-certificate"), help: "PEM file of the certificate chain for --sip-tls and --https (server certificate first).")
    var tlsCertificate: String?

    @Option(name: .customLong("tls-key"), help: "PEM file of the private key of --tls-certificate.")
    var tlsKey: String?

    @Option(name: .long, help: "Source range (CIDR) that calls to DIDs are accepted from; repeat for several (default 127.0.0.0/8).")
    var trunk: [String] = []

    @Option(name: .customLong("provider-addresses"), help: """
        Address range (CIDR) the client's provider trunks may reach; repeat for several (default: any).         Trunks whose host is elsewhere neither register nor carry calls.
        """)
    var providerAddresses: [String] = []

    @Option(name: .customLong("rtp-ports"), help: "UDP port range for RTP, LOW-HIGH (one even port per call leg).")
    var rtpPorts = "10000-20000"

    @Option(name: .customLong("digest-algorithms"), help: """
        Digest algorithms phones are challenged with, most preferred first: MD5, SHA-256,MD5 or SHA-256 \
        (many phones fail on a SHA-256 challenge; see docs/SIP.md).
        """)
    var digestAlgorithms = "MD5"

    @OptionGroup var limits: LimitOptions

    @OptionGroup var connections: ConnectionOptions

    @Option(name: .customLong("drain-seconds"), help: """
        On SIGTERM/SIGINT, how long calls up may go on (new calls are refused with 503) before the server \
        hangs them up; every call's history is written before it exits.
        """)
    var drainSeconds = 30

    @Option(name: .customLong("log-level"), help: "trace, debug, info, notice, warning, error or critical.")
    var logLevel = "info"

    func validate() throws {
        _ = try apiAddress()
        let sipAddress = try ListenAddress(parsing: sip, option: "--sip")
        _ = try sipTLSAddress()
        _ = try tlsConfiguration()
        guard !["0.0.0.0", "::"].contains(sipAddress.host) else {
            throw ValidationError("--sip: give the address phones and trunks reach this server at, not a wildcard (\(sipAddress.host))")
        }
        _ = try trunkRanges()
        _ = try providerRanges()
        _ = try rtpPortRange()
        _ = try digestChallenges()
        try limits.validate()
        try connections.validate()
        guard drainSeconds >= 0 else {
            throw ValidationError("--drain-seconds: expected 0 or more seconds, got \(drainSeconds)")
        }
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

        // The pool's size: the calls' writes, the API's reads and the delivery of notifications
        // share it; PostgreSQL's default of 100 connections then serves four nodes.
        try await database.withStore(logger: logger, maximumConnections: 20) { store in
            try await serve(store: store, logger: logger, registry: registry)
        }
    }

    /// Runs the server on an opened store until SIGTERM/SIGINT.
    private func serve(store: any Store, logger: Logger, registry: PrometheusCollectorRegistry) async throws {
        let writeProbe = await WriteProbeService.prepared(store: store, logger: logger)
        let address = try apiAddress()
        let sipAddress = try ListenAddress(parsing: sip, option: "--sip")
        let tls = try tlsConfiguration()
        let trunks = try trunkRanges()
        let budget = DescriptorBudget(
            openFileLimit: raiseOpenFileLimit(logger: logger), connections: connections, maximumCalls: limits.maxCalls,
            rtpPorts: try rtpPortRange())
        var callLimits = limits.callLimits
        callLimits.maximumCalls = budget.calls

        let tasks = CallTasks()
        let registrations = PhoneRegistrations(
            store: store, nonceSecret: try await store.registrationState.nonceSecret(), digestAlgorithms: try digestChallenges(),
            bans: limits.banPolicy, logger: logger)
        let telephony = TelephonyServer(
            endpoint: SIPEndpoint(
                host: sipAddress.host, port: sipAddress.port,
                tls: try sipTLSAddress().map { SIPTLSListener(host: $0.host, port: $0.port, context: try NIOSSLContext(configuration: required(tls))) },
                connectionLimits: SIPConnectionLimits(
                    maximumConnections: budget.sipTCPConnections, maximumConnectionsPerAddress: budget.sipTCPConnectionsPerAddress,
                    idleTimeout: .seconds(connections.sipTCPIdleTimeout), partialMessageTimeout: .seconds(connections.sipTCPPartialTimeout)),
                logger: logger),
            media: MediaServer(host: sipAddress.host, ports: try rtpPortRange(), logger: logger),
            registrations: registrations, store: store,
            settings: TelephonySettings(
                advertisedHost: sipAddress.host, sipPort: sipAddress.port, trunks: trunks, providerAddresses: try providerRanges()),
            gate: CallGate(limits: callLimits), tasks: tasks, logger: logger)
        let directory = CachingCallDirectory(caching: StoreCallDirectory(store: store))
        let calls = CallCenter(
            services: CallServices(
                store: store, directory: directory,
                queues: QueueRegistry(directory: directory, reachability: registrations, state: store.queueState),
                interactive: HTTPInteractiveClient(), timers: tasks, logger: logger),
            telephony: telephony)
        let application = try APIServer.makeApplication(
            store: store, calls: calls, host: address.host, port: address.port, metrics: registry,
            limits: HTTPLimits(
                loginBans: limits.banPolicy, maximumConnections: budget.httpConnections,
                maximumConnectionsPerAddress: budget.httpConnectionsPerAddress, idleTimeout: .seconds(connections.httpIdleTimeout),
                bodyTimeout: .seconds(connections.httpBodyTimeout)),
            tls: https != nil ? try required(tls) : nil,
            logger: logger)
        let services = ServiceGroup(configuration: .init(
            // Stopped in reverse order: telephony first (new calls refused, the calls up drained,
            // then hung up with their history written, sockets closed), then HTTP, then the write
            // probe (the heartbeat, which draining calls still count on), then what is left of
            // the calls' work. Notifications stop after calls and HTTP, so the ratings of the
            // last calls are sent when they can be; what is left stays in the outbox for the next run.
            services: [
                CallTasksService(tasks: tasks),
                NotificationDeliveryService(store: store, logger: logger),
                writeProbe, application,
                TelephonyService(telephony: telephony, calls: calls, drain: .seconds(drainSeconds)),
            ],
            gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        logger.info("starting", metadata: [
            https != nil ? "https" : "http": "\(address.host):\(address.port)", "sip": "\(sip)", "sip_tls": "\(sipTLS ?? "none")",
            "trunks": "\(trunks)", "provider_addresses": "\(providerAddresses.isEmpty ? "any" : "\(providerAddresses)")",
            "rtp_ports": "\(rtpPorts)",
            "digest_algorithms": "\(digestAlgorithms)", "limits": "\(limits.summary)", "descriptor_budget": "\(budget)",
            "drain_seconds": "\(drainSeconds)",
            "database": "\(database.shown)",
        ])
        try await services.run()
        logger.info("stopped")
    }
}

extension Serve {
    /// Where the API listens: `--https`, else `--http` (one or the other: an API that takes
    /// secrets and tokens is not also served in clear once it has a certificate).
    func apiAddress() throws -> ListenAddress {
        if let https {
            guard http == nil else { throw ValidationError("--http and --https: the API listens at one address; give one of them") }
            return try ListenAddress(parsing: https, option: "--https")
        }
        return try ListenAddress(parsing: http ?? "127.0.0.1:8080", option: "--http")
    }

    /// `--sip-tls`, on the host of `--sip` (the host put in Contact headers and SDP).
    func sipTLSAddress() throws -> ListenAddress? {
        guard let sipTLS else { return nil }
        let address = try ListenAddress(parsing: sipTLS, option: "--sip-tls")
        guard address.host == (try ListenAddress(parsing: sip, option: "--sip")).host else {
            throw ValidationError("--sip-tls: give the host of --sip (it is the address put in Contact headers and SDP), got '\(address.host)'")
        }
        return address
    }

    /// The server TLS configuration of `--tls-certificate` and `--tls-key` (TLS 1.2 or later),
    /// when `--sip-tls` or `--https` needs one; nil otherwise. Errors name the file, never its content.
    func tlsConfiguration() throws -> TLSConfiguration? {
        let needed = sipTLS != nil || https != nil
        guard let tlsCertificate, let tlsKey else {
            if needed { throw ValidationError("--sip-tls and --https need --tls-certificate and --tls-key (PEM files)") }
            if tlsCertificate != nil || tlsKey != nil {
                throw ValidationError("--tls-certificate and --tls-key go together, with --sip-tls and/or --https")
            }
            return nil
        }
        guard needed else { throw ValidationError("--tls-certificate and --tls-key are used by --sip-tls and --https: give one of them") }
        let chain: [NIOSSLCertificate]
        let key: NIOSSLPrivateKey
        do {
            chain = try NIOSSLCertificate.fromPEMFile(tlsCertificate)
        } catch {
            throw ValidationError("--tls-certificate: '\(tlsCertificate)' is not a readable PEM certificate chain (\(error))")
        }
        guard !chain.isEmpty else { throw ValidationError("--tls-certificate: '\(tlsCertificate)' holds no certificate") }
        do {
            key = try NIOSSLPrivateKey(file: tlsKey, format: .pem)
        } catch {
            throw ValidationError("--tls-key: '\(tlsKey)' is not a readable PEM private key (\(error))")
        }
        var configuration = TLSConfiguration.makeServerConfiguration(certificateChain: chain.map { .certificate($0) }, privateKey: .privateKey(key))
        configuration.minimumTLSVersion = .tlsv12
        do {
            _ = try NIOSSLContext(configuration: configuration)
        } catch {
            throw ValidationError("--tls-key: '\(tlsKey)' is not the private key of the certificate in '\(tlsCertificate)' (\(error))")
        }
        return configuration
    }

    /// The TLS configuration `validate()` made sure of for `--sip-tls` and `--https`.
    private func required(_ tls: TLSConfiguration?) throws -> TLSConfiguration {
        guard let tls else { throw ValidationError("--sip-tls and --https need --tls-certificate and --tls-key (PEM files)") }
        return tls
    }

    /// `--provider-addresses`: empty = any address.
    func providerRanges() throws -> [AddressRange] {
        try providerAddresses.map { text in
            guard let range = AddressRange(text) else {
                throw ValidationError("--provider-addresses: expected an address range in CIDR notation, e.g. 203.0.113.0/24, got '\(text)'")
            }
            return range
        }
    }

    func trunkRanges() throws -> [AddressRange] {
        try (trunk.isEmpty ? ["127.0.0.0/8"] : trunk).map { text in
            guard let range = AddressRange(text) else {
                throw ValidationError("--trunk: expected an address range in CIDR notation, e.g. 192.0.2.0/24, got '\(text)'")
            }
            return range
        }
    }

    func digestChallenges() throws -> [DigestAlgorithm] {
        guard let algorithms = DigestAlgorithm.list(digestAlgorithms) else {
            throw ValidationError("--digest-algorithms: expected MD5 and/or SHA-256, comma-separated, each once, got '\(digestAlgorithms)'")
        }
        return algorithms
    }

    func rtpPortRange() throws -> ClosedRange<Int> {
        let bounds = rtpPorts.split(separator: "-", omittingEmptySubsequences: false).map { Int($0) }
        guard bounds.count == 2, let low = bounds[0], let high = bounds[1], 1024 <= low, low < high, high <= 65_535 else {
            throw ValidationError("--rtp-ports: expected LOW-HIGH with 1024 ≤ LOW < HIGH ≤ 65535, e.g. 10000-20000, got '\(rtpPorts)'")
        }
        return low...high
    }
}

/// SIP and RTP, from start-up to a graceful shutdown.
struct TelephonyService: Service {
    let telephony: TelephonyServer
    let calls: CallCenter
    /// How long calls up may go on after SIGTERM (`--drain-seconds`).
    let drain: Duration

    func run() async throws {
        try await telephony.start(calls: calls)
        await withDiscardingTaskGroup { group in
            group.addTask { await telephony.run() }
            try? await gracefulShutdown()
            await telephony.stop(drainingFor: drain)
        }
    }
}

/// The calls' work (`CallTasks`), from start-up to a graceful shutdown.
struct CallTasksService: Service {
    let tasks: CallTasks

    func run() async throws {
        await withDiscardingTaskGroup { group in
            group.addTask { await tasks.run() }
            try? await gracefulShutdown()
            tasks.finish()
        }
    }
}

/// Every call leg holds a socket: lift the soft limit on open files to the hard one. Returns the
/// limit in force, which `DescriptorBudget` shares out.
func raiseOpenFileLimit(logger: Logger) -> Int {
    var limit = rlimit()
    guard getrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return 1_024 }
    if limit.rlim_cur < limit.rlim_max {
        let raised = rlimit(rlim_cur: limit.rlim_max, rlim_max: limit.rlim_max)
        var wanted = raised
        if setrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &wanted) == 0 {
            limit = raised
        } else {
            logger.warning("could not raise the open-file limit")
        }
    }
    return Int(clamping: limit.rlim_cur)
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

