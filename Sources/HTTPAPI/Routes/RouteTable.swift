import Hummingbird

/// Collects routes so that a wrong method on a known path answers 405 with an `Allow` header,
/// instead of the router's 404 that would suggest the path does not exist, and so that every
/// GET route answers HEAD as well (RFC 9110 §9.3.2).
struct RouteTable {
    typealias Handler = @Sendable (Request, APIRequestContext) async throws -> Response

    private var routes: [(path: RouterPath, method: HTTPRequest.Method, handler: Handler)] = []

    mutating func get(_ path: RouterPath, _ handler: @escaping Handler) { routes.append((path, .get, handler)) }
    mutating func put(_ path: RouterPath, _ handler: @escaping Handler) { routes.append((path, .put, handler)) }
    mutating func post(_ path: RouterPath, _ handler: @escaping Handler) { routes.append((path, .post, handler)) }

    static let knownMethods: [HTTPRequest.Method] = [.get, .head, .post, .put, .delete, .patch, .options, .trace]

    func register(on router: some RouterMethods<APIRequestContext>) {
        var methodsByPath: [String: (path: RouterPath, methods: [HTTPRequest.Method])] = [:]
        for route in routes {
            router.on(route.path, method: route.method, use: route.handler)
            methodsByPath[route.path.description, default: (route.path, [])].methods.append(route.method)
            if route.method == .get {
                router.on(route.path, method: .head, use: route.handler)
                methodsByPath[route.path.description]?.methods.append(.head)
            }
        }
        for (path, methods) in methodsByPath.values {
            let allowed = methods.map(\.rawValue).joined(separator: ", ")
            for method in Self.knownMethods where !methods.contains(method) {
                router.on(path, method: method) { request, _ -> Response in
                    throw APIError(
                        status: .methodNotAllowed, code: "method_not_allowed",
                        description: "\(request.method.rawValue) is not allowed here; allowed: \(allowed)",
                        extraHeaders: [.allow: allowed])
                }
            }
        }
    }
}
