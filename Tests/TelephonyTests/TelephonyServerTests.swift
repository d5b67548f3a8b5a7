import Admission
import Audio
import CallFlow
import CallRunner
import Crypto
import Domain
import Logging
import Media
import SIP
import SIPTransport
import Storage
import Telephony
import TestSupport
import Testing

/// A server with SIP on a free loopback port over a real SQLite file: client `acme.test` with
/// phones 101 and 102 (password `s3cret-pass`), voice menu 099 that rates the call (1…9) on DID
/// 4930555099, queue 200 (agent 101, rating when the agent hangs up) on DID 4930555200, queue
/// 210 ringing 101 and 102 at once on DID 4930555210.
struct TelephonyFixture {
    let database: TestStore
    var store: any Store { database.store }
    let client: Client
    let menu: Extension
    /// Phones 101 and 102.
    let phones: [Extension]
    let server: TelephonyServer
    let calls: CallCenter
    let sipPort: Int
    /// The server's `run()` and the calls' tasks, as the service group runs them.
    let running: Task<Void, Never>
    let tasks: CallTasks

    static let password = "s3cret-pass"

    /// `timers`: shorter SIP timers for the tests that wait for one to fire (a 2xx never ACKed).
    init(
        trunks: [String] = ["127.0.0.0/8"], timers: SIPTimerValues = .standard,
        callLimits: CallAdmission<String>.Limits = .init(maximumCalls: 1_000, callsPerSecond: 1_000, callsPerSecondPerSource: 1_000),
        bans: AuthenticationBans<String>.Policy = .standard
    ) async throws {
        database = try await TestStore()
        let store = database.store
        client = try await store.createClient(name: "Acme", timezone: "Europe/Berlin", domain: "acme.test")
        var phones: [Extension] = []
        for name in ["101", "102"] {
            phones.append(try await store.createExtension(
                NewExtension(clientID: client.id, name: name, kind: .phone, label: "Agent \(name)"), status: .active,
                credentials: SIPCredentials(
                    ha1MD5: DigestCredentials.ha1(username: name, realm: "acme.test", password: Self.password, algorithm: .md5),
                    ha1SHA256: DigestCredentials.ha1(username: name, realm: "acme.test", password: Self.password, algorithm: .sha256))))
        }
        self.phones = phones
        menu = try await store.createExtension(
            NewExtension(clientID: client.id, name: "099", kind: .ivr, label: "Feedback"), status: .active, credentials: nil)
        let context = try await store.createIVRContext(clientID: client.id, ivrID: menu.id, .init(name: "main"))
        _ = try await store.createIVRRule(
            clientID: client.id, ivrID: menu.id, contextID: context.id, option: "start", position: nil,
            IVRRuleDefinition(action: .qualityRate(sound: 0, maxRate: 9, finishSound: 0)))
        _ = try await store.createDID(NewDID(clientID: client.id, number: "4930555099", extensionID: menu.id, comment: ""))
        let queue = try await store.createExtension(
            NewExtension(clientID: client.id, name: "200", kind: .queue, label: "Support"), status: .active, credentials: nil)
        _ = try await store.addQueueAgent(clientID: client.id, queueID: queue.id, agentID: phones[0].id)
        var options = QueueOptions()
        options.agentHangupAction = .qualityRate
        try await store.updateQueueOptions(clientID: client.id, queueID: queue.id, options)
        _ = try await store.createDID(NewDID(clientID: client.id, number: "4930555200", extensionID: queue.id, comment: ""))
        let ringAll = try await store.createExtension(
            NewExtension(clientID: client.id, name: "210", kind: .queue, label: "Everyone"), status: .active, credentials: nil)
        for phone in phones { _ = try await store.addQueueAgent(clientID: client.id, queueID: ringAll.id, agentID: phone.id) }
        options.strategy = .ringAll
        try await store.updateQueueOptions(clientID: client.id, queueID: ringAll.id, options)
        _ = try await store.createDID(NewDID(clientID: client.id, number: "4930555210", extensionID: ringAll.id, comment: ""))

        let logger = Logger(label: "telephony-test")
        // SHA-256 offered (first) so the phones here answer in it; the default, MD5 alone, is the
        // registrar's own test and the end-to-end tests'.
        let registrations = PhoneRegistrations(
            store: store, nonceSecret: Array("test nonce secret".utf8), digestAlgorithms: [.sha256, .md5], bans: bans, logger: logger)
        let firstPort = 30_000 + Int.random(in: 0..<300) * 100
        let tasks = CallTasks()
        server = TelephonyServer(
            endpoint: SIPEndpoint(host: "127.0.0.1", port: 0, timers: timers, logger: logger),
            media: MediaServer(host: "127.0.0.1", ports: firstPort...(firstPort + 99), logger: logger),
            registrations: registrations, store: store,
            settings: TelephonySettings(advertisedHost: "127.0.0.1", sipPort: 0, trunks: trunks.compactMap(AddressRange.init)),
            gate: CallGate(limits: callLimits), tasks: tasks, logger: logger)
        let directory = StoreCallDirectory(store: store)
        calls = CallCenter(
            services: CallServices(
                store: store, directory: directory, queues: QueueRegistry(directory: directory, reachability: registrations, state: store.queueState),
                interactive: HTTPInteractiveClient(), timers: tasks, logger: logger),
            telephony: server)
        try await server.start(calls: calls)
        sipPort = await server.sipPort
        let server = server
        running = Task {
            await withDiscardingTaskGroup { group in
                group.addTask { await tasks.run() }
                await server.run()
            }
        }
        self.tasks = tasks
    }

