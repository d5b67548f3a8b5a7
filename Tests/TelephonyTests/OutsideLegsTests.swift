import CallFlow
import Domain
import NIOCore
import SIP
import SIPTransport
import Storage
@testable import Telephony
import Testing
import TestSupport
import Logging

/// Legs to numbers outside the client (issue 11), in memory: a provider's challenge answered,
/// failover on 5xx, a trunk at its `max_calls` skipped, what call history is told.
@Suite struct OutsideLegsTests {
    let first = SIPPeer(transport: .udp, address: try! SocketAddress(ipAddress: "198.51.100.10", port: 5060))
    let second = SIPPeer(transport: .tcp, address: try! SocketAddress(ipAddress: "198.51.100.20", port: 5080))

    func trunk(_ id: Int64, host: String, port: Int, transport: Trunk.Transport = .udp, maxCalls: Int = 0) -> Trunk {
        Trunk(
            id: id, clientID: 1, name: "trunk \(id)", host: host, port: port, transport: transport, username: "acct\(id)", password: "pw\(id)",
            register: false, registerExpires: 3600, fromDomain: "", prefixes: [], position: Int(id), stripDigits: 1, addPrefix: "00",
            callerID: "4930111222", maxCalls: maxCalls, status: .notRegistering, lastError: nil, createdAt: UnixTime(seconds: 0))
    }

    var routes: [CallLegs.TrunkRoute] {
        [
            .init(trunk: trunk(1, host: "198.51.100.10", port: 5060), peer: first, number: "004915712345678", callerID: "4930999888", callerName: "Acme"),
            .init(trunk: trunk(2, host: "198.51.100.20", port: 5080, transport: .tcp), peer: second, number: "004915712345678", callerID: nil, callerName: nil),
        ]
    }

    func legs() -> CallLegs {
        CallLegs(settings: .init(
            telephony: TelephonySettings(advertisedHost: "192.0.2.1", sipPort: 5060, trunks: []), domain: "acme.test",
            presentedCaller: NameAddress(uri: SIPURI(user: "101", host: "acme.test")), sessionID: 42))
    }

    func sent(_ actions: [CallLegs.Action]) -> [(SIPMessage, SIPPeer)] {
        actions.compactMap { if case .send(let message, let peer, _) = $0 { (message, peer) } else { nil } }
    }

    func delivered(_ actions: [CallLegs.Action]) -> [Call.Event] {
        actions.compactMap { if case .deliver(let event) = $0 { event } else { nil } }
    }

    func claimed(_ actions: [CallLegs.Action]) -> [Int64] {
        actions.compactMap { if case .claimTrunk(let trunk, _) = $0 { trunk.id } else { nil } }
    }

    func released(_ actions: [CallLegs.Action]) -> [Int64] {
        actions.compactMap { if case .releaseTrunk(let id, _) = $0 { id } else { nil } }
    }

    func response(to request: SIPMessage, _ status: Int, _ extra: [(String, String)] = [], body: String = "") -> SIPMessage {
        var response = request.response(status: status, reason: "R", toTag: "prov")
        for (name, value) in extra { response.headers.add(name, value) }
        response.body = Array(body.utf8)
        return response
    }

    static let answer = "v=0\r\no=- 1 1 IN IP4 198.51.100.10\r\ns=-\r\nc=IN IP4 198.51.100.10\r\nt=0 0\r\nm=audio 7000 RTP/AVP 0 101\r\na=rtpmap:101 telephone-event/8000\r\n"

    /// Dials the outside party through `routes`: its leg, after the media port and the first trunk's place.
    func dial(_ call: inout CallLegs) throws -> (leg: CallLegs.LegID, invite: SIPMessage) {
        let party = OutsideParty.name(of: "+4915712345678")
        let opening = call.handle(.dialOut(party: party, routes: routes))
        guard case .openMedia(let leg)? = opening.first else { throw CancellationError() }
        #expect(claimed(call.handle(.mediaOpened(leg: leg, localPort: 31_000))) == [1])
        let invite = try #require(sent(call.handle(.trunkClaimed(leg: leg, trunkID: 1, true))).first)
        #expect(invite.1 == first)
        return (leg, invite.0)
    }

    @Test func theInviteNamesTheNumberAsTheTrunkSendsItAndShowsTheCallerID() throws {
        var call = legs()
        let (_, invite) = try dial(&call)
        guard case .request(_, let uri) = invite.startLine else { throw CancellationError() }
        #expect(uri == "sip:004915712345678@198.51.100.10")
        #expect(invite.headers["From"]?.hasPrefix("\"Acme\" <sip:4930999888@198.51.100.10>;tag=") == true, "\(invite.headers["From"] ?? "")")
        #expect(invite.headers["P-Asserted-Identity"] == "<sip:4930999888@198.51.100.10>")
        #expect(invite.headers["To"] == "<sip:004915712345678@198.51.100.10>")
    }

