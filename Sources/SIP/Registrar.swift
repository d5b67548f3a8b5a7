/// The registrar's rules (RFC 3261 §10.3, RFC 3327) as a value: who may register, which contacts
/// an address-of-record has, until when, and how each is reached — through the proxies of its
/// Path, or at the `Source` (the transport's address) its REGISTER came from. Looking up a
/// phone's HA1 is the caller's job (it is in storage); this value decides and answers.
public struct Registrar<Source: Sendable & Equatable>: Sendable {
    /// One contact of an address-of-record: one device. Each keeps how it is reached, so that
    /// one device's REGISTER (or un-REGISTER) never moves another's calls.
    public struct Binding: Sendable, Equatable {
        public var contact: String
        public var expiresAt: Int64
        public var callID: String
        public var sequence: UInt32
        /// The REGISTER's Path values (RFC 3327 §5.3), first hop first: the Route of requests to
        /// this contact. Empty when the phone registered directly.
        public var path: [String]
        /// Where the REGISTER came from: requests to a contact without Path go there, so a phone
        /// behind NAT is reached through the mapping its REGISTER opened.
        public var source: Source

        public init(contact: String, expiresAt: Int64, callID: String, sequence: UInt32, path: [String], source: Source) {
            self.contact = contact
            self.expiresAt = expiresAt
            self.callID = callID
            self.sequence = sequence
            self.path = path
            self.source = source
        }
    }

    public static var defaultExpiry: Int64 { 3600 }
    public static var minimumExpiry: Int64 { 60 }
    public static var maximumExpiry: Int64 { 7200 }

    private var authenticator: DigestAuthenticator
    private var bindings: [String: [Binding]] = [:]

    public init(authenticator: DigestAuthenticator) { self.authenticator = authenticator }

    /// The contacts `aor` (`user@domain`) can be reached at now.
    public func contacts(of aor: String, at now: Int64) -> [Binding] {
        (bindings[aor.lowercased()] ?? []).filter { $0.expiresAt > now }
    }

    public mutating func removeExpired(at now: Int64) {
        for (aor, list) in bindings {
            let live = list.filter { $0.expiresAt > now }
            bindings[aor] = live.isEmpty ? nil : live
        }
    }

    /// Answers a REGISTER for the phone `user` of the client whose domain (and realm) is `domain`;
    /// `secrets` is nil when there is no such phone or domain, or the phone has no password: the
    /// REGISTER is then challenged and refused (403) as with a wrong password.
    public mutating func handle(
        _ request: SIPMessage, user: String, domain: String, secrets: PhoneSecrets?, from source: Source, at now: Int64
    ) -> SIPMessage {
        switch check(request, user: user, domain: domain, secrets: secrets, at: now) {
        case .refused(let answer): answer
        case .accepted: bind(request, aor: "\(user)@\(domain)", from: source, at: now)
        }
    }

    /// The first half of `handle`: whether a REGISTER's credentials hold (their nonce count is
    /// used up then), or the challenge or refusal to answer.
    public mutating func check(_ request: SIPMessage, user: String, domain: String, secrets: PhoneSecrets?, at now: Int64)
        -> DigestAuthenticator.Verdict
    {
        authenticator.check(request, user: user, realm: domain, secrets: secrets, challenger: .registrar, toTag: Self.tag(request), at: now)
    }

    /// A challenge to a REGISTER whose nonce count another server took first (issue 12).
    public func staleChallenge(_ request: SIPMessage, domain: String, at now: Int64) -> SIPMessage {
        authenticator.staleChallenge(request, realm: domain, challenger: .registrar, toTag: Self.tag(request), at: now)
    }

    /// The second half of `handle`, for a REGISTER whose credentials hold: changes `aor`'s
    /// bindings as it asks and answers. Bindings kept elsewhere (shared by several servers) are
    /// put in first with `load`, and read back with `contacts(of:at:)`.
    public mutating func bind(_ request: SIPMessage, aor: String, from source: Source, at now: Int64) -> SIPMessage {
        updateBindings(request, aor: aor.lowercased(), from: source, at: now)
    }

