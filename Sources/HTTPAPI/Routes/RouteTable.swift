import Hummingbird

/// Collects the API's routes so that a wrong method on a known path can answer 405 with an
/// `Allow` header, instead of the router's 404 that would suggest the path does not exist.
struct RouteTable {
    typealias Handler = @Sendable (Request, APIRequestContext) async throws -> Response

    private var routes: [(path: RouterPath, method: HTTPRequest.Method, handler: Handler)] = []

    mutating func get(_ path: RouterPath, _ handler: @escaping Handler) { routes.append((path, .get, handler)) }
    mutating func put(_ path: RouterPath, _ handler: @escaping Handler) { routes.append((path, .put, handler)) }
    mutating func post(_ path: RouterPath, _ handler: @escaping Handler) { routes.append((path, .post, handler)) }

    func register(on group: RouterGroup<APIRequestContext>) {
        var methodsByPath: [String: (path: RouterPath, methods: [HTTPRequest.Method])] = [:]
        for route in routes {
            group.on(route.path, method: route.method, use: route.handler)
            methodsByPath[route.path.description, default: (route.path, [])].methods.append(route.method)
        }
        for (path, methods) in methodsByPath.values {
            let allowed = methods.map(\.rawValue).joined(separator: ", ")
            for method in [HTTPRequest.Method.get, .post, .put, .delete, .patch] where !methods.contains(method) {
                group.on(path, method: method) { request, _ -> Response in
                    throw APIError(
                        status: .methodNotAllowed, code: "method_not_allowed",
                        description: "\(request.method.rawValue) is not allowed here; allowed: \(allowed)",
                        extraHeaders: [.allow: allowed])
                }
            }
        }
    }
}
