import Domain
import SIP
import Storage
import Telephony
import Testing

/// What deployments in the field do to the server: a record-routing proxy in front, phones
/// registered through it (Path), phones on two devices, agents who refuse at once, a caller
/// that never acknowledges, storage that fails. Each party is a real UDP socket on loopback.
@Suite struct FieldTopologyTests {
    /// RFC 3261 §12.1.1 and §12.2.1.1: the 200 carries the INVITE's Record-Route, and the
    /// server's own BYE goes to the first proxy of the route set with it as Route — not to the
    /// address the INVITE came from, nor straight to the caller's Contact.
    @Test func aCallThroughARecordRoutingProxyKeepsItsRouteBothWays() async throws {
        let fixture = try await TelephonyFixture()
        defer { Task { await fixture.stop() } }
        let edge = try await UDPTestPeer()  // the proxy hop the INVITE arrives from
        let proxy = try await UDPTestPeer()  // the proxy that record-routed
        let caller = try await UDPTestPeer()
        let media = try await UDPTestPeer()
        let recordRoute = "<sip:127.0.0.1:\(proxy.port);lr;r2=on>"
        var invite = fixture.invite("4930555099", from: edge, rtpPort: media.port, callID: "rr-1")
        invite.headers.add("Record-Route", recordRoute)
        invite.headers.set("Contact", "<sip:caller@127.0.0.1:\(caller.port)>")
        try await edge.send(invite, to: fixture.sipPort)

        let ok = try await edge.message { $0.isResponse(200, to: "INVITE") }
        #expect(ok.headers.values("Record-Route") == [recordRoute])
        let toTag = try #require(ok.headers["To"].flatMap(NameAddress.init)?.tag)
        var ack = fixture.inDialog("ACK", cseq: 1, from: edge, toTag: toTag, callID: "rr-1")
        ack.headers.set("From", invite.headers["From"] ?? "")
        try await edge.send(ack, to: fixture.sipPort)
        var info = fixture.inDialog("INFO", cseq: 2, from: edge, toTag: toTag, callID: "rr-1")
        info.headers.add("Content-Type", "application/dtmf-relay")
        info.body = Array("Signal=7\r\nDuration=160\r\n".utf8)
        try await edge.send(info, to: fixture.sipPort)
        _ = try await edge.message { $0.isResponse(200, to: "INFO") }

        // Rated: after the finish prompt the server hangs up, through the proxy.
        let bye = try await proxy.message(within: 20) { $0.method == "BYE" }
        #expect(bye.startLine == .request(method: "BYE", uri: "sip:caller@127.0.0.1:\(caller.port)"))
        #expect(bye.headers.values("Route") == [recordRoute])
        #expect(edge.messages { $0.method == "BYE" }.isEmpty && caller.messages { $0.method == "BYE" }.isEmpty)
        try await proxy.send(bye.response(status: 200, reason: "OK"), to: fixture.sipPort)
        #expect(try await fixture.ratings().first?.rate == 7)
    }

