import Crypto
import SIP
import Testing

@Suite struct RegistrarTests {
    let nonces = DigestNonces(secret: Array("test secret".utf8))
    let secrets = PhoneSecrets(
        ha1MD5: DigestCredentials.ha1(username: "101", realm: "acme.local", password: "s3cret-pass", algorithm: .md5),
        ha1SHA256: DigestCredentials.ha1(username: "101", realm: "acme.local", password: "s3cret-pass", algorithm: .sha256))

    func register(
        contact: String = "<sip:101@127.0.0.1:5062>", expires: String? = nil, cseq: UInt32 = 1, authorization: String? = nil,
        callID: String = "reg-1", extra: [(String, String)] = []
    ) -> SIPMessage {
        var headers = SIPHeaders([
            ("Via", "SIP/2.0/UDP 127.0.0.1:5062;branch=z9hG4bK-r\(cseq)"), ("From", "<sip:101@acme.local>;tag=p1"),
            ("To", "<sip:101@acme.local>"), ("Call-ID", callID), ("CSeq", "\(cseq) REGISTER"), ("Contact", contact),
        ])
        for (name, value) in extra { headers.add(name, value) }
        if let expires { headers.add("Expires", expires) }
        if let authorization { headers.add("Authorization", authorization) }
        return SIPMessage(startLine: .request(method: "REGISTER", uri: "sip:acme.local"), headers: headers)
    }

    func md5(_ text: String) -> String { Insecure.MD5.hash(data: Array(text.utf8)).map { String(format: "%02x", $0) }.joined() }

    /// What a phone answers a challenge with (MD5, qop=auth).
    /// `count`: the nonce count (`nc`), one more for each request a phone sends with one nonce.
    func authorization(nonce: String, password: String = "s3cret-pass", username: String = "101", count: Int = 1) -> String {
        let nc = String(format: "%08x", count)
        let ha1 = md5("\(username):acme.local:\(password)")
        let ha2 = md5("REGISTER:sip:acme.local")
        let response = md5("\(ha1):\(nonce):\(nc):c0ffee:auth:\(ha2)")
        return "Digest username=\"\(username)\", realm=\"acme.local\", nonce=\"\(nonce)\", uri=\"sip:acme.local\", "
            + "response=\"\(response)\", algorithm=MD5, cnonce=\"c0ffee\", qop=auth, nc=\(nc)"
    }

    func nonce(of response: SIPMessage) -> String {
        let challenge = response.headers.values("WWW-Authenticate").last ?? ""
        return String(challenge.split(separator: "nonce=\"")[1].prefix { $0 != "\"" })
    }

    @Test func challengesThenRegistersWithDigest() {
        var registrar = Registrar<String>(authenticator: DigestAuthenticator(nonces: nonces))
        let challenge = registrar.handle(register(), user: "101", domain: "acme.local", secrets: secrets, from: "phone", at: 1_000)
        #expect(challenge.status == 401)
        #expect(challenge.headers.values("WWW-Authenticate").map { $0.contains("algorithm=MD5") } == [true], "MD5 alone by default")
        let ok = registrar.handle(
            register(cseq: 2, authorization: authorization(nonce: nonce(of: challenge))), user: "101", domain: "acme.local",
            secrets: secrets, from: "phone", at: 1_001)
        #expect(ok.status == 200)
        #expect(ok.headers.values("Contact") == ["<sip:101@127.0.0.1:5062>;expires=3600"])
        #expect(registrar.contacts(of: "101@ACME.local", at: 1_002).map(\.contact) == ["sip:101@127.0.0.1:5062"])
        #expect(registrar.contacts(of: "101@acme.local", at: 4_601).isEmpty, "a binding ends when it expires")
    }

    @Test func aWrongPasswordIsForbiddenAndRegistersNothing() {
        var registrar = Registrar<String>(authenticator: DigestAuthenticator(nonces: nonces))
        let response = registrar.handle(
            register(authorization: authorization(nonce: nonces.make(at: 1_000), password: "guess")), user: "101", domain: "acme.local",
            secrets: secrets, from: "phone", at: 1_000)
        #expect(response.status == 403)
        #expect(registrar.contacts(of: "101@acme.local", at: 1_000).isEmpty)
        let otherUser = registrar.handle(
            register(authorization: authorization(nonce: nonces.make(at: 1_000), username: "102")), user: "101", domain: "acme.local",
            secrets: secrets, from: "phone", at: 1_000)
        #expect(otherUser.status == 403)
    }

