import Admission
import Crypto
import SIP
import Testing

/// Probes as a scanner, a password guesser and a flood would send them (issue "Security and
/// resilience at the edges"), against the real server on loopback.
@Suite struct EdgeSecurityTests {
    /// A REGISTER of `user@domain` from `peer`, with `authorization` when given.
    static func register(_ peer: UDPTestPeer, user: String, domain: String, cseq: Int, authorization: String? = nil) -> SIPMessage {
        var headers = [
            ("Via", "SIP/2.0/UDP \(peer.host):\(peer.port);branch=z9hG4bK-scan-\(user)-\(domain)-\(cseq)"),
            ("From", "<sip:\(user)@\(domain)>;tag=s"), ("To", "<sip:\(user)@\(domain)>"), ("Call-ID", "scan-\(user)-\(domain)"),
            ("CSeq", "\(cseq) REGISTER"), ("Max-Forwards", "70"), ("Contact", "<sip:\(user)@\(peer.host):\(peer.port)>"),
        ]
        if let authorization { headers.append(("Authorization", authorization)) }
        return .request("REGISTER", uri: "sip:\(domain)", headers)
    }

    /// Digest credentials (SHA-256, qop=auth) answering `challenge`.
    static func credentials(answering challenge: SIPMessage, header: String, user: String, password: String, method: String, uri: String) -> String {
        let value = challenge.headers.values(header).first ?? ""
        func parameter(_ name: String) -> String {
            String(value.split(separator: "\(name)=\"").last?.prefix { $0 != "\"" } ?? "")
        }
        let realm = parameter("realm")
        let nonce = parameter("nonce")
        func sha(_ text: String) -> String { SHA256.hash(data: Array(text.utf8)).map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined() }
        let response = sha("\(sha("\(user):\(realm):\(password)")):\(nonce):00000001:0a4f113b:auth:\(sha("\(method):\(uri)"))")
        return "Digest username=\"\(user)\", realm=\"\(realm)\", nonce=\"\(nonce)\", uri=\"\(uri)\", response=\"\(response)\", "
            + "algorithm=SHA-256, cnonce=\"0a4f113b\", qop=auth, nc=00000001"
    }

    /// The status line and the challenge's shape, without what is random (nonce, tags).
    static func shape(_ response: SIPMessage, realm: String) -> String {
        let challenges = (response.headers.values("WWW-Authenticate") + response.headers.values("Proxy-Authenticate"))
            .map { $0.replacingOccurrences(of: realm, with: "REALM").split(separator: "nonce=").first ?? "" }
        return "\(response.startLine) \(challenges)"
    }

    @Test func aScanLearnsNothingOfWhichPhonesAndDomainsExist() async throws {
        let fixture = try await TelephonyFixture(trunks: ["10.0.0.0/8"])
        defer { Task { await fixture.stop() } }
        var registerShapes: Set<String> = []
        var inviteShapes: Set<String> = []
        // An existing phone, a name the client does not have, a domain no client has.
        for (index, (user, domain)) in [("101", "acme.test"), ("999", "acme.test"), ("101", "nowhere.test")].enumerated() {
            let scanner = try await UDPTestPeer()
            try await scanner.send(Self.register(scanner, user: user, domain: domain, cseq: 1), to: fixture.sipPort)
            let challenge = try await scanner.message { $0.isResponse(401, to: "REGISTER") }
            let guess = Self.credentials(
                answering: challenge, header: "WWW-Authenticate", user: user, password: "guess", method: "REGISTER", uri: "sip:\(domain)")
            try await scanner.send(Self.register(scanner, user: user, domain: domain, cseq: 2, authorization: guess), to: fixture.sipPort)
            let refused = try await scanner.message { $0.isResponse(403, to: "REGISTER") }
            registerShapes.insert(Self.shape(challenge, realm: domain) + " / " + Self.shape(refused, realm: domain))

            let caller = try await UDPTestPeer()
            let callID = "scan-invite-\(index)"
            try await caller.send(
                fixture.invite("4930555099", from: caller, rtpPort: 4000, callID: callID, fromURI: "sip:\(user)@\(domain)"), to: fixture.sipPort)
            let proxyChallenge = try await caller.message { $0.isResponse(407, to: "INVITE") }
            var withCredentials = fixture.invite("4930555099", from: caller, rtpPort: 4000, callID: callID + "-2", fromURI: "sip:\(user)@\(domain)")
            withCredentials.headers.add("Proxy-Authorization", Self.credentials(
                answering: proxyChallenge, header: "Proxy-Authenticate", user: user, password: "guess", method: "INVITE",
                uri: "sip:4930555099@127.0.0.1:\(fixture.sipPort)"))
            try await caller.send(withCredentials, to: fixture.sipPort)
            let forbidden = try await caller.message { $0.isResponse(403, to: "INVITE") }
            inviteShapes.insert(Self.shape(proxyChallenge, realm: domain) + " / " + Self.shape(forbidden, realm: domain))
        }
        #expect(registerShapes.count == 1, "REGISTER answers differ: \(registerShapes)")
        #expect(inviteShapes.count == 1, "INVITE answers differ: \(inviteShapes)")
        #expect(try await fixture.finishedCalls().isEmpty)
    }

