public import Admission
public import CallRunner
public import Domain
import Foundation
import Metrics
import NIOCore
public import Logging
public import SIP
public import SIPTransport
public import Storage

/// The registrar of every client's phones: answers REGISTER with digest authentication against
/// the phones' stored HA1 (realm = the client's domain), and knows where each registered device
/// of a phone can be rung — through the proxies of its Path (RFC 3327), or at the address its
/// REGISTER came from (so a phone behind NAT, or one registered over TCP, is reached the way it
/// registered).
public actor PhoneRegistrations: AgentReachability {
    /// One device of a phone, as an INVITE reaches it.
    public struct Target: Sendable, Equatable {
        /// The Request-URI of an INVITE to the device: its registered Contact.
        public var contact: String
        /// The binding's Path, sent as the INVITE's Route.
        public var routes: [String]
        /// Where the INVITE is sent: the first Path hop, or the REGISTER's source.
        public var peer: SIPPeer
    }

    private let store: any Store
    /// The bindings, shared by every node when the database is (issue 12).
    private let state: any RegistrationState
    /// The registrar's rules; the bindings of an address-of-record are loaded into it from
    /// `state` for each REGISTER and saved back.
    private var registrar: Registrar<SIPPeer>
    /// The proxy's challenges (a phone's INVITE); the registrar has its own.
    private var authenticator: DigestAuthenticator
    private var domains: [Int64: String] = [:]
    /// Failed REGISTERs and INVITEs counted per source and per account (`--ban-*` options).
    private let bans: BanList
    private let logger: Logger

    /// What a REGISTER's To names, as storage knows it.
    private enum Phone {
        case noClient
        /// No extension of that name, or one that is not a phone (its kind, then).
        case noPhone(Client, kind: Extension.Kind?)
        case noPassword(Client, extensionID: Int64)
        case phone(Client, PhoneSecrets)
    }

    /// `digestAlgorithms`: what phones are challenged with, most preferred first. `nonceSecret`:
    /// the store's registration state's, so that every node takes the nonces any of them sent.
    public init(
        store: any Store, nonceSecret: [UInt8], digestAlgorithms: [DigestAlgorithm] = DigestAlgorithm.defaultChallenges,
        bans: AuthenticationBans<String>.Policy = .standard, logger: Logger
    ) {
        self.store = store
        state = store.registrationState
        self.bans = BanList(policy: bans, protocol: "sip", attempts: "SIP authentications", logger: logger)
        self.logger = logger
        authenticator = DigestAuthenticator(nonces: DigestNonces(secret: nonceSecret), algorithms: digestAlgorithms)
        registrar = Registrar(authenticator: authenticator)
    }

    /// The answer to a REGISTER: the registrar's (401 challenge, 403 wrong credentials, 423, 200
    /// with the bindings). A domain or phone this server does not have is challenged and refused
    /// like a wrong password, so a scan cannot tell which exist; `source` (the address the
    /// REGISTER comes from, as `TelephonySettings.originatingAddress` finds it) is refused with 403
    /// unheard while it is banned for failed attempts. Throws when storage cannot be read: that is
    /// no answer about the phone (the caller says 503).
    public func register(_ request: SIPMessage, from peer: SIPPeer, source: String) async throws -> SIPMessage {
        let now = Int64(Date().timeIntervalSince1970)
        guard let to = request.headers["To"].flatMap(NameAddress.init), let user = to.uri.user else {
            return request.response(status: 400, reason: "Bad To header", toTag: Registrar<SIPPeer>.tag(request))
        }
        let account = "\(user)@\(to.uri.host)".lowercased()
        if let refusal = banRefusal(request, source: source, account: account, toTag: Registrar<SIPPeer>.tag(request)) {
            return refusal
        }
        // Why a phone is refused goes to the log (never its credentials), once its credentials
        // are refused: an engineer setting up a softphone sees the cause, where the phone only
        // shows "403".
        var metadata: Logger.Metadata = ["sip_user": "\(user)", "sip_domain": "\(to.uri.host)", "source": "\(source)"]
        let realm: String
        let secrets: PhoneSecrets?
        /// Scanners try names and domains all day: an unknown domain is info, not notice.
        let cause: (text: String, level: Logger.Level)?
        switch try await phone(user, domain: to.uri.host) {
        case .noClient:
            (realm, secrets) = (to.uri.host, nil)
            cause = ("no client has this domain (a phone registers as NAME@DOMAIN with its client's domain)", .info)
        case .noPhone(let found, let kind):
            metadata["client_id"] = "\(found.id)"
            if let kind { metadata["extension_type"] = "\(kind.rawValue)" }
            (realm, secrets, cause) = (found.domain, nil, ("the client has no phone of this name", .notice))
        case .noPassword(let found, let extensionID):
            metadata["client_id"] = "\(found.id)"
            metadata["extension_id"] = "\(extensionID)"
            (realm, secrets) = (found.domain, nil)
            cause = ("the phone has no SIP password; set one with PUT /api/ver1.0/client/{client_id}/extension/{extension_id}", .notice)
        case .phone(let found, let phoneSecrets):
            (realm, secrets, cause) = (found.domain, phoneSecrets, nil)
        }
        let answer: SIPMessage
        switch registrar.check(request, user: user, domain: realm, secrets: secrets, at: now) {
        case .refused(let refusal):
            answer = refusal
        case .accepted(let credentials):
            // Another node may have taken this nonce count already (a captured REGISTER replayed
            // to it): the shared count decides, as the local one did for this node.
            if try await state.acceptNonceCount(credentials) {
                answer = try await bind(request, aor: "\(user)@\(realm)".lowercased(), from: peer, at: now)
            } else {
                answer = registrar.staleChallenge(request, domain: realm, at: now)
            }
        }
        switch answer.status {
        case 403:
            let credentials = request.headers["Authorization"].flatMap(DigestCredentials.init)
            if let cause {
                logger.log(level: cause.level, "REGISTER refused: \(cause.text)", metadata: metadata)
            } else if let credentials, credentials.username != user {
                metadata["digest_username"] = "\(credentials.username)"
                logger.notice("REGISTER refused: the digest username is not the phone's name", metadata: metadata)
            } else {
                metadata["digest_algorithm"] = "\(credentials?.algorithm.rawValue ?? "?")"
                logger.notice("REGISTER refused: wrong password", metadata: metadata)
            }
            bans.failed(source: source, account: account)
        case 200:
            bans.succeeded(source: source, account: account)
            metadata["bindings"] = "\(answer.headers.values("Contact").count)"
            logger.info(request.headers["Expires"] == "0" ? "phone unregistered" : "phone registered", metadata: metadata)
        default:
            break
        }
        return answer
    }

    /// nil when `request` (an INVITE from `user` at `domain`, the client's when there is one)
    /// carries valid Proxy-Authorization credentials of a phone; otherwise the answer to send
    /// (407 challenge, 403) — the same whether or not the domain and phone exist. Throws when
    /// storage cannot be read.
    public func refusal(of request: SIPMessage, user: String, domain: String, client: Client?, source: String, toTag: String) async throws
        -> SIPMessage?
    {
        let now = Int64(Date().timeIntervalSince1970)
        let account = "\(user)@\(domain)".lowercased()
        if let refusal = banRefusal(request, source: source, account: account, toTag: toTag) { return refusal }
        var secrets: PhoneSecrets?
        if let client, case .phone(_, let found) = try await phone(user, domain: client.domain) { secrets = found }
        let realm = client?.domain ?? domain
        var answer: SIPMessage?
        switch authenticator.check(request, user: user, realm: realm, secrets: secrets, challenger: .proxy, toTag: toTag, at: now) {
        case .refused(let refusal): answer = refusal
        case .accepted(let credentials):
            if try await !state.acceptNonceCount(credentials) {
                answer = authenticator.staleChallenge(request, realm: realm, challenger: .proxy, toTag: toTag, at: now)
            }
        }
        switch answer?.status {
        case nil: bans.succeeded(source: source, account: account)
        case 403:
            logger.notice(
                "INVITE refused: wrong or unknown credentials", metadata: ["sip_user": "\(user)", "sip_domain": "\(domain)", "source": "\(source)"])
            bans.failed(source: source, account: account)
        default: break
        }
        return answer
    }

    /// 403 before anything is looked up when `source` is banned, or `account` is guarded and
    /// `source` never signed in as it (`AuthenticationBans`).
    private func banRefusal(_ request: SIPMessage, source: String, account: String, toTag: String) -> SIPMessage? {
        guard bans.verdict(source: source, account: account) != .allowed else { return nil }
        return request.response(status: 403, reason: "Forbidden", toTag: toTag)
    }

    /// Changes `aor`'s bindings as an authenticated REGISTER asks, in the shared state: read,
    /// changed by the registrar's rules, written back unless another node changed them meanwhile
    /// (then read again; a few tries, as only the same phone's devices race here).
    private func bind(_ request: SIPMessage, aor: String, from peer: SIPPeer, at now: Int64) async throws -> SIPMessage {
        for _ in 1...5 {
            let current = try await state.bindings(of: aor)
            registrar.load(current.bindings.compactMap(Self.binding(from:)), of: aor)
            let answer = registrar.bind(request, aor: aor, from: peer, at: now)
            guard answer.status == 200 else { return answer }
            let kept = registrar.contacts(of: aor, at: now).map(Self.stored(_:))
            registrar.load([], of: aor)
            if try await state.saveBindings(kept, of: aor, replacing: current.version) { return answer }
        }
        return request.response(status: 500, reason: "Server Internal Error", toTag: Registrar<SIPPeer>.tag(request))
    }

    /// Every live device of the phone `name` of `clientID`, oldest registration first: a phone
    /// registered from a desk set and a softphone rings on both. Registered through any node.
    public func targets(clientID: Int64, name: String) async -> [Target] {
        guard let domain = await domain(of: clientID) else { return [] }
        let aor = "\(name)@\(domain)".lowercased()
        // A read failure rings no device: the caller's flow goes on as with an unreachable agent.
        guard let current = try? await state.bindings(of: aor) else { return [] }
        let now = Int64(Date().timeIntervalSince1970)
        return current.bindings.filter { $0.expiresAt > now }.compactMap(Self.binding(from:)).map { binding in
            Target(contact: binding.contact, routes: binding.path, peer: Self.firstHop(of: binding))
        }
    }

    // MARK: Bindings as the shared state keeps them

    static func stored(_ binding: Registrar<SIPPeer>.Binding) -> StoredBinding {
        let address = binding.source.address
        return StoredBinding(
            contact: binding.contact, expiresAt: binding.expiresAt, callID: binding.callID, sequence: binding.sequence,
            path: binding.path, source: "\(binding.source.transport.rawValue) \(address.ipAddress ?? "") \(address.port ?? 0)")
    }

    /// nil for a source that names no transport and address (none is written so).
    static func binding(from stored: StoredBinding) -> Registrar<SIPPeer>.Binding? {
        let parts = stored.source.split(separator: " ")
        guard parts.count == 3, let transport = SIPTransportKind(rawValue: String(parts[0])), let port = Int(parts[2]),
            let address = try? SocketAddress(ipAddress: String(parts[1]), port: port)
        else { return nil }
        return Registrar<SIPPeer>.Binding(
            contact: stored.contact, expiresAt: stored.expiresAt, callID: stored.callID, sequence: stored.sequence, path: stored.path,
            source: SIPPeer(transport: transport, address: address))
    }

    public func isReachable(clientID: Int64, agent: String) async -> Bool {
        await !targets(clientID: clientID, name: agent).isEmpty
    }

    /// The client whose domain is `domain`, if any (phones' calls are recognised by it). Throws
    /// when storage cannot be read.
    public func client(domain: String) async throws -> Client? {
        try await store.client(domain: domain)
    }

    /// The first Path hop when it names an address (a proxy's Path URI normally does, RFC 3327
    /// §4.2), else the REGISTER's source.
    private static func firstHop(of binding: Registrar<SIPPeer>.Binding) -> SIPPeer {
        guard let first = binding.path.first.flatMap(NameAddress.init) else { return binding.source }
        return SIPPeer(uri: first.uri, otherwise: binding.source)
    }

    private func domain(of clientID: Int64) async -> String? {
        if let domain = domains[clientID] { return domain }
        // A read failure is not cached: the next call tries again.
        guard let domain = try? await store.client(id: clientID)?.domain else { return nil }
        domains[clientID] = domain
        return domain
    }

    private func phone(_ user: String, domain: String) async throws -> Phone {
        guard let client = try await store.client(domain: domain) else { return .noClient }
        guard let phone = try await store.extension(clientID: client.id, name: user), phone.kind == .phone else {
            return .noPhone(client, kind: try await store.extension(clientID: client.id, name: user)?.kind)
        }
        guard let credentials = try await store.sipCredentials(clientID: client.id, extensionID: phone.id) else {
            return .noPassword(client, extensionID: phone.id)
        }
        return .phone(client, PhoneSecrets(ha1MD5: credentials.ha1MD5, ha1SHA256: credentials.ha1SHA256))
    }
}

extension RegistrationState {
    func acceptNonceCount(_ credentials: DigestAuthenticator.Accepted) async throws -> Bool {
        try await acceptNonceCount(credentials.count, of: credentials.nonce, until: credentials.nonceExpiresAt)
    }
}