    /// RFC 3327: a phone registered through a proxy gets its Path back (it said `Supported: path`),
    /// and the queue's INVITE goes to the proxy with the Path as Route, the phone's Contact as
    /// Request-URI; the proxy routes it by that alone.
    @Test func aPhoneRegisteredThroughAProxyIsRungThroughItsPath() async throws {
        let fixture = try await TelephonyFixture()
        defer { Task { await fixture.stop() } }
        let proxy = try await UDPTestPeer()
        let phone = try await UDPTestPeer()
        let path = "<sip:127.0.0.1:\(proxy.port);lr;received=sip:127.0.0.1:\(phone.port)>"
        let registered = try await fixture.registerPhone(
            proxy, contactPort: phone.port, extra: [("Path", path), ("Supported", "path, outbound")])
        #expect(registered.headers.values("Path") == [path])

        let caller = try await UDPTestPeer()
        try await caller.send(fixture.invite("4930555200", from: caller, rtpPort: 4000, callID: "path-1"), to: fixture.sipPort)
        let ringing = try await proxy.message { $0.method == "INVITE" }
        #expect(ringing.startLine == .request(method: "INVITE", uri: "sip:101@127.0.0.1:\(phone.port)"))
        #expect(ringing.headers.values("Route") == [path])
        #expect(phone.messages { $0.method == "INVITE" }.isEmpty, "nothing bypasses the proxy")

        // The proxy record-routes the answer: the ACK and later requests go through it.
        var answer = fixture.answer(ringing, phone: phone, mediaPort: 4002)
        answer.headers.add("Record-Route", "<sip:127.0.0.1:\(proxy.port);lr>")
        try await proxy.send(answer, to: fixture.sipPort)
        let ack = try await proxy.message { $0.method == "ACK" }
        #expect(ack.headers.values("Route") == ["<sip:127.0.0.1:\(proxy.port);lr>"])
        let ok = try await caller.message { $0.isResponse(200, to: "INVITE") }
        let toTag = try #require(ok.headers["To"].flatMap(NameAddress.init)?.tag)
        try await caller.send(fixture.inDialog("ACK", cseq: 1, from: caller, toTag: toTag, callID: "path-1"), to: fixture.sipPort)
        try await caller.send(fixture.inDialog("BYE", cseq: 2, from: caller, toTag: toTag, callID: "path-1"), to: fixture.sipPort)
        let agentBye = try await proxy.message { $0.method == "BYE" }
        #expect(agentBye.headers.values("Route") == ["<sip:127.0.0.1:\(proxy.port);lr>"])
        try await proxy.send(agentBye.response(status: 200, reason: "OK"), to: fixture.sipPort)
    }

    /// One phone on a desk set and a softphone: both ring, the first to answer gets the call,
    /// the other is cancelled.
    @Test func aPhoneOnTwoDevicesRingsOnBothAndTheFirstAnswerWins() async throws {
        let fixture = try await TelephonyFixture()
        defer { Task { await fixture.stop() } }
        let desk = try await UDPTestPeer()
        let soft = try await UDPTestPeer()
        try await fixture.registerPhone(desk)
        try await fixture.registerPhone(soft)
        let caller = try await UDPTestPeer()
        try await caller.send(fixture.invite("4930555200", from: caller, rtpPort: 4000, callID: "two-devices"), to: fixture.sipPort)

        let toDesk = try await desk.message { $0.method == "INVITE" }
        let toSoft = try await soft.message { $0.method == "INVITE" }
        #expect(toDesk.headers["Call-ID"] != toSoft.headers["Call-ID"])
        try await soft.send(fixture.answer(toSoft, phone: soft, mediaPort: 4004, tag: "soft"), to: fixture.sipPort)
        _ = try await soft.message { $0.method == "ACK" }
        try await fixture.acceptCancel(of: toDesk, at: desk, tag: "desk")
        _ = try await caller.message { $0.isResponse(200, to: "INVITE") }
    }

    /// An agent who answers 486 or 480 at once is rung again only after the queue's
    /// `retry_delay`, not in a loop; the caller stays in the queue meanwhile.
    @Test(arguments: [486, 480]) func anAgentWhoRefusesAtOnceIsRungOnceARound(status: Int) async throws {
        let fixture = try await TelephonyFixture()
        defer { Task { await fixture.stop() } }
        let (phone, caller) = try await fixture.queueCallToOneAgent(callID: "refused-\(status)") { $0.retryDelay = 2 }

        let first = try await phone.message { $0.method == "INVITE" }
        try await phone.send(first.response(status: status, reason: "Refused", toTag: "busy"), to: fixture.sipPort)
        let refusedAt = ContinuousClock.now
        _ = try await phone.message { $0.method == "ACK" }
        let second = try await phone.message(number: 2) { $0.method == "INVITE" }
        #expect(ContinuousClock.now - refusedAt >= .seconds(2), "not before the pause between rounds")
        #expect(phone.messages { $0.method == "INVITE" }.count == 2)
        #expect(second.headers["Call-ID"] != first.headers["Call-ID"])
        let ok = try await caller.message { $0.isResponse(200, to: "INVITE") }
        #expect(caller.messages { $0.method == "BYE" }.isEmpty, "the caller is still waiting in the queue")

        let toTag = try #require(ok.headers["To"].flatMap(NameAddress.init)?.tag)
        try await caller.send(fixture.inDialog("ACK", cseq: 1, from: caller, toTag: toTag, callID: "refused-\(status)"), to: fixture.sipPort)
        try await caller.send(fixture.inDialog("BYE", cseq: 2, from: caller, toTag: toTag, callID: "refused-\(status)"), to: fixture.sipPort)
        _ = try await phone.message { $0.method == "CANCEL" }
    }