    /// As the service group stops them: telephony (no drain time: the calls still up are ended
    /// at once), then what is left of the calls' work.
    func stop() async {
        await server.stop(drainingFor: .zero)
        tasks.finish()
        await running.value
    }

    /// An INVITE from `peer` to `number`, offering PCMU and telephone-event on `eventType`, media at
    /// `mediaAddress`:`rtpPort`.
    func invite(
        _ number: String, from peer: UDPTestPeer, rtpPort: Int, callID: String, eventType: Int = 101,
        fromURI: String = "sip:+4930111222@trunk.example", mediaAddress: String = "127.0.0.1"
    ) -> SIPMessage {
        let sdp = "v=0\r\no=- 1 1 IN IP4 \(mediaAddress)\r\ns=-\r\nc=IN IP4 \(mediaAddress)\r\nt=0 0\r\nm=audio \(rtpPort) RTP/AVP 0 \(eventType)\r\n"
            + "a=rtpmap:\(eventType) telephone-event/8000\r\na=sendrecv\r\n"
        return .request("INVITE", uri: "sip:\(number)@127.0.0.1:\(sipPort)", [
            ("Via", "SIP/2.0/UDP 127.0.0.1:\(peer.port);branch=z9hG4bK-\(callID)"), ("Max-Forwards", "70"),
            ("From", "<\(fromURI)>;tag=caller"), ("To", "<sip:\(number)@127.0.0.1>"), ("Call-ID", callID), ("CSeq", "1 INVITE"),
            ("Contact", "<sip:caller@127.0.0.1:\(peer.port)>"), ("Content-Type", "application/sdp"),
        ], body: sdp)
    }

    /// A REGISTER of phone `name` whose Contact is `contactPort` (by default the sender's port);
    /// `extra` headers (Path, Supported) as a proxy in front would add them.
    func register(
        _ phone: UDPTestPeer, as name: String = "101", cseq: Int, authorization: String? = nil, contactPort: Int? = nil,
        extra: [(String, String)] = []
    ) -> SIPMessage {
        let device = contactPort ?? phone.port
        var headers = [
            ("Via", "SIP/2.0/UDP 127.0.0.1:\(phone.port);branch=z9hG4bK-reg\(name)-\(device)-\(cseq)"),
            ("From", "<sip:\(name)@acme.test>;tag=p"), ("To", "<sip:\(name)@acme.test>"), ("Call-ID", "reg-\(name)-\(device)"),
            ("CSeq", "\(cseq) REGISTER"), ("Max-Forwards", "70"), ("Contact", "<sip:\(name)@127.0.0.1:\(device)>"),
        ] + extra
        if let authorization { headers.append(("Authorization", authorization)) }
        return .request("REGISTER", uri: "sip:acme.test", headers)
    }

    /// Registers phone `name` at `phone`'s address (or, through a proxy `phone`, with the Contact
    /// `contactPort` and the proxy's `extra` headers); the 200.
    @discardableResult
    func registerPhone(_ phone: UDPTestPeer, as name: String = "101", contactPort: Int? = nil, extra: [(String, String)] = []) async throws
        -> SIPMessage
    {
        let device = contactPort ?? phone.port
        try await phone.send(register(phone, as: name, cseq: 1, contactPort: contactPort, extra: extra), to: sipPort)
        let challenge = try await phone.message { $0.isResponse(401, to: "REGISTER") && $0.headers["Call-ID"] == "reg-\(name)-\(device)" }
        let nonce = challenge.headers.values("WWW-Authenticate").first?.split(separator: "nonce=\"").last?.prefix { $0 != "\"" } ?? ""
        let authorization = TelephonyServerTests.digest(nonce: String(nonce), password: Self.password, user: name)
        try await phone.send(register(phone, as: name, cseq: 2, authorization: authorization, contactPort: contactPort, extra: extra), to: sipPort)
        return try await phone.message { $0.isResponse(200, to: "REGISTER") && $0.headers["Call-ID"] == "reg-\(name)-\(device)" }
    }