    @Test func aChallengeIsAnsweredOnceAndTheAnswerConnectsTheParty() throws {
        var call = legs()
        let (leg, invite) = try dial(&call)
        let challenged = call.handle(.response(response(to: invite, 407, [
            ("Proxy-Authenticate", "Digest realm=\"prov\", nonce=\"n1\", qop=\"auth\""),
        ]), leg: leg))
        let again = try #require(sent(challenged).first?.0)
        #expect(again.headers["CSeq"] == "2 INVITE" && again.headers["Call-ID"] == invite.headers["Call-ID"])
        #expect(again.headers["From"] == invite.headers["From"])
        #expect(again.headers["Proxy-Authorization"]?.contains("username=\"acct1\"") == true)
        #expect(again.headers.values("Via").first != invite.headers.values("Via").first)
        // A late response to the first INVITE changes nothing.
        #expect(call.handle(.response(response(to: invite, 503), leg: leg)).isEmpty)

        let answered = call.handle(.response(response(to: again, 200, [("Contact", "<sip:customer@198.51.100.10>")], body: Self.answer), leg: leg))
        let party = OutsideParty.name(of: "+4915712345678")
        #expect(delivered(answered) == [
            .trunkAttempt(TrunkAttempt(party: party, number: "004915712345678", trunkID: 1, trunkName: "trunk 1", sipStatus: nil)),
            .agentAnswered(party),
        ])
        // Refused credentials are not answered a second time: the provider has the trunk's account wrong.
        var refused = legs()
        let (otherLeg, otherInvite) = try dial(&refused)
        let challenge = [("Proxy-Authenticate", "Digest realm=\"prov\", nonce=\"n1\", qop=\"auth\"")]
        let retried = try #require(sent(refused.handle(.response(response(to: otherInvite, 407, challenge), leg: otherLeg))).first?.0)
        let failedOver = refused.handle(.response(response(to: retried, 407, challenge), leg: otherLeg))
        #expect(released(failedOver) == [1] && claimed(failedOver) == [2])
    }

    @Test func a503FailsOverToTheNextTrunkAndIsToldToCallHistory() throws {
        var call = legs()
        let party = OutsideParty.name(of: "+4915712345678")
        let (leg, invite) = try dial(&call)
        let failed = call.handle(.response(response(to: invite, 503), leg: leg))
        #expect(released(failed) == [1] && claimed(failed) == [2])
        #expect(delivered(failed) == [.trunkAttempt(TrunkAttempt(party: party, number: "004915712345678", trunkID: 1, trunkName: "trunk 1", sipStatus: 503))])
        let next = try #require(sent(call.handle(.trunkClaimed(leg: leg, trunkID: 2, true))).first)
        #expect(next.1 == second && next.0.headers["Call-ID"] != invite.headers["Call-ID"])
        guard case .request(_, let uri) = next.0.startLine else { throw CancellationError() }
        #expect(uri == "sip:004915712345678@198.51.100.20:5080;transport=tcp")
        // No caller ID for this route: the account's name, and no identity asserted.
        #expect(next.0.headers["P-Asserted-Identity"] == nil)
        #expect(next.0.headers["From"]?.hasPrefix("<sip:acct2@198.51.100.20>;tag=") == true)
        // Busy is the number's answer: no other trunk is tried, the party is unreachable.
        let busy = call.handle(.response(response(to: next.0, 486), leg: leg))
        #expect(released(busy) == [2] && claimed(busy).isEmpty)
        #expect(delivered(busy).last == .agentUnreachable(party))
    }

    /// A callback's `dst_announce_sound_id`: the caller (in the law of its leg) and the
    /// destination (in the law of its own) hear it at once; its end is reported once.
    @Test func anAnnouncementPlaysToBothPartiesInTheirLawsAndEndsOnce() throws {
        var call = legs()
        let pcmaOffer = "v=0\r\no=- 1 1 IN IP4 192.0.2.21\r\ns=-\r\nc=IN IP4 192.0.2.21\r\nt=0 0\r\nm=audio 4000 RTP/AVP 8 101\r\na=rtpmap:101 telephone-event/8000\r\n"
        let caller = SIPMessage(
            startLine: .request(method: "INVITE", uri: "sip:+4915712345678@192.0.2.1"),
            headers: SIPHeaders([
                ("Via", "SIP/2.0/UDP 192.0.2.21:5062;branch=z9hG4bK-a"), ("From", "<sip:101@acme.test>;tag=phone"),
                ("To", "<sip:+4915712345678@acme.test>"), ("Call-ID", "in-a"), ("CSeq", "2 INVITE"), ("Contact", "<sip:101@192.0.2.21:5062>"),
            ]),
            body: Array(pcmaOffer.utf8))
        let callerLeg = call.newLegID()
        _ = call.offer(caller, from: first, localTag: "srv", leg: callerLeg, localPort: 20_000)
        _ = call.handle(.answerCaller)
        let party = OutsideParty.name(of: "+4915712345678")
        let (leg, invite) = try dial(&call)
        _ = call.handle(.response(response(to: invite, 200, [("Contact", "<sip:customer@198.51.100.10>")], body: Self.answer), leg: leg))

        let loads = call.handle(.announce(.uploaded(id: 7), alsoTo: party))
        #expect(loads == [
            .loadSound(.uploaded(id: 7), codec: .pcma, generation: 1, leg: callerLeg),
            .loadSound(.uploaded(id: 7), codec: .pcmu, generation: 1, leg: leg),
        ])
        #expect(call.handle(.soundLoaded([1], generation: 1, leg: callerLeg)) == [.playSound([1], leg: callerLeg, generation: 1)])
        #expect(call.handle(.soundLoaded([2], generation: 1, leg: leg)) == [.playSound([2], leg: leg, generation: 1)])
        #expect(delivered(call.handle(.playbackEnded(generation: 1))) == [.playbackFinished])
        #expect(delivered(call.handle(.playbackEnded(generation: 1))).isEmpty, "the other leg's end of the same playback is not reported")
    }

    @Test func aCallerDiallingANumberNothingAnswersToIsRefused404() throws {
        var call = legs()
        let invite = SIPMessage(
            startLine: .request(method: "INVITE", uri: "sip:+3312345678@192.0.2.1"),
            headers: SIPHeaders([
                ("Via", "SIP/2.0/UDP 192.0.2.21:5062;branch=z9hG4bK-p"), ("From", "<sip:101@acme.test>;tag=phone"),
                ("To", "<sip:+3312345678@acme.test>"), ("Call-ID", "out-1"), ("CSeq", "2 INVITE"), ("Contact", "<sip:101@192.0.2.21:5062>"),
            ]),
            body: Array(Self.answer.utf8))
        let id = call.newLegID()
        _ = call.offer(invite, from: first, localTag: "srv", leg: id, localPort: 20_000)
        let refused = call.handle(.refuseUnknownNumber)
        let response = try #require(refused.compactMap { if case .respond(let message) = $0 { message } else { nil } }.first)
        #expect(response.status == 404)
        #expect(refused.contains(.closeMedia(leg: id)))
    }

    @Test func aTrunkAtItsMaxCallsIsSkippedAndAPlaceIsGivenBackWhenTheLegEnds() throws {
        var call = legs()
        let party = OutsideParty.name(of: "+4915712345678")
        let opening = call.handle(.dialOut(party: party, routes: routes))
        guard case .openMedia(let leg)? = opening.first else { throw CancellationError() }
        _ = call.handle(.mediaOpened(leg: leg, localPort: 31_000))
        #expect(claimed(call.handle(.trunkClaimed(leg: leg, trunkID: 1, false))) == [2])
        let invite = try #require(sent(call.handle(.trunkClaimed(leg: leg, trunkID: 2, true))).first?.0)
        let cancelled = call.handle(.cancelRinging([party]))
        #expect(sent(cancelled).first?.0.method == "CANCEL")
        let ended = call.handle(.response(response(to: invite, 487), leg: leg))
        #expect(released(ended) == [2])
        #expect(delivered(ended).isEmpty, "a leg given up on is not reported unreachable")
        // No trunk carries it: unreachable at once, nothing sent.
        var none = legs()
        #expect(delivered(none.handle(.dialOut(party: party, routes: []))) == [.agentUnreachable(party)])
    }
}