    /// An agent whose phone rings and never answers is cancelled after the queue's
    /// `ring_timeout`, and rung again only after `retry_delay`.
    @Test func anAgentWhoNeverAnswersIsCancelledAfterTheRingTimeout() async throws {
        let fixture = try await TelephonyFixture()
        defer { Task { await fixture.stop() } }
        let (phone, caller) = try await fixture.queueCallToOneAgent(callID: "unanswered") {
            $0.ringTimeout = 5
            $0.retryDelay = 1
        }

        let first = try await phone.message { $0.method == "INVITE" }
        try await phone.send(first.response(status: 180, reason: "Ringing", toTag: "ringing"), to: fixture.sipPort)
        let rangAt = ContinuousClock.now
        try await fixture.acceptCancel(of: first, at: phone, tag: "ringing")
        let cancelledAt = ContinuousClock.now
        #expect(cancelledAt - rangAt >= .seconds(4), "rung for the ring timeout (5 s from the INVITE)")
        let second = try await phone.message(number: 2, within: 20) { $0.method == "INVITE" }
        // 1 s after the CANCEL went out; measured from its 487's ACK, a little later.
        #expect(ContinuousClock.now - cancelledAt >= .milliseconds(500), "after the pause between rounds")
        #expect(second.headers["Call-ID"] != first.headers["Call-ID"])
        #expect(caller.messages { $0.method == "BYE" }.isEmpty, "the caller is still waiting in the queue")
    }

    /// RFC 3261 §13.3.1.4: a 2xx never acknowledged in 64·T1 ends the dialog with a BYE, and the
    /// call's history says the caller left.
    @Test func anAnswerNeverAcknowledgedIsFollowedByABye() async throws {
        let fixture = try await TelephonyFixture(timers: SIPTimerValues(t1: .milliseconds(20), t2: .milliseconds(200), t4: .milliseconds(250)))
        defer { Task { await fixture.stop() } }
        let caller = try await UDPTestPeer()
        try await caller.send(fixture.invite("4930555099", from: caller, rtpPort: 4000, callID: "no-ack"), to: fixture.sipPort)
        let ok = try await caller.message { $0.isResponse(200, to: "INVITE") }
        let bye = try await caller.message { $0.method == "BYE" }
        #expect(bye.headers["To"] == ok.headers["From"] && bye.headers["From"] == ok.headers["To"])
        try await caller.send(bye.response(status: 200, reason: "OK"), to: fixture.sipPort)
        let record = try #require(try await fixture.finishedCalls().first)
        #expect(record.hangupDisposition == .callerHangup)
    }