    /// A scan learns nothing: a phone that does not exist is challenged, and its credentials
    /// refused, with the same answers as an existing phone's wrong password.
    @Test func anUnknownPhoneIsAnsweredLikeAWrongPassword() {
        var registrar = Registrar<String>(authenticator: DigestAuthenticator(nonces: nonces))
        let unknownChallenge = registrar.handle(register(), user: "999", domain: "acme.local", secrets: nil, from: "phone", at: 1_000)
        let knownChallenge = registrar.handle(register(), user: "101", domain: "acme.local", secrets: secrets, from: "phone", at: 1_000)
        #expect(unknownChallenge.status == 401 && knownChallenge.status == 401)
        #expect(unknownChallenge.startLine == knownChallenge.startLine)
        #expect(unknownChallenge.headers.values("WWW-Authenticate").count == knownChallenge.headers.values("WWW-Authenticate").count)
        let unknown = registrar.handle(
            register(authorization: authorization(nonce: nonces.make(at: 1_000))), user: "101", domain: "acme.local", secrets: nil,
            from: "phone", at: 1_000)
        let wrong = registrar.handle(
            register(authorization: authorization(nonce: nonces.make(at: 1_000), password: "guess")), user: "101", domain: "acme.local",
            secrets: secrets, from: "phone", at: 1_000)
        #expect(unknown.status == 403 && unknown.startLine == wrong.startLine)
        #expect(registrar.contacts(of: "101@acme.local", at: 1_000).isEmpty)
    }

    @Test func staleAndForgedNonces() {
        var registrar = Registrar<String>(authenticator: DigestAuthenticator(nonces: nonces))
        let stale = registrar.handle(
            register(authorization: authorization(nonce: nonces.make(at: 1_000))), user: "101", domain: "acme.local", secrets: secrets, from: "phone", at: 2_000)
        #expect(stale.status == 401 && stale.headers["WWW-Authenticate"]?.contains("stale=TRUE") == true)
        let forged = registrar.handle(
            register(authorization: authorization(nonce: "3e8.deadbeef")), user: "101", domain: "acme.local", secrets: secrets, from: "phone", at: 1_000)
        #expect(forged.status == 401 && forged.headers["WWW-Authenticate"]?.contains("stale") == false)
    }

    @Test func expiryRules() {
        var registrar = Registrar<String>(authenticator: DigestAuthenticator(nonces: nonces))
        let nonce = nonces.make(at: 1_000)
        func auth(_ count: Int) -> String { authorization(nonce: nonce, count: count) }
        let brief = registrar.handle(register(expires: "30", authorization: auth(1)), user: "101", domain: "acme.local", secrets: secrets, from: "phone", at: 1_000)
        #expect(brief.status == 423 && brief.headers["Min-Expires"] == "60")
        let long = registrar.handle(
            register(contact: "<sip:101@127.0.0.1:5062>;expires=99999", cseq: 2, authorization: auth(2)), user: "101", domain: "acme.local",
            secrets: secrets, from: "phone", at: 1_000)
        #expect(long.headers.values("Contact") == ["<sip:101@127.0.0.1:5062>;expires=7200"])
        let removed = registrar.handle(
            register(expires: "0", cseq: 3, authorization: auth(3)), user: "101", domain: "acme.local", secrets: secrets, from: "phone", at: 1_001)
        #expect(removed.status == 200 && removed.headers.values("Contact").isEmpty)
        #expect(registrar.contacts(of: "101@acme.local", at: 1_001).isEmpty)
        _ = registrar.handle(register(cseq: 4, authorization: auth(4)), user: "101", domain: "acme.local", secrets: secrets, from: "phone", at: 1_002)
        let all = registrar.handle(
            register(contact: "*", expires: "0", cseq: 5, authorization: auth(5)), user: "101", domain: "acme.local", secrets: secrets, from: "phone", at: 1_003)
        #expect(all.status == 200)
        #expect(registrar.contacts(of: "101@acme.local", at: 1_003).isEmpty)
        let starWithoutZero = registrar.handle(
            register(contact: "*", cseq: 6, authorization: auth(6)), user: "101", domain: "acme.local", secrets: secrets, from: "phone", at: 1_004)
        #expect(starWithoutZero.status == 400)
    }

