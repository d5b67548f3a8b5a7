public import Domain
public import Storage

/// What `qualityrate setup` prints: the one time the secrets are shown in clear.
public struct ProvisionedClient: Sendable, Equatable {
    public var clientID: Int64
    /// The client's SIP domain: the realm and host part its phones register with.
    public var domain: String
    public var username: String
    public var password: String
    public var appID: String
    public var appSecret: String
}

public struct RegisteredApplication: Sendable, Equatable {
    public var appID: String
    public var appSecret: String
}

/// Creating tenants, users and applications; only the hashes of their secrets are stored.
public struct Provisioning: Sendable {
    private let store: any Store

    public init(store: any Store) { self.store = store }

    /// A client with an admin user and a `trusted` application with `all` access (SPEC §5, §8).
    public func createClient(name: String, timezone: ClientTimeZone, domain: String?) async throws -> ProvisionedClient {
        let domain = if let domain { domain } else { try await freeDomain(for: name) }
        let client = try await store.createClient(name: name, timezone: timezone.identifier, domain: domain)
        let username = "admin@\(domain)"
        let password = Secrets.random(length: 20)
        let user = try await store.createUser(NewUser(
            clientID: client.id, username: username, passwordHash: try PasswordHasher.hash(password), isAdmin: true))
        let application = try await registerApplication(userID: user.id, name: "\(name) administration", type: .trusted, access: .all)
        return ProvisionedClient(
            clientID: client.id, domain: client.domain, username: username, password: password, appID: application.appID,
            appSecret: application.appSecret)
    }

    public func createUser(clientID: Int64, username: String, password: String, isAdmin: Bool) async throws -> User {
        try await store.createUser(NewUser(
            clientID: clientID, username: username, passwordHash: try PasswordHasher.hash(password), isAdmin: isAdmin))
    }

    public func registerApplication(userID: Int64, name: String, type: ApplicationType, access: AccessLevel) async throws
        -> RegisteredApplication
    {
        let secret = Secrets.random(length: 40)
        let application = try await store.createApplication(NewApplication(
            appID: Secrets.random(length: 24), userID: userID, name: name, type: type, access: access,
            secretHash: Secrets.sha256Hex(secret)))
        return RegisteredApplication(appID: application.appID, appSecret: secret)
    }

    /// `acme-support.local` for "Acme Support", with a number appended when taken.
    private func freeDomain(for name: String) async throws -> String {
        let slug = String(name.lowercased().unicodeScalars
            .map { ("a"..."z").contains($0) || ("0"..."9").contains($0) ? Character($0) : "-" })
            .split(separator: "-").joined(separator: "-")
        let base = slug.isEmpty ? "client" : String(slug.prefix(40))
        var candidate = "\(base).local"
        var suffix = 2
        while try await store.isDomainTaken(candidate) {
            candidate = "\(base)-\(suffix).local"
            suffix += 1
        }
        return candidate
    }
}
