import CallFlow
import Media
import NIOCore
import SIP
import SIPTransport
@testable import Telephony
import Testing

/// The rules of a call's legs, in memory: `CallLegs` is fed events and its actions are checked;
/// no socket, no media, no clock.
@Suite struct CallLegsTests {
    let trunk = SIPPeer(transport: .udp, address: try! SocketAddress(ipAddress: "192.0.2.5", port: 5060))
    let desk = SIPPeer(transport: .udp, address: try! SocketAddress(ipAddress: "192.0.2.21", port: 5062))
    let proxy = SIPPeer(transport: .udp, address: try! SocketAddress(ipAddress: "192.0.2.30", port: 5060))

    func legs(maximumInvites: Int = 500) -> CallLegs {
        CallLegs(settings: .init(
            telephony: TelephonySettings(advertisedHost: "192.0.2.1", sipPort: 5060, sipTLSPort: 5061, trunks: []), domain: "acme.test",
            presentedCaller: NameAddress(uri: SIPURI(user: "+4930111222", host: "acme.test")), sessionID: 42,
            maximumInvites: maximumInvites))
    }

    static let pcmuOffer = "v=0\r\no=- 1 1 IN IP4 192.0.2.5\r\ns=-\r\nc=IN IP4 192.0.2.5\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0 8 101\r\na=rtpmap:101 telephone-event/8000\r\n"
    static let pcmaAnswer = "v=0\r\no=- 2 2 IN IP4 192.0.2.5\r\ns=-\r\nc=IN IP4 192.0.2.5\r\nt=0 0\r\nm=audio 4000 RTP/AVP 8 101\r\na=rtpmap:101 telephone-event/8000\r\n"

    func invite(body: String = pcmuOffer, recordRoute: String? = nil) -> SIPMessage {
        var headers = SIPHeaders([
            ("Via", "SIP/2.0/UDP 192.0.2.5:5060;branch=z9hG4bK-in"), ("From", "<sip:+4930111222@trunk>;tag=caller"),
            ("To", "<sip:4930555099@192.0.2.1>"), ("Call-ID", "in-1"), ("CSeq", "1 INVITE"), ("Contact", "<sip:caller@192.0.2.5>"),
        ])
        if let recordRoute { headers.add("Record-Route", recordRoute) }
        return SIPMessage(startLine: .request(method: "INVITE", uri: "sip:4930555099@192.0.2.1"), headers: headers, body: Array(body.utf8))
    }

    /// A request of the caller in its dialog with the server (To tag `srv`).
    func fromCaller(_ method: String, cseq: UInt32, body: String = "", contentType: String? = nil) -> SIPMessage {
        var headers = SIPHeaders([
            ("Via", "SIP/2.0/UDP 192.0.2.5:5060;branch=z9hG4bK-\(method)\(cseq)"), ("From", "<sip:+4930111222@trunk>;tag=caller"),
            ("To", "<sip:4930555099@192.0.2.1>;tag=srv"), ("Call-ID", "in-1"), ("CSeq", "\(cseq) \(method)"),
        ])
        if let contentType { headers.add("Content-Type", contentType) }
        return SIPMessage(startLine: .request(method: method, uri: "sip:qualityrate@192.0.2.1"), headers: headers, body: Array(body.utf8))
    }

    /// An answered caller on leg 1 (its media on port 20000).
    func answeredCaller(body: String = pcmuOffer, recordRoute: String? = nil) -> (CallLegs, [CallLegs.Action]) {
        var call = legs()
        let id = call.newLegID()
        let (_, refusal) = call.offer(invite(body: body, recordRoute: recordRoute), from: trunk, localTag: "srv", leg: id, localPort: 20_000)
        #expect(refusal == nil)
        let answered = call.handle(.answerCaller)
        return (call, answered)
    }

    func sent(_ actions: [CallLegs.Action]) -> [(SIPMessage, SIPPeer, CallLegs.LegID)] {
        actions.compactMap { if case .send(let message, let peer, let leg) = $0 { (message, peer, leg) } else { nil } }
    }

    func responses(_ actions: [CallLegs.Action]) -> [SIPMessage] {
        actions.compactMap { if case .respond(let message) = $0 { message } else { nil } }
    }

    func delivered(_ actions: [CallLegs.Action]) -> [Call.Event] {
        actions.compactMap { if case .deliver(let event) = $0 { event } else { nil } }
    }

    func opened(_ actions: [CallLegs.Action]) -> [CallLegs.LegID] {
        actions.compactMap { if case .openMedia(let leg) = $0 { leg } else { nil } }
    }