    /// A password guesser on one address is banned after `sourceFailures` wrong answers — even
    /// the right password is refused from there — while the real phone, on another address,
    /// registers throughout.
    @Test func aGuessingSourceIsBannedAndThePhoneElsewhereRegistersThroughout() async throws {
        let fixture = try await TelephonyFixture(
            bans: .init(sourceFailures: 5, accountFailures: 1_000, window: 60, firstBan: 600, longestBan: 600))
        defer { Task { await fixture.stop() } }
        let guesser = try await UDPTestPeer(host: "127.0.0.21")
        var refusedWithoutChallenge = 0
        for attempt in 0..<12 {
            try await guesser.send(Self.register(guesser, user: "101", domain: "acme.test", cseq: attempt * 2 + 1), to: fixture.sipPort)
            let answer = try await guesser.message(number: attempt * 2 + 1) { $0.isResponse(to: "REGISTER") }
            guard answer.status == 401 else {
                #expect(answer.status == 403)
                refusedWithoutChallenge += 1
                try await guesser.send(Self.register(guesser, user: "101", domain: "acme.test", cseq: attempt * 2 + 2), to: fixture.sipPort)
                _ = try await guesser.message(number: attempt * 2 + 2) { $0.isResponse(to: "REGISTER") }
                continue
            }
            let guess = Self.credentials(
                answering: answer, header: "WWW-Authenticate", user: "101", password: "guess-\(attempt)", method: "REGISTER", uri: "sip:acme.test")
            try await guesser.send(Self.register(guesser, user: "101", domain: "acme.test", cseq: attempt * 2 + 2, authorization: guess), to: fixture.sipPort)
            #expect(try await guesser.message(number: attempt * 2 + 2) { $0.isResponse(to: "REGISTER") }.status == 403)
            // The real phone, elsewhere, is unaffected at every step.
            let phone = try await UDPTestPeer(host: "127.0.0.22")
            try await fixture.registerPhone(phone)
        }
        // Five guesses, then every request of the source is refused unheard: no more challenges.
        #expect(refusedWithoutChallenge == 7)
        #expect(guesser.messages { $0.isResponse(401, to: "REGISTER") }.count == 5)
        // Even the right password is refused from the banned address.
        try await guesser.send(Self.register(guesser, user: "101", domain: "acme.test", cseq: 100), to: fixture.sipPort)
        #expect(try await guesser.message(number: 25) { $0.isResponse(to: "REGISTER") }.status == 403)
    }