    /// A phone's 200 to an INVITE it received, with its media at `mediaPort` (PCMA, events 101).
    func answer(_ invite: SIPMessage, phone: UDPTestPeer, mediaPort: Int, tag: String = "agent") -> SIPMessage {
        var answered = invite.response(status: 200, reason: "OK", toTag: tag)
        answered.headers.add("Contact", "<sip:phone@127.0.0.1:\(phone.port)>")
        answered.headers.add("Content-Type", "application/sdp")
        answered.body = Array(
            "v=0\r\no=- 2 2 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio \(mediaPort) RTP/AVP 8 101\r\na=rtpmap:101 telephone-event/8000\r\n".utf8)
        return answered
    }

    /// A phone's side of the CANCEL of `invite` (RFC 3261 §9.2): the CANCEL names the INVITE's
    /// transaction (its Via); the phone answers it 200 and the INVITE 487, and the server ACKs
    /// the 487.
    func acceptCancel(of invite: SIPMessage, at phone: UDPTestPeer, tag: String) async throws {
        let cancel = try await phone.message(within: 20) { $0.method == "CANCEL" && $0.headers["Call-ID"] == invite.headers["Call-ID"] }
        #expect(cancel.headers["Via"] == invite.headers["Via"])
        try await phone.send(cancel.response(status: 200, reason: "OK"), to: sipPort)
        try await phone.send(invite.response(status: 487, reason: "Request Terminated", toTag: tag), to: sipPort)
        _ = try await phone.message { $0.method == "ACK" && $0.headers["Call-ID"] == invite.headers["Call-ID"] }
    }

    /// A request of the caller inside its dialog with the server.
    func inDialog(_ method: String, cseq: Int, from caller: UDPTestPeer, toTag: String, callID: String) -> SIPMessage {
        .request(method, uri: "sip:qualityrate@127.0.0.1:\(sipPort)", [
            ("Via", "SIP/2.0/UDP 127.0.0.1:\(caller.port);branch=z9hG4bK-\(method)\(cseq)\(callID)"),
            ("From", "<sip:+4930111222@trunk.example>;tag=caller"), ("To", "<sip:x@127.0.0.1>;tag=\(toTag)"), ("Call-ID", callID),
            ("CSeq", "\(cseq) \(method)"), ("Max-Forwards", "70"),
        ])
    }

    /// The agent phone's BYE in the dialog of the INVITE it answered (tag `agent`).
    func agentBye(ringing: SIPMessage, phone: UDPTestPeer) -> SIPMessage {
        .request("BYE", uri: "sip:qualityrate@127.0.0.1:\(sipPort)", [
            ("Via", "SIP/2.0/UDP 127.0.0.1:\(phone.port);branch=z9hG4bK-agentbye"),
            ("From", "<sip:101@acme.test>;tag=agent"), ("To", ringing.headers["From"] ?? ""), ("Call-ID", ringing.headers["Call-ID"] ?? ""),
            ("CSeq", "1 BYE"), ("Max-Forwards", "70"),
        ])
    }

    /// The call histories written, once there is at least one (waiting up to 10 s).
    func finishedCalls() async throws -> [CallRecord] {
        for _ in 0..<1_000 {
            let calls = try await store.calls(CallQuery(clientID: client.id, limit: 100))
            if !calls.isEmpty { return calls }
            try await Task.sleep(for: .milliseconds(10))
        }
        return []
    }

    /// The calls still running, after giving them up to 5 s to end.
    func callsRunningOnceSettled() async -> Int {
        for _ in 0..<500 where await calls.count > 0 { try? await Task.sleep(for: .milliseconds(10)) }
        return await calls.count
    }

    func ratings() async throws -> [Rating] { try await store.ratings(RatingQuery(clientID: client.id, limit: 100)) }
}

