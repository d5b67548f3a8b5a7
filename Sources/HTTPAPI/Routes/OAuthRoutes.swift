import Admission
import Access
import Hummingbird

/// `POST /oauth/token` (SPEC §5): form-encoded in, the token JSON or an OAuth error out.
struct OAuthRoutes {
    let accessControl: AccessControl
    /// Failed sign-ins per client address and per application or user: a banned address is
    /// answered 429 before any secret is checked (the password grant's hash costs ~80 ms of CPU,
    /// so a guesser must not get to spend it).
    let bans: BanList

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
        // What is being guessed: the user's password (password grant), else the application's
        // secret; a refresh token names no account.
        let account: String? =
            switch tokenRequest.grantType {
            case "password": tokenRequest.username.map { "user:\($0.lowercased())" }
            case "refresh_token": nil
            default: tokenRequest.clientID.map { "application:\($0)" }
            }
        let source = context.remoteAddress?.ipAddress ?? "unknown"
        if let seconds = bans.verdict(source: source, account: account).retryAfter {
            var response = Self.oauthError(
                code: "temporarily_unavailable",
                description: "too many failed sign-ins from this address or for this account; try again in \(seconds) s",
                status: .tooManyRequests)
            response.headers[.retryAfter] = String(seconds)
            return response
        }
        do {
            let grant = try await accessControl.issueToken(tokenRequest)
            if let account { bans.succeeded(source: source, account: account) }
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
            if status == .unauthorized {
                // A wrong application secret counts against the application even in the
                // password grant: the secret is checked first.
                let guessed = if case .invalidClient = error { tokenRequest.clientID.map { "application:\($0)" } } else { account }
                bans.failed(source: source, account: guessed)
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
