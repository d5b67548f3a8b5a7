import Hummingbird

/// Collects routes so that every GET route answers HEAD as well (RFC 9110 §9.3.2), and so that
/// any other method on a known path — including ones no one registers, like `QUERY` — answers
/// 405 with an `Allow` header instead of a 404 that would suggest the path does not exist.
struct RouteTable {
    typealias Handler = @Sendable (Request, APIRequestContext) async throws -> Response

    /// Prepended to every path of this table, e.g. `api/ver1.0`; `:name` segments are parameters.
    private let prefix: String
    private var routes: [(path: String, method: HTTPRequest.Method, handler: Handler)] = []

    init(prefix: String = "") { self.prefix = prefix }

    mutating func get(_ path: String, _ handler: @escaping Handler) { routes.append((path, .get, handler)) }
    mutating func put(_ path: String, _ handler: @escaping Handler) { routes.append((path, .put, handler)) }
    mutating func post(_ path: String, _ handler: @escaping Handler) { routes.append((path, .post, handler)) }
    mutating func delete(_ path: String, _ handler: @escaping Handler) { routes.append((path, .delete, handler)) }

    /// Registers the handlers and answers the methods each full path allows.
    func register(on router: some RouterMethods<APIRequestContext>) -> [AllowedMethods] {
        var allowed: [String: [HTTPRequest.Method]] = [:]
        for route in routes {
            router.on(RouterPath(route.path), method: route.method, use: route.handler)
            allowed[route.path, default: []].append(route.method)
            if route.method == .get {
                router.on(RouterPath(route.path), method: .head, use: route.handler)
                allowed[route.path, default: []].append(.head)
            }
        }
        return allowed.map { path, methods in AllowedMethods(path: prefix + "/" + path, methods: methods) }
    }
}

/// The methods a path pattern answers.
struct AllowedMethods: Sendable {
    private let segments: [Substring]
    let methods: [HTTPRequest.Method]

    init(path: String, methods: [HTTPRequest.Method]) {
        segments = path.split(separator: "/")
        self.methods = methods
    }

    func matches(_ path: String) -> Bool {
        let parts = path.split(separator: "/")
        return parts.count == segments.count && zip(segments, parts).allSatisfy { pattern, part in
            pattern.hasPrefix(":") || pattern == part
        }
    }
}

/// Runs where the router found no handler for the method: a known path answers 405.
struct MethodNotAllowedMiddleware: RouterMiddleware {
    let paths: [AllowedMethods]

    func handle(
        _ request: Request, context: APIRequestContext, next: (Request, APIRequestContext) async throws -> Response
    ) async throws -> Response {
        guard let known = paths.first(where: { $0.matches(request.uri.path) }), !known.methods.contains(request.method) else {
            return try await next(request, context)
        }
        let allowed = known.methods.map(\.rawValue).joined(separator: ", ")
        throw APIError(
            status: .methodNotAllowed, code: "method_not_allowed",
            description: "\(APIError.printable(request.method.rawValue)) is not allowed here; allowed: \(allowed)",
            extraHeaders: [.allow: allowed])
    }
}
