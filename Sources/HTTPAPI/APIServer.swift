import Access
import Admission
public import CallRunner
public import Hummingbird
import HummingbirdCore
public import HummingbirdTLS
public import Logging
public import Prometheus
public import Storage

/// Builds the HTTP application: the versioned API behind bearer tokens, the token endpoint,
/// the OpenAPI document, the API browser and the supervisor dashboard, `/health` and `/metrics`.
public enum APIServer {
    /// `calls` places the calls the API starts (callbacks); nil answers them 503.
    public static func makeRouter(
        store: any Store, calls: CallCenter?, metrics: PrometheusCollectorRegistry, limits: HTTPLimits = HTTPLimits(),
        logger: Logger = Logger(label: "qualityrate")
    ) -> Router<APIRequestContext> {
        let router = Router(context: APIRequestContext.self)
        router.add(middleware: RequestMetricsMiddleware(factory: PrometheusMetricsFactory(registry: metrics)))
        router.add(middleware: RequestLogMiddleware())
        router.add(middleware: ErrorMiddleware())

        let accessControl = AccessControl(store: store)
        var open = RouteTable()
        open.post("oauth/token", OAuthRoutes(
            accessControl: accessControl,
            bans: BanList(policy: limits.loginBans, protocol: "http", attempts: "sign-ins at /oauth/token", logger: logger)).token)
        open.get("health") { _, _ -> Response in
            // Reads and writes both: a full disk still serves reads (issue 9). Writes are judged
            // by the server's last write probe (`Store.probeWrites`: a real write, free space).
            do {
                try await store.checkHealth()
            } catch {
                return .json(Self.status("unavailable", reason: "database cannot be read"), status: .serviceUnavailable)
            }
            if case .failing(let reason) = store.writeHealth {
                return .json(Self.status("unavailable", reason: reason), status: .serviceUnavailable)
            }
            // Draining after SIGTERM: a balancer that checks /health stops sending calls, as one
            // probing SIP OPTIONS does.
            if let calls, await calls.isStopping {
                return .json(Self.status("unavailable", reason: "shutting down"), status: .serviceUnavailable)
            }
            return .json(Self.status("ok"))
        }
        open.get("metrics") { _, _ -> Response in
            var text = [UInt8]()
            metrics.emit(into: &text)
            return Response(
                status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                body: ResponseBody(byteBuffer: ByteBuffer(bytes: text)))
        }
        open.get("api/ver1.0/openapi.json") { _, _ -> Response in
            Response(
                status: .ok, headers: [.contentType: "application/json"],
                body: ResponseBody(byteBuffer: ByteBuffer(string: OpenAPIDocument.json)))
        }
        open.get("api/browser") { _, _ -> Response in .page(APIBrowserPage.html) }
        open.get("dashboard") { _, _ -> Response in .page(DashboardPage.html) }
        var authenticated = RouteTable(prefix: "api/ver1.0")
        ClientRoutes(store: store).register(on: &authenticated)
        CallbackRoutes(store: store, calls: calls).register(on: &authenticated)
        ExtensionRoutes(store: store).register(on: &authenticated)
        DIDRoutes(store: store).register(on: &authenticated)
        TrunkRoutes(store: store).register(on: &authenticated)
        QueueRoutes(store: store).register(on: &authenticated)
        NotificationRoutes(store: store).register(on: &authenticated)
        RatingRoutes(store: store).register(on: &authenticated)
        StatisticsRoutes(store: store).register(on: &authenticated)
        EventRoutes(store: store, limits: limits).register(on: &authenticated)
        CallHistoryRoutes(store: store).register(on: &authenticated)
        SoundRoutes(store: store).register(on: &authenticated)
        IVRRoutes(store: store).register(on: &authenticated)
        let knownPaths = open.register(on: router)
            + authenticated.register(on: router.group("api/ver1.0").add(middleware: AuthenticationMiddleware(accessControl: accessControl)))
        // Added after the routes, so it wraps only the router's "no handler" answer.
        router.add(middleware: MethodNotAllowedMiddleware(paths: knownPaths))
        return router
    }

    /// `tls`: HTTPS with that certificate and key (`--https`); nil: HTTP.
    public static func makeApplication(
        store: any Store, calls: CallCenter?, host: String, port: Int, metrics: PrometheusCollectorRegistry, limits: HTTPLimits = HTTPLimits(),
        tls: TLSConfiguration? = nil, logger: Logger
    ) throws -> some ApplicationProtocol {
        let gate = ConnectionGate(
            maximum: limits.maximumConnections, maximumPerAddress: limits.maximumConnectionsPerAddress, name: "qualityrate_http_connections")
        let http1: HTTPServerBuilder = .http1(configuration: .init(
            additionalChannelHandlers: [HTTPConnectionGuard(gate: gate, bodyTimeout: limits.bodyTimeout, logger: logger)], idleTimeout: limits.idleTimeout))
        return Application(
            router: makeRouter(store: store, calls: calls, metrics: metrics, limits: limits, logger: logger),
            // HTTPS: TLS (swift-nio-ssl) under the same HTTP/1.1 channel, with its limits.
            server: try tls.map { try .tls(http1, tlsConfiguration: $0) } ?? http1,
            configuration: .init(address: .hostname(host, port: port), serverName: "QualityRate"),
            logger: logger)
    }

    private static func status(_ value: String, reason: String? = nil) -> JSONBytes {
        var json = JSONBytes()
        json.beginObject()
        json.field("status", value)
        if let reason { json.field("reason", reason) }
        json.endObject()
        return json
    }
}