@Suite struct TelephonyServerTests {
    @Test func aTrunkCallToARatingMenuHearsThePromptAndItsInfoKeyIsStored() async throws {
        let fixture = try await TelephonyFixture()
        defer { Task { await fixture.stop() } }
        let caller = try await UDPTestPeer()
        let media = try await UDPTestPeer()
        let invite = fixture.invite("4930555099", from: caller, rtpPort: media.port, callID: "ivr-info-1")
        try await caller.send(invite, to: fixture.sipPort)

        let ok = try await caller.message { $0.isResponse(200, to: "INVITE") }
        let answer = try #require(SessionDescription(parsing: ok.body))
        #expect(answer.formats.map(\.payloadType) == [0, 101])
        let toTag = try #require(ok.headers["To"].flatMap(NameAddress.init)?.tag)
        try await caller.send(.request("ACK", uri: "sip:qualityrate@127.0.0.1:\(fixture.sipPort)", [
            ("Via", "SIP/2.0/UDP 127.0.0.1:\(caller.port);branch=z9hG4bK-ack1"), ("From", "<sip:+4930111222@trunk.example>;tag=caller"),
            ("To", "<sip:4930555099@127.0.0.1>;tag=\(toTag)"), ("Call-ID", "ivr-info-1"), ("CSeq", "1 ACK"), ("Max-Forwards", "70"),
        ]), to: fixture.sipPort)

        // The rating prompt arrives as RTP from the port the answer named.
        let packets = try await media.datagrams(atLeast: 5).prefix(5).compactMap(RTPHeader.init)
        #expect(packets.count == 5 && packets.allSatisfy { $0.payloadType == 0 })
        #expect(packets.first?.marker == true)

        try await caller.send(.request("INFO", uri: "sip:qualityrate@127.0.0.1:\(fixture.sipPort)", [
            ("Via", "SIP/2.0/UDP 127.0.0.1:\(caller.port);branch=z9hG4bK-info1"), ("From", "<sip:+4930111222@trunk.example>;tag=caller"),
            ("To", "<sip:4930555099@127.0.0.1>;tag=\(toTag)"), ("Call-ID", "ivr-info-1"), ("CSeq", "2 INFO"), ("Max-Forwards", "70"),
            ("Content-Type", "application/dtmf-relay"),
        ], body: "Signal=4\r\nDuration=160\r\n"), to: fixture.sipPort)
        _ = try await caller.message { $0.isResponse(200, to: "INFO") }

        // After the finish prompt the server hangs up.
        let bye = try await caller.message(within: 20) { $0.method == "BYE" }
        try await caller.send(bye.response(status: 200, reason: "OK"), to: fixture.sipPort)
        let rating = try #require(try await fixture.ratings().first)
        #expect(rating.rate == 4 && rating.maxRate == 9 && rating.extensionID == fixture.menu.id && rating.agentUsername == nil)
        // The call's history is written as the call ends, just after its BYE.
        #expect(try await fixture.finishedCalls().map(\.callUUID) == [rating.callUUID])
        #expect(await fixture.callsRunningOnceSettled() == 0, "a finished call leaves the call center")
    }

    @Test func aCallerBehindNATHearsThePromptWhereItsRTPComesFrom() async throws {
        let fixture = try await TelephonyFixture()
        defer { Task { await fixture.stop() } }
        let caller = try await UDPTestPeer()
        let media = try await UDPTestPeer()
        // The SDP names an address that is not the caller's (as a phone behind NAT names its
        // private one); nothing listens there.
        try await caller.send(
            fixture.invite("4930555099", from: caller, rtpPort: 4000, callID: "nat-1", mediaAddress: "127.0.0.2"), to: fixture.sipPort)
        let ok = try await caller.message { $0.isResponse(200, to: "INVITE") }
        let serverMedia = try #require(SessionDescription(parsing: ok.body)).audioPort
        let toTag = try #require(ok.headers["To"].flatMap(NameAddress.init)?.tag)
        try await caller.send(fixture.inDialog("ACK", cseq: 1, from: caller, toTag: toTag, callID: "nat-1"), to: fixture.sipPort)

        // The caller's RTP, streamed as a phone does, leaves the NAT from the host its SIP came
        // from: the prompt follows it.
        var sequence: UInt16 = 0
        while media.datagrams.count < 3 && sequence < 500 {
            sequence += 1
            let frame = Self.rtp(payloadType: 0, sequence: sequence, timestamp: 160 * UInt32(sequence), payload: Array(repeating: 0xFF, count: 160))
            try await media.send(frame, to: serverMedia)
            try await Task.sleep(for: .milliseconds(20))
        }
        let prompt = try await media.datagrams(atLeast: 3).compactMap(RTPHeader.init)
        #expect(prompt.count >= 3 && prompt.allSatisfy { $0.payloadType == 0 })
        try await caller.send(fixture.inDialog("BYE", cseq: 2, from: caller, toTag: toTag, callID: "nat-1"), to: fixture.sipPort)
        _ = try await caller.message { $0.isResponse(200, to: "BYE") }
    }

    @Test func aLateOfferAnsweredInTheOtherLawHearsThePromptFromItsStartInThatLaw() async throws {
        let fixture = try await TelephonyFixture()
        defer { Task { await fixture.stop() } }
        let caller = try await UDPTestPeer()
        let media = try await UDPTestPeer()
        var invite = fixture.invite("4930555099", from: caller, rtpPort: media.port, callID: "late-offer-pcma")
        invite.headers.remove("Content-Type")
        invite.body = []
        try await caller.send(invite, to: fixture.sipPort)
        let ok = try await caller.message { $0.isResponse(200, to: "INVITE") }
        #expect(try #require(SessionDescription(parsing: ok.body)).formats.first?.name == "PCMU", "the offer puts µ-law first")
        let toTag = try #require(ok.headers["To"].flatMap(NameAddress.init)?.tag)
        try await Task.sleep(for: .milliseconds(200))  // the prompt has begun, in µ-law, going nowhere yet

        var ack = fixture.inDialog("ACK", cseq: 1, from: caller, toTag: toTag, callID: "late-offer-pcma")
        ack.headers.add("Content-Type", "application/sdp")
        ack.body = Array(("v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
            + "m=audio \(media.port) RTP/AVP 8 101\r\na=rtpmap:101 telephone-event/8000\r\na=sendrecv\r\n").utf8)
        try await caller.send(ack, to: fixture.sipPort)

        // Every frame the caller hears is A-law, and the prompt starts again from its beginning.
        let datagrams = try await media.datagrams(atLeast: 5).prefix(5)
        let prompt = BuiltInPrompt.ratingPrompt.alaw
        for (index, datagram) in datagrams.enumerated() {
            let header = try #require(RTPHeader(datagram))
            // (A later packet may carry a marker too: a late tick starts a talkspurt.)
            #expect(header.payloadType == 8 && (index > 0 || header.marker))
            #expect(Array(datagram.dropFirst(12)) == Array(prompt[(index * 160)..<(index * 160 + 160)]), "frame \(index) of the A-law prompt")
        }
        try await caller.send(fixture.inDialog("BYE", cseq: 2, from: caller, toTag: toTag, callID: "late-offer-pcma"), to: fixture.sipPort)
        _ = try await caller.message { $0.isResponse(200, to: "BYE") }
    }

