import Access
import Hummingbird

/// `POST /oauth/token` (SPEC §5): form-encoded in, the token JSON or an OAuth error out.
struct OAuthRoutes {
    let accessControl: AccessControl

    @Sendable func token(_ request: Request, context: APIRequestContext) async throws -> Response {
        try request.requireContentType("application/x-www-form-urlencoded", sentAs: "a form")
        let buffer = try await request.body.collect(upTo: context.maxUploadSize)
        let form: QueryParameters
        do {
            form = try QueryParameters(String(decoding: buffer.readableBytesView, as: UTF8.self))
        } catch let error as APIError {
            return Self.oauthError(code: "invalid_request", description: error.description, status: .badRequest)
        }
        let tokenRequest = TokenRequest(
            grantType: form["grant_type"], clientID: form["client_id"], clientSecret: form["client_secret"],
            username: form["username"], password: form["password"], refreshToken: form["refresh_token"])
        do {
            let grant = try await accessControl.issueToken(tokenRequest)
            var json = JSONBytes()
            json.beginObject()
            json.field("access_token", grant.accessToken)
            json.field("token_type", grant.tokenType)
            json.field("expires_in", grant.expiresIn)
            json.field("scope", grant.scope)
            if let refreshToken = grant.refreshToken { json.field("refresh_token", refreshToken) }
            json.endObject()
            return .json(json, headers: [.cacheControl: "no-store"])
        } catch let error as OAuthError {
            // RFC 6749 answers a bad grant with 400; SPEC §5 asks for 401 on a refused refresh,
            // and every failed credential check answers 401 alike.
            let status: HTTPResponse.Status =
                switch error {
                case .invalidClient, .invalidGrant: .unauthorized
                case .invalidRequest, .unsupportedGrantType, .unauthorizedClient: .badRequest
                }
            return Self.oauthError(code: error.code, description: error.description, status: status)
        }
    }

    private static func oauthError(code: String, description: String, status: HTTPResponse.Status) -> Response {
        var json = JSONBytes()
        json.beginObject()
        json.field("error", code)
        json.field("error_description", description)
        json.endObject()
        return .json(json, status: status, headers: [.cacheControl: "no-store"])
    }
}