    func device(_ peer: SIPPeer, path: [String] = []) -> PhoneRegistrations.Target {
        PhoneRegistrations.Target(contact: "sip:101@\(peer.address.ipAddress!):\(peer.address.port!)", routes: path, peer: peer)
    }

    /// Rings agent 101 on `devices`, each given a media port: the INVITEs, by leg.
    func ring(_ call: inout CallLegs, _ devices: [PhoneRegistrations.Target]) -> [CallLegs.LegID: SIPMessage] {
        var invites: [CallLegs.LegID: SIPMessage] = [:]
        for leg in opened(call.handle(.ring(agent: "101", devices: devices))) {
            for (invite, _, _) in sent(call.handle(.mediaOpened(leg: leg, localPort: 30_000 + leg))) { invites[leg] = invite }
        }
        return invites
    }

    func answer(_ invite: SIPMessage, tag: String, recordRoute: String? = nil) -> SIPMessage {
        var ok = invite.response(status: 200, reason: "OK", toTag: tag)
        ok.headers.add("Contact", "<sip:101@192.0.2.21:5062>")
        if let recordRoute { ok.headers.add("Record-Route", recordRoute) }
        ok.headers.add("Content-Type", "application/sdp")
        ok.body = Array(Self.pcmaAnswer.utf8)
        return ok
    }

    // MARK: The caller

    @Test func theCallersAnswerCarriesItsRecordRouteAndItsByeEndsTheCall() throws {
        var (call, answered) = answeredCaller(recordRoute: "<sip:192.0.2.30;lr>")
        let ok = try #require(responses(answered).first)
        #expect(ok.status == 200 && ok.headers.values("Record-Route") == ["<sip:192.0.2.30;lr>"])
        #expect(answered.contains(.registerDialog(.init(callID: "in-1", localTag: "srv"), leg: 1)))
        let bye = call.handle(.request(fromCaller("BYE", cseq: 2), leg: 1))
        #expect(responses(bye).map(\.status) == [200])
        #expect(bye.contains(.closeMedia(leg: 1)) && bye.contains(.forgetDialog(.init(callID: "in-1", localTag: "srv"))))
        #expect(delivered(bye) == [.callerHungUp])
    }

    /// This server's BYE goes to the first proxy of the route set (RFC 3261 §12.2.1.1).
    @Test func hangingUpTheCallerGoesThroughItsRouteSet() throws {
        var (call, _) = answeredCaller(recordRoute: "<sip:192.0.2.30;lr>")
        let (bye, peer, _) = try #require(sent(call.handle(.hangUpCaller)).first)
        #expect(bye.method == "BYE" && bye.headers.values("Route") == ["<sip:192.0.2.30;lr>"])
        #expect(peer == proxy)
        #expect(delivered(call.handle(.request(fromCaller("BYE", cseq: 2), leg: 1))).isEmpty, "gone already")
    }

    @Test func anAnswerNeverAcknowledgedIsHungUpWithAByeAndTheCallerIsGone() throws {
        var (call, _) = answeredCaller()
        let actions = call.handle(.notAcknowledged(leg: 1))
        #expect(sent(actions).map(\.0.method) == ["BYE"])
        #expect(delivered(actions) == [.callerHungUp])
    }

    @Test func keysCountOnlyFromTheCallerAndInfoIsAnswered() {
        var (call, _) = answeredCaller()
        #expect(delivered(call.handle(.key("4", leg: 1))) == [.key("4")])
        #expect(delivered(call.handle(.key("4", leg: 99))).isEmpty)
        let info = call.handle(.request(fromCaller("INFO", cseq: 2, body: "Signal=7\r\n", contentType: "application/dtmf-relay"), leg: 1))
        #expect(responses(info).map(\.status) == [200] && delivered(info) == [.key("7")])
        let unknown = call.handle(.request(fromCaller("INFO", cseq: 3, body: "{}", contentType: "application/json"), leg: 1))
        #expect(responses(unknown).map(\.status) == [415])
        let old = call.handle(.request(fromCaller("INFO", cseq: 2, body: "Signal=1\r\n", contentType: "application/dtmf-relay"), leg: 1))
        #expect(responses(old).map(\.status) == [500] && delivered(old).isEmpty, "RFC 3261 §12.2.2: out of order")
    }

