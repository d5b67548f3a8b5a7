public import CallRunner
public import Domain
public import SIP
public import SIPTransport
public import Storage
import Foundation

/// The registrar of every client's phones: answers REGISTER with digest authentication against
/// the phones' stored HA1 (realm = the client's domain), and knows where a registered phone can
/// be rung — its Contact, reached through the address its REGISTER came from (so a phone behind
/// NAT, or one registered over TCP, is reached the way it registered).
public actor PhoneRegistrations: AgentReachability {
    public struct Target: Sendable {
        /// The Request-URI of an INVITE to the phone.
        public var contact: String
        public var peer: SIPPeer
    }

    private let store: any Store
    private var registrar: Registrar
    private let authenticator: DigestAuthenticator
    private var peers: [String: SIPPeer] = [:]
    private var domains: [Int64: String] = [:]

    /// `digestAlgorithms`: what phones are challenged with, most preferred first.
    public init(store: any Store, nonceSecret: [UInt8], digestAlgorithms: [DigestAlgorithm] = DigestAlgorithm.defaultChallenges) {
        self.store = store
        authenticator = DigestAuthenticator(nonces: DigestNonces(secret: nonceSecret), algorithms: digestAlgorithms)
        registrar = Registrar(authenticator: authenticator)
    }

    /// The answer to a REGISTER: 404 for a domain or phone this server does not have, else the
    /// registrar's (401 challenge, 403 wrong credentials, 423, 200 with the bindings).
    public func register(_ request: SIPMessage, from peer: SIPPeer) async -> SIPMessage {
        let now = Int64(Date().timeIntervalSince1970)
        guard let to = request.headers["To"].flatMap(NameAddress.init), let user = to.uri.user else {
            return request.response(status: 400, reason: "Bad To header", toTag: Registrar.tag(request))
        }
        let (client, secrets) = await phone(user, domain: to.uri.host)
        guard let client else { return request.response(status: 404, reason: "Unknown domain", toTag: Registrar.tag(request)) }
        registrar.removeExpired(at: now)
        let response = registrar.handle(request, user: user, domain: client.domain, secrets: secrets, at: now)
        if response.status == 200 { peers["\(user)@\(client.domain)".lowercased()] = peer }
        return response
    }

    /// nil when `request` (an INVITE from a phone `user` of `client`) carries valid
    /// Proxy-Authorization credentials; otherwise the answer to send (407 challenge, 403).
    public func refusal(of request: SIPMessage, user: String, client: Client, toTag: String) async -> SIPMessage? {
        let (_, secrets) = await phone(user, domain: client.domain)
        guard let secrets else { return request.response(status: 403, reason: "Forbidden", toTag: toTag) }
        return authenticator.refusal(
            of: request, user: user, realm: client.domain, secrets: secrets, challenger: .proxy, toTag: toTag,
            at: Int64(Date().timeIntervalSince1970))
    }

    /// Where to ring the phone `name` of `clientID`: its most recent live binding.
    public func target(clientID: Int64, name: String) async -> Target? {
        guard let domain = await domain(of: clientID) else { return nil }
        let aor = "\(name)@\(domain)".lowercased()
        guard let binding = registrar.contacts(of: aor, at: Int64(Date().timeIntervalSince1970)).last, let peer = peers[aor] else {
            return nil
        }
        return Target(contact: binding.contact, peer: peer)
    }

    public func isReachable(clientID: Int64, agent: String) async -> Bool {
        await target(clientID: clientID, name: agent) != nil
    }

    /// The client whose domain is `domain`, if any (phones' calls are recognised by it).
    public func client(domain: String) async -> Client? {
        try? await store.client(domain: domain)
    }

    private func domain(of clientID: Int64) async -> String? {
        if let domain = domains[clientID] { return domain }
        let domain = try? await store.client(id: clientID)?.domain
        domains[clientID] = domain
        return domain
    }

    private func phone(_ user: String, domain: String) async -> (Client?, Registrar.Secrets?) {
        guard let client = try? await store.client(domain: domain) else { return (nil, nil) }
        guard let phone = try? await store.extension(clientID: client.id, name: user), phone.kind == .phone,
            let credentials = try? await store.sipCredentials(clientID: client.id, extensionID: phone.id)
        else { return (client, nil) }
        return (client, Registrar.Secrets(ha1MD5: credentials.ha1MD5, ha1SHA256: credentials.ha1SHA256))
    }
}
