import Hummingbird
import NIOCore

/// An answer that is not a success: `{"error": code, "error_description": text}` (SPEC §6).
/// Descriptions say what was wrong and how to fix it; they never carry SQL, stack traces or
/// secrets, and never echo control characters back.
struct APIError: Error, HTTPResponseError {
    var status: HTTPResponse.Status
    var code: String
    var description: String
    var extraHeaders: HTTPFields = [:]

    static func badParameter(_ name: String, expected: String, got value: some StringProtocol) -> APIError {
        APIError(
            status: .badRequest, code: "invalid_parameter",
            description: "\(name): expected \(expected), got '\(printable(value))'")
    }

    static func badParameter(_ name: String, _ problem: String) -> APIError {
        APIError(status: .badRequest, code: "invalid_parameter", description: "\(name): \(problem)")
    }

    static func invalidValue(_ name: String, _ problem: String) -> APIError {
        APIError(status: .unprocessableContent, code: "invalid_value", description: "\(name): \(problem)")
    }

    static func notFound(_ what: String) -> APIError {
        APIError(status: .notFound, code: "not_found", description: "\(what) not found")
    }

    static let missingToken = APIError(
        status: .unauthorized, code: "invalid_token",
        description: "send 'Authorization: Bearer <access_token>'; get a token from POST /oauth/token",
        extraHeaders: [.wwwAuthenticate: "Bearer"])

    static let invalidToken = APIError(
        status: .unauthorized, code: "invalid_token",
        description: "the access token is unknown or expired; get a new one from POST /oauth/token",
        extraHeaders: [.wwwAuthenticate: "Bearer error=\"invalid_token\""])

    static let configurationForbidden = APIError(
        status: .forbidden, code: "insufficient_access",
        description: "this application has call_api access; changing configuration needs an application with all access")

    static let internalError = APIError(
        status: .internalServerError, code: "internal_error",
        description: "the server failed to answer; the failure is in its log")

    func response(from request: Request, context: some RequestContext) throws -> Response {
        var json = JSONBytes()
        json.beginObject()
        json.field("error", code)
        json.field("error_description", description)
        json.endObject()
        var headers = extraHeaders
        headers[.contentType] = "application/json"
        return Response(status: status, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(bytes: json.bytes)))
    }

    /// A value as it may be shown in an error: control characters replaced, length bounded.
    static func printable(_ value: some StringProtocol) -> String {
        let cleaned = String(String.UnicodeScalarView(value.unicodeScalars.map {
            $0.properties.generalCategory == .control ? "?" : $0
        }))
        return cleaned.count > 64 ? String(cleaned.prefix(64)) + "…" : cleaned
    }
}

/// Turns every failure into the JSON error shape: framework errors keep their status with our
/// body, and anything unexpected becomes a 500 whose details stay in the log (type only).
struct ErrorMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as APIError {
            return try error.response(from: request, context: context)
        } catch let error as HTTPError {
            return try Self.translate(error, path: request.uri.path).response(from: request, context: context)
        } catch is NIOTooManyBytesError {
            return try Self.translate(HTTPError(.contentTooLarge), path: request.uri.path).response(from: request, context: context)
        } catch {
            context.logger.error(
                "request failed", metadata: ["error_type": "\(type(of: error))", "path": "\(request.uri.path)"])
            return try APIError.internalError.response(from: request, context: context)
        }
    }

    static func translate(_ error: HTTPError, path: String) -> APIError {
        switch error.status {
        case .notFound:
            return APIError(status: .notFound, code: "not_found", description: "no resource at \(APIError.printable(path))")
        case .contentTooLarge:
            return APIError(status: .contentTooLarge, code: "payload_too_large", description: "the request body is larger than this endpoint accepts (64 KiB)")
        case .badRequest:
            return APIError(status: .badRequest, code: "invalid_request", description: error.body ?? "the request is malformed")
        default:
            return APIError(
                status: error.status, code: error.status.reasonPhrase.lowercased().replacingOccurrences(of: " ", with: "_"),
                description: error.body ?? error.status.reasonPhrase)
        }
    }
}

extension StringProtocol {
    /// Control characters are refused in every text the API stores or reads as a parameter.
    var containsControlCharacters: Bool {
        unicodeScalars.contains { $0.properties.generalCategory == .control }
    }
}