    @Test func pathIsStoredPerBindingAndEchoedWhenThePhoneSupportsIt() {
        var registrar = Registrar<String>(authenticator: DigestAuthenticator(nonces: nonces))
        let nonce = nonces.make(at: 1_000)
        let path = [("Path", "<sip:127.0.0.20:5060;lr;received=sip:192.0.2.7:5062>"), ("Path", "<sip:edge.example;lr>")]
        let supporting = registrar.handle(
            register(authorization: authorization(nonce: nonce, count: 1), extra: path + [("Supported", "replaces, path")]), user: "101", domain: "acme.local",
            secrets: secrets, from: "proxy", at: 1_000)
        #expect(supporting.status == 200)
        #expect(supporting.headers.values("Path") == ["<sip:127.0.0.20:5060;lr;received=sip:192.0.2.7:5062>", "<sip:edge.example;lr>"])
        let binding = registrar.contacts(of: "101@acme.local", at: 1_000).first
        #expect(binding?.path == ["<sip:127.0.0.20:5060;lr;received=sip:192.0.2.7:5062>", "<sip:edge.example;lr>"])
        #expect(binding?.source == "proxy")

        let silent = registrar.handle(
            register(cseq: 2, authorization: authorization(nonce: nonce, count: 2), extra: path), user: "101", domain: "acme.local", secrets: secrets, from: "proxy",
            at: 1_001)
        #expect(silent.status == 200 && silent.headers.values("Path").isEmpty, "no Path echoed to a phone that did not say it supports it")
        #expect(registrar.contacts(of: "101@acme.local", at: 1_001).first?.path.count == 2, "still stored and used")
    }

    @Test func eachDeviceKeepsItsOwnSourceAndAnUnregisterRemovesOnlyItsOwn() {
        var registrar = Registrar<String>(authenticator: DigestAuthenticator(nonces: nonces))
        let nonce = nonces.make(at: 1_000)
        _ = registrar.handle(
            register(contact: "<sip:101@10.0.0.1:5062>", authorization: authorization(nonce: nonce, count: 1), callID: "desk"), user: "101", domain: "acme.local",
            secrets: secrets, from: "desk phone", at: 1_000)
        _ = registrar.handle(
            register(contact: "<sip:101@10.0.0.2:5062>", authorization: authorization(nonce: nonce, count: 2), callID: "soft"), user: "101", domain: "acme.local",
            secrets: secrets, from: "softphone", at: 1_001)
        #expect(registrar.contacts(of: "101@acme.local", at: 1_002).map(\.source) == ["desk phone", "softphone"])

        let gone = registrar.handle(
            register(contact: "<sip:101@10.0.0.1:5062>", expires: "0", cseq: 2, authorization: authorization(nonce: nonce, count: 3), callID: "desk"), user: "101",
            domain: "acme.local", secrets: secrets, from: "desk phone", at: 1_003)
        #expect(gone.status == 200)
        let left = registrar.contacts(of: "101@acme.local", at: 1_003)
        #expect(left.map(\.contact) == ["sip:101@10.0.0.2:5062"] && left.map(\.source) == ["softphone"])
    }

    /// A REGISTER captured once and played again, from elsewhere with another Contact, must not
    /// take over the phone: its nonce count was used already (RFC 7616 §3.4.1), so it gets a
    /// fresh challenge (`stale=TRUE`) and binds nothing. The phone's next count is accepted.
    @Test func aReplayedRegisterIsChallengedAgainAndBindsNothing() {
        var registrar = Registrar<String>(authenticator: DigestAuthenticator(nonces: nonces))
        let nonce = nonces.make(at: 1_000)
        let captured = authorization(nonce: nonce, count: 1)
        #expect(registrar.handle(register(authorization: captured), user: "101", domain: "acme.local", secrets: secrets, from: "phone", at: 1_000).status == 200)
        let replay = registrar.handle(
            register(contact: "<sip:101@203.0.113.66:5060>", cseq: 9, authorization: captured, callID: "attacker"), user: "101",
            domain: "acme.local", secrets: secrets, from: "attacker", at: 1_010)
        #expect(replay.status == 401 && replay.headers["WWW-Authenticate"]?.contains("stale=TRUE") == true)
        #expect(registrar.contacts(of: "101@acme.local", at: 1_010).map(\.source) == ["phone"])
        let next = registrar.handle(
            register(cseq: 2, authorization: authorization(nonce: nonce, count: 2)), user: "101", domain: "acme.local", secrets: secrets,
            from: "phone", at: 1_020)
        #expect(next.status == 200)
    }