    @Test func aLateOfferWhoseACKCarriesNoAnswerIsHungUp() async throws {
        let fixture = try await TelephonyFixture()
        defer { Task { await fixture.stop() } }
        let caller = try await UDPTestPeer()
        var invite = fixture.invite("4930555099", from: caller, rtpPort: 4000, callID: "late-offer-1")
        invite.headers.remove("Content-Type")
        invite.body = []
        try await caller.send(invite, to: fixture.sipPort)

        let ok = try await caller.message { $0.isResponse(200, to: "INVITE") }
        let offer = try #require(SessionDescription(parsing: ok.body), "the 200 to an INVITE without SDP carries an offer")
        #expect(offer.formats.map(\.name) == ["PCMU", "PCMA", "telephone-event"])
        let toTag = try #require(ok.headers["To"].flatMap(NameAddress.init)?.tag)
        try await caller.send(.request("ACK", uri: "sip:qualityrate@127.0.0.1:\(fixture.sipPort)", [
            ("Via", "SIP/2.0/UDP 127.0.0.1:\(caller.port);branch=z9hG4bK-late-ack"), ("From", "<sip:+4930111222@trunk.example>;tag=caller"),
            ("To", "<sip:4930555099@127.0.0.1>;tag=\(toTag)"), ("Call-ID", "late-offer-1"), ("CSeq", "1 ACK"), ("Max-Forwards", "70"),
        ]), to: fixture.sipPort)

        // Without an answer the call can have no media: the server hangs up at once.
        let bye = try await caller.message(within: 5) { $0.method == "BYE" }
        try await caller.send(bye.response(status: 200, reason: "OK"), to: fixture.sipPort)
        #expect(try await fixture.finishedCalls().count == 1)
        #expect(try await fixture.ratings().isEmpty)
        #expect(await fixture.callsRunningOnceSettled() == 0)
    }

    @Test func refusesWhatItMustRefuse() async throws {
        let fixture = try await TelephonyFixture(trunks: ["10.0.0.0/8"])
        defer { Task { await fixture.stop() } }
        let outsider = try await UDPTestPeer()
        try await outsider.send(fixture.invite("4930555099", from: outsider, rtpPort: 4000, callID: "outside-1"), to: fixture.sipPort)
        // Challenged like a phone (EdgeSecurityTests: a scan learns nothing); it has no password.
        _ = try await outsider.message { $0.isResponse(407, to: "INVITE") }

        let trunkFixture = try await TelephonyFixture()
        defer { Task { await trunkFixture.stop() } }
        let trunk = try await UDPTestPeer()
        try await trunk.send(trunkFixture.invite("4930555000", from: trunk, rtpPort: 4000, callID: "unknown-did"), to: trunkFixture.sipPort)
        _ = try await trunk.message { $0.isResponse(404, to: "INVITE") }
        try await trunk.send(.request("PUBLISH", uri: "sip:127.0.0.1", [
            ("Via", "SIP/2.0/UDP 127.0.0.1:\(trunk.port);branch=z9hG4bK-pub"), ("From", "<sip:a@b>;tag=1"), ("To", "<sip:c@d>"),
            ("Call-ID", "pub-1"), ("CSeq", "1 PUBLISH"), ("Max-Forwards", "70"),
        ]), to: trunkFixture.sipPort)
        _ = try await trunk.message { $0.isResponse(405, to: "PUBLISH") }
        try await trunk.send(.request("BYE", uri: "sip:127.0.0.1", [
            ("Via", "SIP/2.0/UDP 127.0.0.1:\(trunk.port);branch=z9hG4bK-bye"), ("From", "<sip:a@b>;tag=1"), ("To", "<sip:c@d>;tag=2"),
            ("Call-ID", "no-such-call"), ("CSeq", "2 BYE"), ("Max-Forwards", "70"),
        ]), to: trunkFixture.sipPort)
        _ = try await trunk.message { $0.isResponse(481, to: "BYE") }
        #expect(try await trunkFixture.ratings().isEmpty)
    }