    /// Puts in `aor`'s bindings as they are kept elsewhere, replacing those this value has.
    public mutating func load(_ list: [Binding], of aor: String) {
        bindings[aor.lowercased()] = list.isEmpty ? nil : list
    }

    private mutating func updateBindings(_ request: SIPMessage, aor: String, from source: Source, at now: Int64) -> SIPMessage {
        let callID = request.headers["Call-ID"] ?? ""
        let sequence = request.headers["CSeq"].flatMap(CSeq.init)?.number ?? 0
        let requestedContacts = request.headers.values("Contact")
        let headerExpiry = request.headers["Expires"].flatMap { Int64($0) }
        // Stored whether or not the phone says it supports Path: without it, requests to a phone
        // behind a proxy would bypass the proxy (RFC 3327 §5.3 lets the registrar use it).
        let path = request.headers.values("Path")
        var current = self.contacts(of: aor, at: now)

        if requestedContacts == ["*"] {
            // Removing every binding needs Expires: 0 and nothing else (RFC 3261 §10.3 step 6).
            guard headerExpiry == 0 else { return request.response(status: 400, reason: "Bad Request", toTag: Self.tag(request)) }
            bindings[aor] = nil
            return ok(request, bindings: [], at: now)
        }
        for contact in requestedContacts {
            guard let address = NameAddress(contact) else {
                return request.response(status: 400, reason: "Bad Request", toTag: Self.tag(request))
            }
            let requested = (address.parameters["expires"] ?? nil).flatMap { Int64($0) } ?? headerExpiry ?? Self.defaultExpiry
            if requested > 0, requested < Self.minimumExpiry {
                var response = request.response(status: 423, reason: "Interval Too Brief", toTag: Self.tag(request))
                response.headers.add("Min-Expires", String(Self.minimumExpiry))
                return response
            }
            let key = address.uri.description
            if let existing = current.firstIndex(where: { $0.contact == key }) {
                // An older or repeated REGISTER of the same registration changes nothing.
                if current[existing].callID == callID, current[existing].sequence >= sequence { continue }
                current.remove(at: existing)
            }
            if requested > 0 {
                current.append(Binding(
                    contact: key, expiresAt: now + min(requested, Self.maximumExpiry), callID: callID, sequence: sequence, path: path,
                    source: source))
            }
        }
        bindings[aor] = current.isEmpty ? nil : current
        return ok(request, bindings: current, at: now)
    }

    /// The 200 lists the address-of-record's bindings (RFC 3261 §10.3 step 8) and, when the
    /// phone said `Supported: path`, echoes the Path it came through (RFC 3327 §5.3), so the phone
    /// knows how it is reached.
    private func ok(_ request: SIPMessage, bindings: [Binding], at now: Int64) -> SIPMessage {
        var response = request.response(status: 200, reason: "OK", toTag: Self.tag(request))
        if request.headers.values("Supported").contains(where: { $0.lowercased() == "path" }) {
            for path in request.headers.values("Path") { response.headers.add("Path", path) }
        }
        for binding in bindings {
            response.headers.add("Contact", "<\(binding.contact)>;expires=\(binding.expiresAt - now)")
        }
        return response
    }

    /// A To tag derived from the Call-ID, so that retransmissions get the same one.
    public static func tag(_ request: SIPMessage) -> String {
        var hash: UInt64 = 14_695_981_039_346_656_037
        for byte in (request.headers["Call-ID"] ?? "").utf8 { hash = (hash ^ UInt64(byte)) &* 1_099_511_628_211 }
        return String(hash, radix: 36)
    }
}

/// A phone's stored secrets, by algorithm (`SIPCredentials` in storage): what a registrar and a
/// proxy challenge check credentials against.
public struct PhoneSecrets: Sendable, Equatable {
    public var ha1MD5: String
    public var ha1SHA256: String

    public init(ha1MD5: String, ha1SHA256: String) {
        self.ha1MD5 = ha1MD5
        self.ha1SHA256 = ha1SHA256
    }
}