    @Test func aReplacedPromptReportsNothing() {
        var (call, _) = answeredCaller()
        #expect(call.handle(.play(.builtIn(.ratingPrompt))) == [.loadSound(.builtIn(.ratingPrompt), codec: .pcmu, generation: 1, leg: 1)])
        _ = call.handle(.stopPlayback)
        #expect(call.handle(.soundLoaded([0xFF], generation: 1, leg: 1)).isEmpty, "stopped while it was read")
        #expect(call.handle(.playbackEnded(generation: 1)).isEmpty)
        _ = call.handle(.play(.builtIn(.ratingFinish)))
        #expect(call.handle(.soundLoaded([0xFF], generation: 3, leg: 1)) == [.playSound([0xFF], leg: 1, generation: 3)])
        #expect(delivered(call.handle(.playbackEnded(generation: 3))) == [.playbackFinished])
    }

    /// RFC 3261 §13.2.1, §14.2: an INVITE without SDP gets this server's offer in the 200 and
    /// its answer in the ACK; a prompt read in the law offered first starts again in the other.
    @Test func aLateOfferIsAnsweredInTheAckAndThePromptRestartsInTheChosenLaw() throws {
        var (call, answered) = answeredCaller(body: "")
        #expect(try #require(responses(answered).first).body.isEmpty == false, "the 200 carries the offer")
        _ = call.handle(.play(.builtIn(.ratingPrompt)))
        let ack = call.handle(.request(fromCaller("ACK", cseq: 1, body: Self.pcmaAnswer, contentType: "application/sdp"), leg: 1))
        #expect(ack.first == .stopMedia(leg: 1))
        #expect(ack.contains { if case .configureMedia(1, let format) = $0 { format.codec == .pcma } else { false } })
        #expect(ack.last == .loadSound(.builtIn(.ratingPrompt), codec: .pcma, generation: 2, leg: 1))

        var (silent, _) = answeredCaller(body: "")
        let empty = silent.handle(.request(fromCaller("ACK", cseq: 1), leg: 1))
        #expect(sent(empty).map(\.0.method) == ["BYE"] && delivered(empty) == [.callerHungUp], "no usable answer: hung up")
    }

    @Test func anOfferWithNothingInCommonIsRefused488() {
        var call = legs()
        let id = call.newLegID()
        let video = "v=0\r\no=- 1 1 IN IP4 192.0.2.5\r\ns=-\r\nc=IN IP4 192.0.2.5\r\nt=0 0\r\nm=audio 4000 RTP/AVP 18\r\n"
        let (actions, refusal) = call.offer(invite(body: video), from: trunk, localTag: "srv", leg: id, localPort: 20_000)
        #expect(refusal?.status == 488 && actions == [.closeMedia(leg: id)])
    }

    // MARK: SRTP (RFC 4568 SDES)

    static let theirKey = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwd"
    static let savpOffer = "v=0\r\no=- 1 1 IN IP4 192.0.2.5\r\ns=-\r\nc=IN IP4 192.0.2.5\r\nt=0 0\r\nm=audio 4000 RTP/SAVP 0 101\r\n"
        + "a=rtpmap:101 telephone-event/8000\r\na=crypto:3 AES_CM_128_HMAC_SHA1_80 inline:\(theirKey)\r\n"

    func srtpKeys(_ actions: [CallLegs.Action]) -> [MediaFormat.SRTPKeys?] {
        actions.compactMap { if case .configureMedia(_, let format) = $0 { format.srtp } else { nil } }
    }

    @Test func aSecureOfferIsAnsweredWithAKeyOfOurOwnAndTheLegIsSRTP() throws {
        var call = legs()
        let id = call.newLegID()
        let (actions, refusal) = call.offer(invite(body: Self.savpOffer), from: trunk, localTag: "srv", leg: id, localPort: 20_000)
        #expect(refusal == nil)
        let keys = try #require(srtpKeys(actions).first ?? nil)
        #expect(keys.receive.concatenated == Array(0..<30), "what the caller sends is decrypted with the caller's key")
        let ok = try #require(responses(call.handle(.answerCaller)).first)
        let answer = try #require(SessionDescription(parsing: ok.body))
        #expect(answer.isSecure && answer.crypto.map(\.tag) == [3])
        #expect(answer.crypto.first?.keySalt == keys.send.concatenated && keys.send != keys.receive, "our own key, sent in the answer")
        // Another call's leg gets another key.
        var other = legs()
        let (otherActions, _) = other.offer(invite(body: Self.savpOffer), from: trunk, localTag: "srv", leg: other.newLegID(), localPort: 20_002)
        #expect(srtpKeys(otherActions).first??.send != keys.send)
    }

