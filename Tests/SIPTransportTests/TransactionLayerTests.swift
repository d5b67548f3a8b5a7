import NIOCore
import SIP
@testable import SIPTransport
import Testing

/// RFC 3261 §17 matching, CANCEL and ACK routing and the 2xx retransmission, in memory: the
/// layer is a value, fed messages and timer expiries, and its outputs are what is checked.
@Suite struct TransactionLayerTests {
    let timers = SIPTimerValues.standard
    let phone = SIPPeer(transport: .udp, address: try! SocketAddress(ipAddress: "192.0.2.10", port: 5062))

    func request(_ method: String, branch: String = "z9hG4bK-1", cseq: UInt32 = 1, cseqMethod: String? = nil, toTag: String? = nil) -> SIPMessage {
        SIPMessage(
            startLine: .request(method: method, uri: "sip:4930555099@192.0.2.1"),
            headers: SIPHeaders([
                ("Via", "SIP/2.0/UDP 192.0.2.10:5062;branch=\(branch)"), ("From", "<sip:caller@trunk>;tag=c"),
                ("To", "<sip:4930555099@192.0.2.1>" + (toTag.map { ";tag=\($0)" } ?? "")), ("Call-ID", "call-1"),
                ("CSeq", "\(cseq) \(cseqMethod ?? method)"), ("Max-Forwards", "70"),
            ]))
    }

    func transmitted(_ outputs: [TransactionLayer.Output]) -> [SIPMessage] {
        outputs.compactMap { if case .transmit(let message, _, _) = $0 { message } else { nil } }
    }

    func delivered(_ outputs: [TransactionLayer.Output]) -> [TransactionLayer.Delivery] {
        outputs.compactMap { if case .deliver(let delivery) = $0 { delivery } else { nil } }
    }

    @Test func anInviteIsTriedAtOnceDeliveredOnceAndItsRetransmissionGetsTheLastResponse() throws {
        var layer = TransactionLayer(timers: timers)
        let invite = request("INVITE")
        let first = layer.received(invite, from: phone)
        #expect(transmitted(first).map(\.status) == [100])
        let delivery = try #require(delivered(first).first)
        guard case .request(let handed, _) = delivery else { Issue.record("not a request"); return }
        #expect(handed == invite, "its Via names where it came from: nothing to record")

        let again = layer.received(invite, from: phone)
        #expect(delivered(again).isEmpty, "a retransmission never reaches the user")
        #expect(transmitted(again).map(\.status) == [100], "the last response is sent again (§17.2.1)")
        _ = layer.respond(invite.response(status: 486, reason: "Busy Here", toTag: "s"))
        #expect(transmitted(layer.received(invite, from: phone)).map(\.status) == [486])
    }

    @Test func aCancelOfAPendingInviteIsAnsweredAndHandedOnAndAStrayOneGets481() {
        var layer = TransactionLayer(timers: timers)
        _ = layer.received(request("INVITE"), from: phone)
        let cancel = layer.received(request("CANCEL", cseqMethod: "CANCEL"), from: phone)
        #expect(transmitted(cancel).map(\.status) == [200])
        #expect(delivered(cancel).map { if case .cancelled = $0 { true } else { false } } == [true])

        let stray = layer.received(request("CANCEL", branch: "z9hG4bK-none", cseqMethod: "CANCEL"), from: phone)
        #expect(transmitted(stray).map(\.status) == [481])
        #expect(delivered(stray).isEmpty)

        var answered = TransactionLayer(timers: timers)
        let invite = request("INVITE", branch: "z9hG4bK-2")
        _ = answered.received(invite, from: phone)
        _ = answered.respond(invite.response(status: 200, reason: "OK", toTag: "s"))
        let late = answered.received(request("CANCEL", branch: "z9hG4bK-2", cseqMethod: "CANCEL"), from: phone)
        #expect(transmitted(late).map(\.status) == [200], "answered 200 (§9.2)")
        #expect(delivered(late).isEmpty, "but an answered INVITE is not cancelled")
    }

    /// RFC 3261 §13.3.1.4: T1, 2·T1, 4·T1 … capped at T2; the ACK stops it; without one, the
    /// user hears of it after 64·T1.
    @Test func aTwoXXIsRetransmittedUntilItsAckOrGivenUpAfter64T1() {
        var layer = TransactionLayer(timers: timers)
        let invite = request("INVITE")
        _ = layer.received(invite, from: phone)
        let ok = invite.response(status: 200, reason: "OK", toTag: "s")
        let sent = layer.respond(ok)
        #expect(transmitted(sent) == [ok])
        let answer = TransactionID.answer(AnswerKey(ok)!)
        #expect(sent.contains(.startTimer(answer, .g, .milliseconds(500))))
        #expect(sent.contains(.startTimer(answer, .h, .seconds(32))))
        var intervals: [Duration] = []
        for _ in 0..<5 {
            let fired = layer.timerFired(.g, for: answer)
            #expect(transmitted(fired) == [ok])
            for case .startTimer(_, .g, let next) in fired { intervals.append(next) }
        }
        #expect(intervals == [.seconds(1), .seconds(2), .seconds(4), .seconds(4), .seconds(4)])

        var unacknowledged = layer
        #expect(delivered(unacknowledged.timerFired(.h, for: answer)) == [.notAcknowledged(ok)])

        let ack = request("ACK", branch: "z9hG4bK-ack", toTag: "s")
        let acked = layer.received(ack, from: phone)
        #expect(acked.contains(.cancelTimer(answer, .g)))
        #expect(delivered(acked).count == 1, "the ACK of a 2xx belongs to the dialog: the user's")
        #expect(layer.received(ack, from: phone).isEmpty, "a retransmitted ACK is absorbed")
        #expect(delivered(layer.timerFired(.h, for: answer)).isEmpty, "acknowledged: nothing to report")
    }

