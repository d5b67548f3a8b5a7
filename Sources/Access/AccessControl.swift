public import Domain
public import Storage

/// Who is asking: the client a token acts for and what it may do.
public struct Principal: Sendable, Equatable {
    public var clientID: Int64
    public var userID: Int64
    public var applicationID: Int64
    public var access: AccessLevel

    public var mayChangeConfiguration: Bool { access == .all }
}

/// The form fields of `POST /oauth/token`.
public struct TokenRequest: Sendable {
    public var grantType: String?
    public var clientID: String?
    public var clientSecret: String?
    public var username: String?
    public var password: String?
    public var refreshToken: String?

    public init(
        grantType: String?, clientID: String?, clientSecret: String?, username: String? = nil,
        password: String? = nil, refreshToken: String? = nil
    ) {
        self.grantType = grantType
        self.clientID = clientID
        self.clientSecret = clientSecret
        self.username = username
        self.password = password
        self.refreshToken = refreshToken
    }
}

/// The answer of `POST /oauth/token` (SPEC §5).
public struct TokenGrant: Sendable, Equatable {
    public var accessToken: String
    public let tokenType = "Bearer"
    public var expiresIn: Int64
    public let scope = "all"
    public var refreshToken: String?
}

/// OAuth 2 errors (RFC 6749 §5.2); `code` is the `error` field of the answer.
public enum OAuthError: Error, Equatable {
    case invalidRequest(String)
    case unsupportedGrantType(String)
    case invalidClient(String)
    case invalidGrant(String)
    case unauthorizedClient(String)

    public var code: String {
        switch self {
        case .invalidRequest: "invalid_request"
        case .unsupportedGrantType: "unsupported_grant_type"
        case .invalidClient: "invalid_client"
        case .invalidGrant: "invalid_grant"
        case .unauthorizedClient: "unauthorized_client"
        }
    }

    public var description: String {
        switch self {
        case .invalidRequest(let text), .unsupportedGrantType(let text), .invalidClient(let text),
            .invalidGrant(let text), .unauthorizedClient(let text):
            text
        }
    }
}

/// Issues tokens for registered applications and resolves bearer tokens to principals.
public struct AccessControl: Sendable {
    public static let accessTokenLifetime: Int64 = 3600
    public static let refreshTokenLifetime: Int64 = 30 * 86_400
    static let tokenLength = 40

    private let store: any Store

    public init(store: any Store) { self.store = store }

    public func issueToken(_ request: TokenRequest, now: UnixTime = .now()) async throws -> TokenGrant {
        guard let grantType = request.grantType, !grantType.isEmpty else {
            throw OAuthError.invalidRequest("grant_type is required: client_credentials, password or refresh_token")
        }
        guard ["client_credentials", "password", "refresh_token"].contains(grantType) else {
            throw OAuthError.unsupportedGrantType("grant_type must be client_credentials, password or refresh_token")
        }
        guard let appID = request.clientID, !appID.isEmpty, let secret = request.clientSecret, !secret.isEmpty else {
            throw OAuthError.invalidRequest("client_id and client_secret (the application's app id and secret) are required")
        }
        guard let application = try await store.application(appID: appID),
            PasswordHasher.constantTimeEqual(Array(Secrets.sha256Hex(secret).utf8), Array(application.secretHash.utf8))
        else {
            throw OAuthError.invalidClient("unknown application or wrong client_secret")
        }
        try await store.deleteTokens(expiredBefore: now)

        switch grantType {
        case "client_credentials":
            guard application.type == .trusted else {
                throw OAuthError.unauthorizedClient("client_credentials is for trusted applications; this one is \(application.type.rawValue)")
            }
            return try await grant(for: application, userID: application.userID, withRefresh: false, now: now)
        case "password":
            guard application.type == .passwordCredentials else {
                throw OAuthError.unauthorizedClient("the password grant is for password_credentials applications")
            }
            guard let username = request.username, let password = request.password else {
                throw OAuthError.invalidRequest("username and password are required for grant_type=password")
            }
            guard let owner = try await store.user(id: application.userID),
                let user = try await store.user(username: username), user.clientID == owner.clientID,
                PasswordHasher.verify(password, against: user.passwordHash)
            else {
                throw OAuthError.invalidGrant("wrong username or password")
            }
            return try await grant(for: application, userID: user.id, withRefresh: true, now: now)
        default:
            guard let refreshToken = request.refreshToken, !refreshToken.isEmpty else {
                throw OAuthError.invalidRequest("refresh_token is required for grant_type=refresh_token")
            }
            let hash = Secrets.sha256Hex(refreshToken)
            // Deleting before issuing makes each refresh token single-use, even under a race.
            guard let stored = try await store.token(hash: hash), stored.kind == .refresh,
                stored.applicationID == application.id, stored.expiresAt > now,
                try await store.deleteToken(hash: hash)
            else {
                throw OAuthError.invalidGrant("the refresh token is unknown, expired, already used or of another application")
            }
            return try await grant(for: application, userID: stored.userID, withRefresh: true, now: now)
        }
    }

    private func grant(for application: Application, userID: Int64, withRefresh: Bool, now: UnixTime) async throws -> TokenGrant {
        let accessToken = Secrets.random(length: Self.tokenLength)
        try await store.saveToken(StoredToken(
            hash: Secrets.sha256Hex(accessToken), kind: .access, applicationID: application.id, userID: userID,
            expiresAt: now.adding(seconds: Self.accessTokenLifetime)))
        var refreshToken: String?
        if withRefresh {
            let token = Secrets.random(length: Self.tokenLength)
            try await store.saveToken(StoredToken(
                hash: Secrets.sha256Hex(token), kind: .refresh, applicationID: application.id, userID: userID,
                expiresAt: now.adding(seconds: Self.refreshTokenLifetime)))
            refreshToken = token
        }
        return TokenGrant(accessToken: accessToken, expiresIn: Self.accessTokenLifetime, refreshToken: refreshToken)
    }

    /// The principal of a bearer token, or nil when the token is unknown, expired or not an
    /// access token. Only the token's hash is looked up, so the store never sees a live token.
    public func authenticate(bearer token: String, now: UnixTime = .now()) async throws -> Principal? {
        guard token.utf8.count == Self.tokenLength,
            let stored = try await store.token(hash: Secrets.sha256Hex(token)),
            stored.kind == .access, stored.expiresAt > now,
            let user = try await store.user(id: stored.userID)
        else { return nil }
        // The access level is read from the application as it is now, so lowering an
        // application's access takes effect on tokens already issued.
        guard let application = try await store.application(id: stored.applicationID) else { return nil }
        return Principal(clientID: user.clientID, userID: user.id, applicationID: application.id, access: application.access)
    }
}