    /// Behind a proxy of ours (a `--trunk` address), the phone behind it is banned, not the proxy.
    @Test func behindAProxyTheGuessingPhoneIsBannedNotTheProxy() async throws {
        let fixture = try await TelephonyFixture(bans: .init(sourceFailures: 2, accountFailures: 1_000, window: 60, firstBan: 600, longestBan: 600))
        defer { Task { await fixture.stop() } }
        let proxy = try await UDPTestPeer()
        func relayed(_ message: SIPMessage, phoneAddress: String) -> SIPMessage {
            var relayed = message
            let phoneVia = relayed.headers["Via"] ?? ""
            relayed.headers.set("Via", "SIP/2.0/UDP 127.0.0.1:\(proxy.port);branch=z9hG4bK-p\(UInt32.random(in: 1...UInt32.max))")
            relayed.headers.add("Via", phoneVia + ";received=\(phoneAddress)")
            return relayed
        }
        var count = 0
        for attempt in 0..<4 {
            try await proxy.send(relayed(Self.register(proxy, user: "101", domain: "acme.test", cseq: attempt * 2 + 1), phoneAddress: "198.51.100.7"), to: fixture.sipPort)
            count += 1
            let answer = try await proxy.message(number: count) { $0.isResponse(to: "REGISTER") }
            guard answer.status == 401 else { continue }
            let guess = Self.credentials(answering: answer, header: "WWW-Authenticate", user: "101", password: "x", method: "REGISTER", uri: "sip:acme.test")
            try await proxy.send(
                relayed(Self.register(proxy, user: "101", domain: "acme.test", cseq: attempt * 2 + 2, authorization: guess), phoneAddress: "198.51.100.7"),
                to: fixture.sipPort)
            count += 1
            _ = try await proxy.message(number: count) { $0.isResponse(to: "REGISTER") }
        }
        #expect(proxy.messages { $0.isResponse(401, to: "REGISTER") }.count == 2)
        // Another phone behind the same proxy still gets its challenge.
        try await proxy.send(relayed(Self.register(proxy, user: "102", domain: "acme.test", cseq: 1), phoneAddress: "198.51.100.8"), to: fixture.sipPort)
        _ = try await proxy.message { $0.isResponse(401, to: "REGISTER") && $0.headers["To"]?.contains("102@") == true }
    }

    /// Beyond the maximum of calls at once, and beyond the rate from one source, a new INVITE is
    /// answered 503 with Retry-After at once; a call placed once a place is free is answered.
    @Test func invitesBeyondTheLimitsGet503WithRetryAfter() async throws {
        let fixture = try await TelephonyFixture(callLimits: .init(maximumCalls: 2, callsPerSecond: 1_000, callsPerSecondPerSource: 1_000))
        defer { Task { await fixture.stop() } }
        let trunk = try await UDPTestPeer()
        let media = try await UDPTestPeer()
        for index in 0..<3 {
            try await trunk.send(fixture.invite("4930555099", from: trunk, rtpPort: media.port, callID: "limit-\(index)"), to: fixture.sipPort)
        }
        let refused = try await trunk.message { $0.isResponse(503, to: "INVITE") }
        #expect(refused.headers["Retry-After"] == "5")
        #expect(refused.startLine == .response(status: 503, reason: "Service Unavailable (too many calls)"))
        // The two others are answered (each Call-ID has its own lane: which one came third is
        // not fixed).
        for callID in ["limit-0", "limit-1", "limit-2"] where callID != refused.headers["Call-ID"] {
            _ = try await trunk.message { $0.isResponse(200, to: "INVITE") && $0.headers["Call-ID"] == callID }
        }
        #expect(Set(trunk.messages { $0.isResponse(503, to: "INVITE") }.map { $0.headers["Call-ID"] }).count == 1)

        let rateFixture = try await TelephonyFixture(callLimits: .init(maximumCalls: 100, callsPerSecond: 1_000, callsPerSecondPerSource: 2))
        defer { Task { await rateFixture.stop() } }
        let burst = try await UDPTestPeer(host: "127.0.0.23")
        let other = try await UDPTestPeer(host: "127.0.0.24")
        for index in 0..<4 {
            try await burst.send(rateFixture.invite("4930555099", from: burst, rtpPort: media.port, callID: "burst-\(index)"), to: rateFixture.sipPort)
        }
        try await other.send(rateFixture.invite("4930555099", from: other, rtpPort: media.port, callID: "other-0"), to: rateFixture.sipPort)
        let slowDown = try await burst.message { $0.isResponse(503, to: "INVITE") }
        #expect(slowDown.headers["Retry-After"] != nil)
        #expect(slowDown.startLine == .response(status: 503, reason: "Service Unavailable (too many new calls per second from this address)"))
        // The other trunk's call is not held back by the first one's burst.
        _ = try await other.message { $0.isResponse(200, to: "INVITE") }
    }
}
