import Hummingbird
import Logging

/// Logs each request's method and path, never its query string: a token or secret sent there by
/// mistake (`?access_token=…`, refused by the API) must not reach the log with it. Hummingbird's
/// own `LogRequestsMiddleware` logs the whole URI.
struct RequestLogMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        context.logger.info(
            "Request", metadata: ["hb.request.path": "\(request.uri.path)", "hb.request.method": "\(request.method.rawValue)"])
        return try await next(request, context)
    }
}