    @Test func aPhoneRegistersWithDigestAndAWrongPasswordIsForbidden() async throws {
        let fixture = try await TelephonyFixture()
        defer { Task { await fixture.stop() } }
        let phone = try await UDPTestPeer()
        try await phone.send(fixture.register(phone, cseq: 1), to: fixture.sipPort)
        let challenge = try await phone.message { $0.isResponse(401, to: "REGISTER") }
        let nonce = try #require(challenge.headers.values("WWW-Authenticate").first?.split(separator: "nonce=\"").last?.prefix { $0 != "\"" })

        try await phone.send(fixture.register(phone, cseq: 2, authorization: Self.digest(nonce: String(nonce), password: "wrong-guess")), to: fixture.sipPort)
        _ = try await phone.message { $0.isResponse(403, to: "REGISTER") }
        try await phone.send(
            fixture.register(phone, cseq: 3, authorization: Self.digest(nonce: String(nonce), password: TelephonyFixture.password)), to: fixture.sipPort)
        let ok = try await phone.message { $0.isResponse(200, to: "REGISTER") }
        #expect(ok.headers.values("Contact").first?.hasPrefix("<sip:101@127.0.0.1:\(phone.port)>") == true)
    }

    @Test(arguments: [true, false]) func aQueueCallRatesTheAgentOnlyWhenTheAgentHangsUpFirst(agentHangsUp: Bool) async throws {
        let fixture = try await TelephonyFixture()
        defer { Task { await fixture.stop() } }
        let phone = try await UDPTestPeer()
        let phoneMedia = try await UDPTestPeer()
        try await fixture.registerPhone(phone)

        let caller = try await UDPTestPeer()
        let callerMedia = try await UDPTestPeer()
        let callID = "queue-\(agentHangsUp)"
        try await caller.send(fixture.invite("4930555200", from: caller, rtpPort: callerMedia.port, callID: callID, eventType: 96), to: fixture.sipPort)

        // The agent's phone rings with the caller's number, and answers.
        let ringing = try await phone.message { $0.method == "INVITE" }
        #expect(ringing.headers["From"]?.contains("+4930111222") == true)
        let offer = try #require(SessionDescription(parsing: ringing.body))
        try await phone.send(fixture.answer(ringing, phone: phone, mediaPort: phoneMedia.port), to: fixture.sipPort)
        _ = try await phone.message { $0.method == "ACK" }

        let ok = try await caller.message { $0.isResponse(200, to: "INVITE") }
        let serverMedia = try #require(SessionDescription(parsing: ok.body)).audioPort
        let toTag = try #require(ok.headers["To"].flatMap(NameAddress.init)?.tag)
        try await caller.send(fixture.inDialog("ACK", cseq: 1, from: caller, toTag: toTag, callID: callID), to: fixture.sipPort)

        // The media is relayed through the server: the caller's audio reaches the phone as PCMA.
        // The caller streams as a phone does, since the bridge may be made just after its 200 OK.
        var sequence: UInt16 = 0
        while phoneMedia.datagrams.isEmpty && sequence < 500 {
            sequence += 1
            let frame = Self.rtp(payloadType: 0, sequence: sequence, timestamp: 160 * UInt32(sequence), payload: Array(repeating: 0xFF, count: 160))
            try await callerMedia.send(frame, to: serverMedia)
            try await Task.sleep(for: .milliseconds(20))
        }
        let relayed = try #require(RTPHeader(try await phoneMedia.datagrams(atLeast: 1)[0]))
        #expect(relayed.payloadType == 8)
        #expect(offer.audioPort != serverMedia, "each leg has its own port")

        if agentHangsUp {
            try await phone.send(fixture.agentBye(ringing: ringing, phone: phone), to: fixture.sipPort)
            _ = try await phone.message { $0.isResponse(200, to: "BYE") }
            // The rating prompt reaches the caller; the key arrives as RFC 4733 on payload type 96.
            _ = try await callerMedia.datagrams(atLeast: 3)
            for (index, end) in [false, true, true, true].enumerated() {
                let duration = UInt16(160 * (index + 1))
                let event: [UInt8] = [4, end ? 0x80 | 10 : 10, UInt8(duration >> 8), UInt8(duration & 0xFF)]
                try await callerMedia.send(Self.rtp(payloadType: 96, sequence: UInt16(10 + index), timestamp: 8000, payload: event), to: serverMedia)
            }
            let bye = try await caller.message(within: 20) { $0.method == "BYE" }
            try await caller.send(bye.response(status: 200, reason: "OK"), to: fixture.sipPort)
            let rating = try #require(try await fixture.ratings().first)
            #expect(rating.rate == 4 && rating.agentUsername == "101" && rating.maxRate == 5)
            #expect(await fixture.callsRunningOnceSettled() == 0)
        } else {
            try await caller.send(fixture.inDialog("BYE", cseq: 2, from: caller, toTag: toTag, callID: callID), to: fixture.sipPort)
            _ = try await caller.message { $0.isResponse(200, to: "BYE") }
            let bye = try await phone.message { $0.method == "BYE" }
            try await phone.send(bye.response(status: 200, reason: "OK"), to: fixture.sipPort)
            // The call's history is written when it ends: by then a rating would have been stored.
            #expect(try await fixture.finishedCalls().count == 1)
            #expect(try await fixture.ratings().isEmpty)
            #expect(await fixture.callsRunningOnceSettled() == 0)
        }
    }