    @Test func aSecureOfferWithoutAUsableKeyIsRefused488() {
        var call = legs()
        let id = call.newLegID()
        let mki = Self.savpOffer.replacing("inline:\(Self.theirKey)", with: "inline:\(Self.theirKey)|2^31|1:4")
        let (actions, refusal) = call.offer(invite(body: mki), from: trunk, localTag: "srv", leg: id, localPort: 20_000)
        #expect(refusal?.status == 488 && actions == [.closeMedia(leg: id)])
        #expect(refusal.map { if case .response(_, let reason) = $0.startLine { reason.contains("AES_CM_128_HMAC_SHA1_80") } else { false } } == true)
    }

    /// An INVITE without SDP over TLS: the 200 offers RTP/SAVP with our key, the ACK's answer
    /// gives the phone's. Over UDP the late offer is plain RTP.
    @Test func aLateOfferOverTLSIsSRTP() throws {
        let phone = SIPPeer(transport: .tls, address: try SocketAddress(ipAddress: "192.0.2.21", port: 40_123))
        var call = legs()
        let (_, refusal) = call.offer(invite(body: ""), from: phone, localTag: "srv", leg: call.newLegID(), localPort: 20_000)
        #expect(refusal == nil)
        let ok = try #require(responses(call.handle(.answerCaller)).first)
        let offer = try #require(SessionDescription(parsing: ok.body))
        #expect(offer.isSecure && offer.crypto.map(\.tag) == [1])
        let answer = Self.savpOffer.replacing("crypto:3", with: "crypto:1")
        let keys = try #require(srtpKeys(call.handle(.request(fromCaller("ACK", cseq: 1, body: answer), leg: 1))).first ?? nil)
        #expect(keys.send.concatenated == offer.crypto[0].keySalt && keys.receive.concatenated == Array(0..<30))

        var plain = legs()
        _ = plain.offer(invite(body: ""), from: trunk, localTag: "srv", leg: plain.newLegID(), localPort: 20_000)
        let plainOK = try #require(responses(plain.handle(.answerCaller)).first)
        #expect(try #require(SessionDescription(parsing: plainOK.body)).isSecure == false)
    }

    /// A phone reached over TLS is offered RTP/SAVP with our key; one over UDP, plain RTP. Its
    /// answer's key is what its SRTP is read with.
    @Test func phonesOverTLSAreOfferedSRTP() throws {
        let secureDesk = SIPPeer(transport: .tls, address: try SocketAddress(ipAddress: "192.0.2.21", port: 40_123))
        var (call, _) = answeredCaller()
        let invites = ring(&call, [device(secureDesk), device(desk)])
        let overTLS = try #require(invites[2]), overUDP = try #require(invites[3])
        let offer = try #require(SessionDescription(parsing: overTLS.body))
        #expect(offer.isSecure && offer.crypto.map(\.tag) == [1])
        #expect(overTLS.headers["Via"]?.hasPrefix("SIP/2.0/TLS 192.0.2.1:5061;") == true)
        #expect(overTLS.headers["Contact"] == "<sip:qualityrate@192.0.2.1:5061;transport=tls>")
        #expect(try #require(SessionDescription(parsing: overUDP.body)).isSecure == false)

        var ok = overTLS.response(status: 200, reason: "OK", toTag: "a")
        ok.headers.add("Contact", "<sip:101@192.0.2.21:40123;transport=tls>")
        ok.body = Array(Self.savpOffer.replacing("crypto:3", with: "crypto:1").utf8)
        let keys = try #require(srtpKeys(call.handle(.response(ok, leg: 2))).first ?? nil)
        #expect(keys.send.concatenated == offer.crypto[0].keySalt && keys.receive.concatenated == Array(0..<30))
    }

    // MARK: Agents

    /// RFC 3327: the INVITE to a device registered through a proxy carries its Path as Route
    /// and goes to the proxy.
    @Test func aDeviceBehindAProxyIsRungThroughItsPath() throws {
        var (call, _) = answeredCaller()
        let path = "<sip:192.0.2.30;lr;received=sip:192.0.2.21:5062>"
        let actions = call.handle(.ring(agent: "101", devices: [device(proxy, path: [path])]))
        let leg = try #require(opened(actions).first)
        let (invite, peer, _) = try #require(sent(call.handle(.mediaOpened(leg: leg, localPort: 30_000))).first)
        #expect(invite.headers.values("Route") == [path] && peer == proxy)
        #expect(invite.startLine == .request(method: "INVITE", uri: "sip:101@192.0.2.30:5060"))
    }