    @Test func theAckOfANon2xxIsAbsorbedByItsTransaction() {
        var layer = TransactionLayer(timers: timers)
        let invite = request("INVITE")
        _ = layer.received(invite, from: phone)
        _ = layer.respond(invite.response(status: 486, reason: "Busy Here", toTag: "s"))
        let ack = layer.received(request("ACK", cseqMethod: "ACK", toTag: "s"), from: phone)
        #expect(delivered(ack).isEmpty && transmitted(ack).isEmpty)
    }

    @Test func responsesFindTheirClientTransactionByBranchAndStraysAreCounted() throws {
        var layer = TransactionLayer(timers: timers)
        var invite = request("INVITE", branch: "z9hG4bK-ours")
        invite.headers.set("Via", "SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK-ours")
        let (key, started) = try layer.start(invite, to: phone).get()
        #expect(transmitted(started) == [invite])
        let clientKey = try #require(key)
        #expect(started.contains(.startTimer(.client(clientKey), .a, .milliseconds(500))))
        #expect(throws: TransactionLayer.StartRefusal.branchNotUnique) { try layer.start(invite, to: phone).get() }

        let ringing = invite.response(status: 180, reason: "Ringing", toTag: "p")
        #expect(layer.received(ringing, from: phone).contains(.response(ringing, for: clientKey)))
        let busy = invite.response(status: 486, reason: "Busy Here", toTag: "p")
        let final = layer.received(busy, from: phone)
        #expect(final.contains(.response(busy, for: clientKey)) && final.contains(.clientFinished(clientKey)))
        #expect(transmitted(final).map(\.method) == ["ACK"], "the ACK of a non-2xx is the transaction's (§17.1.1.3)")

        var stray = busy
        stray.headers.set("Via", "SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK-unknown")
        #expect(layer.received(stray, from: phone) == [.unmatchedResponse(stray, from: phone)])
    }

    @Test func aClientTransactionThatTimesOutAnswers408AndOneWhoseConnectionClosesAnswers503() throws {
        var layer = TransactionLayer(timers: timers)
        var bye = request("BYE", toTag: "p")
        bye.headers.set("Via", "SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK-bye")
        let key = try #require(try layer.start(bye, to: phone).get().0)
        let timedOut = layer.timerFired(.f, for: .client(key))
        #expect(timedOut.contains { if case .response(let response, _) = $0 { response.status == 408 } else { false } })
        #expect(timedOut.contains(.clientFinished(key)))

        let tcpPhone = SIPPeer(transport: .tcp, address: phone.address)
        var info = request("INFO", toTag: "p")
        info.headers.set("Via", "SIP/2.0/TCP 192.0.2.1:5060;branch=z9hG4bK-info")
        let infoKey = try #require(try layer.start(info, to: tcpPhone).get().0)
        let closed = layer.connectionClosed(tcpPhone)
        #expect(closed.contains { if case .response(let response, infoKey) = $0 { response.status == 503 } else { false } })
    }

    @Test func aRequestWhoseViaDoesNotReadIsRefusedAndAResponseWithoutTransactionDropped() {
        var layer = TransactionLayer(timers: timers)
        var broken = request("OPTIONS")
        broken.headers.set("Via", "not a via")
        let refused = layer.received(broken, from: phone)
        #expect(transmitted(refused).map(\.status) == [400])
        #expect(delivered(refused).isEmpty)
        let orphan = request("OPTIONS").response(status: 200, reason: "OK", toTag: "x")
        #expect(layer.respond(orphan) == [.responseDropped(orphan)])
    }
}

/// `--log-level trace` shows whole messages, but never credentials: a digest `response` in a log
/// would let its reader guess the password offline.
@Suite struct TraceLoggingTests {
    @Test func credentialsAreLeftOutOfLoggedMessages() {
        let register = "REGISTER sip:acme.test SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.10:5062;branch=z9hG4bK-1\r\n"
            + "authorization: Digest username=\"101\", response=\"0123456789abcdef\"\r\n"
            + "Proxy-Authorization: Digest username=\"101\", response=\"fedcba9876543210\"\r\nCall-ID: r1\r\n\r\n"
        let logged = SIPEndpoint.loggable(Array(register.utf8))
        #expect(!logged.contains("0123456789abcdef") && !logged.contains("fedcba9876543210"))
        #expect(logged.contains("authorization: (credentials not logged)") && logged.contains("Proxy-Authorization: (credentials not logged)"))
        #expect(logged.contains("Via: SIP/2.0/UDP 192.0.2.10:5062;branch=z9hG4bK-1") && logged.contains("Call-ID: r1"))
    }

    @Test func srtpKeysAreLeftOutOfLoggedSDP() {
        let invite = "INVITE sip:7001@acme.test SIP/2.0\r\nCall-ID: c1\r\nContent-Type: application/sdp\r\n\r\n"
            + "v=0\r\nm=audio 4000 RTP/SAVP 0\r\na=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwd|2^31\r\n"
        let logged = SIPEndpoint.loggable(Array(invite.utf8))
        #expect(!logged.contains("AAECAwQF"))
        #expect(logged.contains("a=crypto:1 AES_CM_128_HMAC_SHA1_80 (key not logged)") && logged.contains("m=audio 4000 RTP/SAVP 0"))
    }
}
