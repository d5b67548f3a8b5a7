public import Domain

/// A person who can log in (the `password` grant) and on whose behalf applications act.
public struct User: Sendable, Equatable {
    public var id: Int64
    public var clientID: Int64
    public var username: String
    /// A self-describing password hash (see `Access.PasswordHasher`); never the password.
    public var passwordHash: String
    public var isAdmin: Bool

    /// Made by the stores only, from a stored row.
    package init(id: Int64, clientID: Int64, username: String, passwordHash: String, isAdmin: Bool) {
        self.id = id
        self.clientID = clientID
        self.username = username
        self.passwordHash = passwordHash
        self.isAdmin = isAdmin
    }
}

public struct NewUser: Sendable {
    public var clientID: Int64
    public var username: String
    public var passwordHash: String
    public var isAdmin: Bool

    public init(clientID: Int64, username: String, passwordHash: String, isAdmin: Bool) {
        self.clientID = clientID
        self.username = username
        self.passwordHash = passwordHash
        self.isAdmin = isAdmin
    }
}

/// How an application obtains tokens (SPEC §5).
public enum ApplicationType: String, Sendable, CaseIterable {
    /// `client_credentials`: acts as the user who registered it; no refresh token.
    case trusted
    /// `password`: a user's name and password; gets a refresh token.
    case passwordCredentials = "password_credentials"
}

/// What an application's tokens may do (SPEC §5).
public enum AccessLevel: String, Sendable, CaseIterable {
    /// Read everything visible, start callbacks.
    case callAPI = "call_api"
    /// Also change configuration.
    case all
}

/// A registered application: its public `appID` is the OAuth `client_id`.
public struct Application: Sendable, Equatable {
    public var id: Int64
    public var appID: String
    public var userID: Int64
    public var name: String
    public var type: ApplicationType
    public var access: AccessLevel
    public var secretHash: String

    /// Made by the stores only, from a stored row.
    package init(
        id: Int64, appID: String, userID: Int64, name: String, type: ApplicationType, access: AccessLevel, secretHash: String
    ) {
        self.id = id
        self.appID = appID
        self.userID = userID
        self.name = name
        self.type = type
        self.access = access
        self.secretHash = secretHash
    }
}

public struct NewApplication: Sendable {
    public var appID: String
    public var userID: Int64
    public var name: String
    public var type: ApplicationType
    public var access: AccessLevel
    public var secretHash: String

    public init(appID: String, userID: Int64, name: String, type: ApplicationType, access: AccessLevel, secretHash: String) {
        self.appID = appID
        self.userID = userID
        self.name = name
        self.type = type
        self.access = access
        self.secretHash = secretHash
    }
}

/// An issued token, known only by the hash of its value.
public struct StoredToken: Sendable, Equatable {
    public enum Kind: String, Sendable { case access, refresh }

    public var hash: String
    public var kind: Kind
    public var applicationID: Int64
    public var userID: Int64
    public var expiresAt: UnixTime

    public init(hash: String, kind: Kind, applicationID: Int64, userID: Int64, expiresAt: UnixTime) {
        self.hash = hash
        self.kind = kind
        self.applicationID = applicationID
        self.userID = userID
        self.expiresAt = expiresAt
    }
}

public struct NewExtension: Sendable {
    public var clientID: Int64
    public var name: String
    public var kind: Extension.Kind
    public var label: String
    public var isSample: Bool

    public init(clientID: Int64, name: String, kind: Extension.Kind, label: String, isSample: Bool = false) {
        self.clientID = clientID
        self.name = name
        self.kind = kind
        self.label = label
        self.isSample = isSample
    }
}