    @Test func allDevicesRingAndTheFirstToAnswerWinsTheOthersAreCancelled() throws {
        var (call, _) = answeredCaller()
        let invites = ring(&call, [device(desk), device(proxy)])
        #expect(invites.count == 2)
        let (first, second) = (invites[2]!, invites[3]!)
        let won = call.handle(.response(answer(first, tag: "a", recordRoute: "<sip:192.0.2.30;lr>"), leg: 2))
        #expect(delivered(won) == [.agentAnswered("101")])
        #expect(won.contains { if case .acknowledge(let ack, let peer) = $0 { ack.headers.values("Route") == ["<sip:192.0.2.30;lr>"] && peer == proxy } else { false } })
        let cancel = try #require(sent(won).first)
        #expect(cancel.0.method == "CANCEL" && cancel.2 == 3 && cancel.0.headers["Via"] == second.headers["Via"])
        // The other device answered as the CANCEL crossed: acknowledged, then hung up.
        let late = call.handle(.response(answer(second, tag: "b"), leg: 3))
        #expect(late.contains { if case .acknowledge = $0 { true } else { false } })
        #expect(sent(late).map(\.0.method) == ["BYE"] && delivered(late).isEmpty)
        #expect(call.handle(.bridge(agent: "101")) == [.bridgeMedia(1, 2)])
    }

    @Test func anAgentIsUnreachableOnceNoDeviceIsLeftRinging() {
        var (call, _) = answeredCaller()
        let invites = ring(&call, [device(desk), device(proxy)])
        #expect(delivered(call.handle(.response(invites[2]!.response(status: 486, reason: "Busy Here", toTag: "a"), leg: 2))).isEmpty)
        #expect(delivered(call.handle(.response(invites[3]!.response(status: 480, reason: "DND", toTag: "b"), leg: 3))) == [.agentUnreachable("101")])
    }

    /// Never two INVITEs of one call to one agent at a time: rung again while the cancelled
    /// INVITE has no final answer yet, the agent counts as unreachable and nothing is sent.
    @Test func anAgentWithAnInviteInFlightIsNotRungAgain() {
        var (call, _) = answeredCaller()
        let invites = ring(&call, [device(desk)])
        #expect(sent(call.handle(.cancelRinging(["101"]))).map(\.0.method) == ["CANCEL"])
        let again = call.handle(.ring(agent: "101", devices: [device(desk)]))
        #expect(opened(again).isEmpty && delivered(again) == [.agentUnreachable("101")])
        #expect(delivered(call.handle(.response(invites[2]!.response(status: 487, reason: "Request Terminated", toTag: "a"), leg: 2))).isEmpty)
        #expect(opened(call.handle(.ring(agent: "101", devices: [device(desk)]))).count == 1, "rung again once it ended")
    }

    @Test func aCallSendsNoMoreThanItsInviteLimit() {
        var call = legs(maximumInvites: 2)
        _ = call.offer(invite(), from: trunk, localTag: "srv", leg: call.newLegID(), localPort: 20_000)
        for round in 0..<2 {
            let invites = ring(&call, [device(desk)])
            #expect(invites.count == 1, "round \(round)")
            for (leg, invite) in invites { _ = call.handle(.response(invite.response(status: 486, reason: "Busy Here", toTag: "a"), leg: leg)) }
        }
        let refused = call.handle(.ring(agent: "101", devices: [device(desk)]))
        #expect(opened(refused).isEmpty && delivered(refused) == [.agentUnreachable("101")])
    }

    @Test func withoutAMediaPortADeviceIsNotRung() throws {
        var (call, _) = answeredCaller()
        let leg = try #require(opened(call.handle(.ring(agent: "101", devices: [device(desk)]))).first)
        let actions = call.handle(.mediaOpened(leg: leg, localPort: nil))
        #expect(sent(actions).isEmpty && delivered(actions) == [.agentUnreachable("101")])
    }

    // MARK: The end

    @Test func finishHangsUpWhatIsLeftOnceAndWaitsForTheCancelledPhone() {
        var (call, _) = answeredCaller()
        let invites = ring(&call, [device(desk)])
        let finished = call.handle(.finish)
        #expect(Set(sent(finished).map(\.0.method)) == ["BYE", "CANCEL"])
        #expect(finished.last == .callOver && delivered(finished).isEmpty)
        #expect(call.handle(.finish).isEmpty)
        #expect(!call.isDone, "the cancelled INVITE has no final answer yet")
        _ = call.handle(.response(invites[2]!.response(status: 487, reason: "Request Terminated", toTag: "a"), leg: 2))
        #expect(call.isDone)
    }
}