    @Test func ringAllRingsEveryAgentAndCancelsTheOthersWhenOneAnswers() async throws {
        let fixture = try await TelephonyFixture()
        defer { Task { await fixture.stop() } }
        let first = try await UDPTestPeer()
        let second = try await UDPTestPeer()
        try await fixture.registerPhone(first, as: "101")
        try await fixture.registerPhone(second, as: "102")
        let caller = try await UDPTestPeer()
        try await caller.send(fixture.invite("4930555210", from: caller, rtpPort: 4000, callID: "ring-all"), to: fixture.sipPort)

        let toFirst = try await first.message { $0.method == "INVITE" }
        let toSecond = try await second.message { $0.method == "INVITE" }
        try await second.send(toSecond.response(status: 180, reason: "Ringing", toTag: "second"), to: fixture.sipPort)
        try await first.send(fixture.answer(toFirst, phone: first, mediaPort: 4002), to: fixture.sipPort)
        _ = try await first.message { $0.method == "ACK" }

        // The other phone's INVITE is cancelled; its 487 is acknowledged by the server.
        try await fixture.acceptCancel(of: toSecond, at: second, tag: "second")
        _ = try await caller.message { $0.isResponse(200, to: "INVITE") }
    }

    @Test func aReInviteHoldsAndResumesTheCallersAudio() async throws {
        let fixture = try await TelephonyFixture()
        defer { Task { await fixture.stop() } }
        let caller = try await UDPTestPeer()
        let media = try await UDPTestPeer()
        try await caller.send(fixture.invite("4930555099", from: caller, rtpPort: media.port, callID: "hold"), to: fixture.sipPort)
        let ok = try await caller.message { $0.isResponse(200, to: "INVITE") }
        let toTag = try #require(ok.headers["To"].flatMap(NameAddress.init)?.tag)
        try await caller.send(fixture.inDialog("ACK", cseq: 1, from: caller, toTag: toTag, callID: "hold"), to: fixture.sipPort)
        _ = try await media.datagrams(atLeast: 2)

        func reinvite(_ cseq: Int, direction: String) -> SIPMessage {
            var request = fixture.inDialog("INVITE", cseq: cseq, from: caller, toTag: toTag, callID: "hold")
            request.headers.add("Contact", "<sip:caller@127.0.0.1:\(caller.port)>")
            request.headers.add("Content-Type", "application/sdp")
            request.body = Array(
                "v=0\r\no=- 1 \(cseq) IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio \(media.port) RTP/AVP 0 101\r\na=rtpmap:101 telephone-event/8000\r\na=\(direction)\r\n".utf8)
            return request
        }
        try await caller.send(reinvite(2, direction: "sendonly"), to: fixture.sipPort)
        let held = try await caller.message { $0.isResponse(200, to: "INVITE") && $0.headers["CSeq"] == "2 INVITE" }
        let heldText = String(decoding: held.body, as: UTF8.self)
        #expect(heldText.contains("a=recvonly") && heldText.contains(" 2 IN IP4 127.0.0.1\r\n"), "the answer's version goes up")
        try await caller.send(fixture.inDialog("ACK", cseq: 2, from: caller, toTag: toTag, callID: "hold"), to: fixture.sipPort)

        // Once the hold is answered, packets stop (some may have been in flight before it).
        try await Task.sleep(for: .milliseconds(200))
        let whileHeld = media.datagrams.count
        try await Task.sleep(for: .milliseconds(300))
        #expect(media.datagrams.count == whileHeld, "nothing is sent to a held caller")

        try await caller.send(reinvite(3, direction: "sendrecv"), to: fixture.sipPort)
        let resumed = try await caller.message { $0.isResponse(200, to: "INVITE") && $0.headers["CSeq"] == "3 INVITE" }
        #expect(String(decoding: resumed.body, as: UTF8.self).contains("a=sendrecv"))
        _ = try await media.datagrams(atLeast: whileHeld + 2)

        // An older CSeq than one already seen is refused.
        try await caller.send(fixture.inDialog("INFO", cseq: 2, from: caller, toTag: toTag, callID: "hold"), to: fixture.sipPort)
        _ = try await caller.message { $0.isResponse(500, to: "INFO") }
    }