/// The shared counts behind `max_calls` and the calls in from registered trunks.
@Suite struct TrunkBookkeepingTests {
    @Test func registeredSourcesNameTheirClientsUntilTheLastBindingGoes() {
        let sources = RegisteredTrunkSources()
        sources.registered("198.51.100.10", clientID: 1)
        sources.registered("198.51.100.10", clientID: 1)
        sources.registered("198.51.100.10", clientID: 2)
        #expect(sources.clients(at: "198.51.100.10") == [1, 2])
        sources.unregistered("198.51.100.10", clientID: 1)
        #expect(sources.clients(at: "198.51.100.10") == [1, 2], "client 1 has a second trunk registered there")
        sources.unregistered("198.51.100.10", clientID: 1)
        sources.unregistered("198.51.100.10", clientID: 2)
        sources.unregistered("198.51.100.10", clientID: 2)
        #expect(sources.clients(at: "198.51.100.10").isEmpty)
        #expect(sources.clients(at: "203.0.113.1").isEmpty)
    }
}

extension TrunkBookkeepingTests {
    @Test func maxCallsHoldsAndAPlaceGivenBackIsFreeAgain() async throws {
        let database = try await TestStore()
        let store = database.store
        let trunks = OutboundTrunks(
            store: store, addresses: TrunkAddresses(allowed: [try #require(AddressRange("198.51.100.0/24"))]), logger: Logger(label: "test"))
        let client = try await store.createClient(name: "Acme", timezone: "UTC", domain: "acme.test")
        let limited = try await store.createTrunk(Trunk(
            id: 0, clientID: client.id, name: "two", host: "198.51.100.10", port: 5060, transport: .udp, username: "a", password: "p",
            register: false, registerExpires: 3600, fromDomain: "", prefixes: ["+49"], position: 0, stripDigits: 0, addPrefix: "",
            callerID: nil, maxCalls: 2, status: .notRegistering, lastError: nil, createdAt: UnixTime(seconds: 0)))
        #expect(await trunks.claim(limited, holder: "call-1 1"))
        #expect(await trunks.claim(limited, holder: "call-2 1"))
        // On PostgreSQL the count is every node's: a second store on the database is another node.
        let otherNode = OutboundTrunks(
            store: try await database.reopen(), addresses: TrunkAddresses(allowed: [try #require(AddressRange("198.51.100.0/24"))]),
            logger: Logger(label: "test"))
        #expect(await !(TestStore.isPostgres ? otherNode : trunks).claim(limited, holder: "call-3 1"), "a third call at once is refused")
        #expect(await trunks.claim(limited, holder: "call-2 1"), "a holder claiming again keeps its place")
        await trunks.release(limited.id, holder: "call-1 1")
        #expect(await trunks.claim(limited, holder: "call-3 1"))
        // Routes: only the trunks that carry the number, each with its address and the number as it sends it.
        let routes = await trunks.routes(clientID: client.id, number: "+4915712345678", callerID: nil, callerName: nil)
        #expect(routes.map(\.trunk.id) == [limited.id] && routes.first?.peer.address.port == 5060)
        #expect(await trunks.routes(clientID: client.id, number: "+3312345678", callerID: nil, callerName: nil).isEmpty)
        // A trunk whose address is outside --provider-addresses is no route.
        _ = try await store.createTrunk(Trunk(
            id: 0, clientID: client.id, name: "elsewhere", host: "203.0.113.9", port: 5060, transport: .udp, username: "a", password: "p",
            register: false, registerExpires: 3600, fromDomain: "", prefixes: [], position: 1, stripDigits: 0, addPrefix: "",
            callerID: nil, maxCalls: 0, status: .notRegistering, lastError: nil, createdAt: UnixTime(seconds: 0)))
        #expect(await trunks.routes(clientID: client.id, number: "+3312345678", callerID: nil, callerName: nil).isEmpty)
    }
}

/// Which DIDs a trunk call may reach, by where it comes from (issue 11).
@Suite struct TrunkSourceTests {
    @Test func aRegisteredProviderReachesOnlyItsClientsDIDsAlsoNamedInTo() throws {
        #expect(TrunkSource(inTrunkRange: false, registeredFor: []) == nil, "no trunk at all")
        let range = try #require(TrunkSource(inTrunkRange: true, registeredFor: []))
        #expect(range.reaches(clientID: 1) && range.reaches(clientID: 2))
        #expect(range.didNumbers(requestUser: "acct", toUser: "4930555") == ["acct"], "a --trunk range names the DID in the Request-URI")
        let provider = try #require(TrunkSource(inTrunkRange: false, registeredFor: [7]))
        #expect(provider.reaches(clientID: 7) && !provider.reaches(clientID: 8))
        #expect(provider.didNumbers(requestUser: "acct", toUser: "4930555") == ["acct", "4930555"])
        #expect(provider.didNumbers(requestUser: "4930555", toUser: "4930555") == ["4930555"])
        #expect(provider.didNumbers(requestUser: "4930555", toUser: nil) == ["4930555"])
    }
}