    /// A REGISTER captured on the wire and played again from another address, with the
    /// attacker's Contact, gets a fresh challenge and binds nothing: the phone keeps its calls.
    @Test func aReplayedRegisterDoesNotStealThePhone() async throws {
        let fixture = try await TelephonyFixture()
        defer { Task { await fixture.stop() } }
        let phone = try await UDPTestPeer()
        try await phone.send(fixture.register(phone, cseq: 1), to: fixture.sipPort)
        let challenge = try await phone.message { $0.isResponse(401, to: "REGISTER") }
        let nonce = try #require(challenge.headers.values("WWW-Authenticate").first?.split(separator: "nonce=\"").last?.prefix { $0 != "\"" })
        let captured = TelephonyServerTests.digest(nonce: String(nonce), password: TelephonyFixture.password)
        try await phone.send(fixture.register(phone, cseq: 2, authorization: captured), to: fixture.sipPort)
        _ = try await phone.message { $0.isResponse(200, to: "REGISTER") }

        let attacker = try await UDPTestPeer()
        try await attacker.send(fixture.register(attacker, cseq: 3, authorization: captured), to: fixture.sipPort)
        let refused = try await attacker.message { $0.isResponse(401, to: "REGISTER") }
        #expect(refused.headers["WWW-Authenticate"]?.contains("stale=TRUE") == true)

        // Every device of the phone is rung at once: by the time the phone has answered and been
        // acknowledged, an INVITE to a device the attacker had bound would have arrived too.
        let caller = try await UDPTestPeer()
        try await caller.send(fixture.invite("4930555200", from: caller, rtpPort: 4000, callID: "after-replay"), to: fixture.sipPort)
        let ringing = try await phone.message { $0.method == "INVITE" }
        try await phone.send(fixture.answer(ringing, phone: phone, mediaPort: 4006), to: fixture.sipPort)
        _ = try await phone.message { $0.method == "ACK" }
        #expect(attacker.messages { $0.method == "INVITE" || $0.method == "CANCEL" }.isEmpty)
    }

    /// Storage that cannot be read is no "no such DID" nor "unknown domain": 503 with Retry-After,
    /// so trunks try again (or elsewhere) and phones keep registering.
    @Test func storageThatCannotBeReadAnswersServiceUnavailable() async throws {
        let fixture = try await TelephonyFixture()
        defer { Task { await fixture.stop() } }
        try await fixture.database.execute("ALTER TABLE did RENAME TO did_lost")
        try await fixture.database.execute("ALTER TABLE client RENAME TO client_lost")
        let trunk = try await UDPTestPeer()
        try await trunk.send(fixture.invite("4930555099", from: trunk, rtpPort: 4000, callID: "no-storage"), to: fixture.sipPort)
        let refused = try await trunk.message { $0.isResponse(503, to: "INVITE") }
        #expect(refused.headers["Retry-After"] != nil)
        let phone = try await UDPTestPeer()
        try await phone.send(fixture.register(phone, cseq: 1), to: fixture.sipPort)
        let unregistered = try await phone.message { $0.isResponse(503, to: "REGISTER") }
        #expect(unregistered.headers["Retry-After"] != nil)
    }
}

extension TelephonyFixture {
    /// Queue 200 (agent 101) with `change` made and callers kept waiting while no agent is free,
    /// agent 101 registered at a new phone, and a trunk caller dialling the queue's DID.
    func queueCallToOneAgent(callID: String, _ change: (inout QueueOptions) -> Void) async throws -> (phone: UDPTestPeer, caller: UDPTestPeer) {
        try await changeQueue200 {
            change(&$0)
            $0.exitWithNoAvailableAgents = false
        }
        let phone = try await UDPTestPeer()
        try await registerPhone(phone)
        let caller = try await UDPTestPeer()
        try await caller.send(invite("4930555200", from: caller, rtpPort: 4000, callID: callID), to: sipPort)
        return (phone, caller)
    }

    /// Changes the options of queue 200 (DID 4930555200, agent 101).
    func changeQueue200(_ change: (inout QueueOptions) -> Void) async throws {
        let queue = try #require(try await store.extensions(clientID: client.id).first { $0.name == "200" })
        var options = try #require(try await store.queueOptions(clientID: client.id, queueID: queue.id))
        change(&options)
        try await store.updateQueueOptions(clientID: client.id, queueID: queue.id, options)
    }
}