    @Test func aCallbackRingsTheSourceThenTheDestinationAndTheSourceRates() async throws {
        let fixture = try await TelephonyFixture()
        defer { Task { await fixture.stop() } }
        let source = try await UDPTestPeer()
        let sourceMedia = try await UDPTestPeer()
        let destination = try await UDPTestPeer()
        try await fixture.registerPhone(source, as: "101")
        try await fixture.registerPhone(destination, as: "102")
        let callUUID = try await fixture.calls.startCallback(
            clientID: fixture.client.id, initiator: fixture.phones[0],
            plan: .init(sources: ["101"], destination: "102", afterSourceHangup: nil, afterDestinationHangup: "099"))

        let toSource = try await source.message { $0.method == "INVITE" }
        try await source.send(fixture.answer(toSource, phone: source, mediaPort: sourceMedia.port, tag: "src"), to: fixture.sipPort)
        _ = try await source.message { $0.method == "ACK" }
        let toDestination = try await destination.message { $0.method == "INVITE" }
        try await destination.send(fixture.answer(toDestination, phone: destination, mediaPort: 4010, tag: "dst"), to: fixture.sipPort)
        _ = try await destination.message { $0.method == "ACK" }

        // The destination hangs up first: the source is sent to menu 099 and rates the call by INFO.
        let bye = SIPMessage.request("BYE", uri: "sip:qualityrate@127.0.0.1:\(fixture.sipPort)", [
            ("Via", "SIP/2.0/UDP 127.0.0.1:\(destination.port);branch=z9hG4bK-dstbye"), ("From", "<sip:102@acme.test>;tag=dst"),
            ("To", toDestination.headers["From"] ?? ""), ("Call-ID", toDestination.headers["Call-ID"] ?? ""), ("CSeq", "1 BYE"),
            ("Max-Forwards", "70"),
        ])
        try await destination.send(bye, to: fixture.sipPort)
        _ = try await destination.message { $0.isResponse(200, to: "BYE") }
        _ = try await sourceMedia.datagrams(atLeast: 3)
        let info = SIPMessage.request("INFO", uri: "sip:qualityrate@127.0.0.1:\(fixture.sipPort)", [
            ("Via", "SIP/2.0/UDP 127.0.0.1:\(source.port);branch=z9hG4bK-srcinfo"), ("From", "<sip:101@acme.test>;tag=src"),
            ("To", toSource.headers["From"] ?? ""), ("Call-ID", toSource.headers["Call-ID"] ?? ""), ("CSeq", "1 INFO"),
            ("Max-Forwards", "70"), ("Content-Type", "application/dtmf"),
        ], body: "7")
        try await source.send(info, to: fixture.sipPort)
        let hangUp = try await source.message(within: 20) { $0.method == "BYE" }
        try await source.send(hangUp.response(status: 200, reason: "OK"), to: fixture.sipPort)
        let rating = try #require(try await fixture.ratings().first)
        #expect(rating.callUUID == callUUID && rating.rate == 7 && rating.extensionID == fixture.menu.id)
        #expect(await fixture.callsRunningOnceSettled() == 0)
    }

    static func rtp(payloadType: UInt8, sequence: UInt16, timestamp: UInt32, payload: [UInt8]) -> [UInt8] {
        [0x80, payloadType, UInt8(sequence >> 8), UInt8(sequence & 0xFF),
         UInt8(timestamp >> 24), UInt8(timestamp >> 16 & 0xFF), UInt8(timestamp >> 8 & 0xFF), UInt8(timestamp & 0xFF),
         0x12, 0x34, 0x56, 0x78] + payload
    }

    /// A phone's answer to a challenge: SHA-256, qop=auth.
    static func digest(nonce: String, password: String, user: String = "101") -> String {
        func sha(_ text: String) -> String { SHA256.hash(data: Array(text.utf8)).map { String($0, radix: 16).leftPadded }.joined() }
        let ha1 = sha("\(user):acme.test:\(password)")
        let response = sha("\(ha1):\(nonce):00000001:0a4f113b:auth:\(sha("REGISTER:sip:acme.test"))")
        return "Digest username=\"\(user)\", realm=\"acme.test\", nonce=\"\(nonce)\", uri=\"sip:acme.test\", response=\"\(response)\", "
            + "algorithm=SHA-256, cnonce=\"0a4f113b\", qop=auth, nc=00000001"
    }
}

extension String {
    fileprivate var leftPadded: String { count == 1 ? "0" + self : self }
}

/// The fixed RTP header fields a test looks at.
struct RTPHeader {
    var marker: Bool
    var payloadType: UInt8
    var sequenceNumber: UInt16

    init?(_ bytes: [UInt8]) {
        guard bytes.count >= 12, bytes[0] >> 6 == 2 else { return nil }
        marker = bytes[1] & 0x80 != 0
        payloadType = bytes[1] & 0x7F
        sequenceNumber = UInt16(bytes[2]) << 8 | UInt16(bytes[3])
    }
}