    @Test func responsesCarryTheRequestsIdentityAndAToTag() {
        var registrar = Registrar<String>(authenticator: DigestAuthenticator(nonces: nonces))
        let response = registrar.handle(register(), user: "101", domain: "acme.local", secrets: secrets, from: "phone", at: 1_000)
        #expect(response.headers["Call-ID"] == "reg-1" && response.headers["CSeq"] == "1 REGISTER")
        #expect(response.headers["Via"] == "SIP/2.0/UDP 127.0.0.1:5062;branch=z9hG4bK-r1")
        #expect(NameAddress(response.headers["To"] ?? "")?.tag != nil)
    }

    /// What a phone that does SHA-256 answers a challenge with (qop=auth).
    func sha256Authorization(nonce: String) -> String {
        func sha256(_ text: String) -> String { SHA256.hash(data: Array(text.utf8)).map { String(format: "%02x", $0) }.joined() }
        let ha1 = sha256("101:acme.local:s3cret-pass")
        let response = sha256("\(ha1):\(nonce):00000001:c0ffee:auth:\(sha256("REGISTER:sip:acme.local"))")
        return "Digest username=\"101\", realm=\"acme.local\", nonce=\"\(nonce)\", uri=\"sip:acme.local\", "
            + "response=\"\(response)\", algorithm=SHA-256, cnonce=\"c0ffee\", qop=auth, nc=00000001"
    }

    @Test func configuredAlgorithmsAreOfferedInTheirOrderAndOnlyTheyAreAccepted() {
        var both = Registrar<String>(authenticator: DigestAuthenticator(nonces: nonces, algorithms: [.sha256, .md5]))
        let challenge = both.handle(register(), user: "101", domain: "acme.local", secrets: secrets, from: "phone", at: 1_000)
        #expect(challenge.headers.values("WWW-Authenticate").map { $0.contains("algorithm=SHA-256") } == [true, false])
        let nonce = nonce(of: challenge)
        #expect(both.handle(register(cseq: 2, authorization: sha256Authorization(nonce: nonce)), user: "101",
                            domain: "acme.local", secrets: secrets, from: "phone", at: 1_001).status == 200)
        #expect(both.handle(register(cseq: 3, authorization: authorization(nonce: nonce, count: 2)), user: "101",
                            domain: "acme.local", secrets: secrets, from: "phone", at: 1_001).status == 200)

        var md5Only = Registrar<String>(authenticator: DigestAuthenticator(nonces: nonces))
        let unoffered = md5Only.handle(register(authorization: sha256Authorization(nonce: nonce)), user: "101",
                                       domain: "acme.local", secrets: secrets, from: "phone", at: 1_001)
        #expect(unoffered.status == 401, "credentials in an algorithm not offered are challenged again")
        #expect(md5Only.contacts(of: "101@acme.local", at: 1_001).isEmpty)
    }

    @Test func algorithmListsAsTheCommandLineGivesThem() {
        #expect(DigestAlgorithm.list("MD5") == [.md5])
        #expect(DigestAlgorithm.list("sha-256, md5") == [.sha256, .md5])
        #expect(DigestAlgorithm.list("") == nil)
        #expect(DigestAlgorithm.list("MD5,MD5") == nil)
        #expect(DigestAlgorithm.list("SHA-512") == nil)
    }

    /// What a TCP connection carrying the registration is kept open for (RFC 3261 §10.3 step 8).
    @Test func aRegistrationsLifetimeIsItsLongestContact() {
        var ok = register().response(status: 200, reason: "OK", toTag: "r")
        ok.headers.add("Contact", "<sip:101@127.0.0.1:5062>;expires=600")
        ok.headers.add("Contact", "<sip:101@127.0.0.1:5064>;expires=3600")
        #expect(ok.registrationLifetime == 3600)
        var headerOnly = register().response(status: 200, reason: "OK", toTag: "r")
        headerOnly.headers.add("Contact", "<sip:101@127.0.0.1:5062>")
        headerOnly.headers.add("Expires", "120")
        #expect(headerOnly.registrationLifetime == 120)
        #expect(register().response(status: 401, reason: "Unauthorized", toTag: "r").registrationLifetime == nil)
        #expect(register().registrationLifetime == nil)
    }
}
