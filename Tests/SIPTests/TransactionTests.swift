import SIP
import Testing

func request(_ method: String, cseq: UInt32 = 1) -> SIPMessage {
    SIPMessage(
        startLine: .request(method: method, uri: "sip:200@acme.local"),
        headers: SIPHeaders([
            ("Via", "SIP/2.0/UDP 127.0.0.1:5061;branch=z9hG4bK-7"), ("From", "<sip:a@x>;tag=1"), ("To", "<sip:200@acme.local>"),
            ("Call-ID", "c-1"), ("CSeq", "\(cseq) \(method)"), ("Route", "<sip:proxy.local;lr>"),
        ]))
}

func response(_ status: Int, to message: SIPMessage = request("INVITE")) -> SIPMessage {
    var headers = message.headers
    headers.set("To", "<sip:200@acme.local>;tag=srv")
    return SIPMessage(startLine: .response(status: status, reason: "R"), headers: headers)
}


@Suite struct ServerInviteTransactionTests {
    @Test func aRejectionIsRetransmittedUntilAcked() {
        var transaction = ServerInviteTransaction(reliable: false)
        #expect(transaction.handle(.send(response(100))) == [.send(response(100))])
        #expect(transaction.handle(.received(request("INVITE"))) == [.send(response(100))], "a retransmitted INVITE gets the last response")
        #expect(transaction.handle(.send(response(486))) == [.send(response(486)), .startTimer(.h, .seconds(32)), .startTimer(.g, .milliseconds(500))])
        #expect(transaction.handle(.timerFired(.g)) == [.send(response(486)), .startTimer(.g, .seconds(1))])
        #expect(transaction.handle(.timerFired(.g)) == [.send(response(486)), .startTimer(.g, .seconds(2))])
        #expect(transaction.handle(.timerFired(.g)) == [.send(response(486)), .startTimer(.g, .seconds(4))])
        #expect(transaction.handle(.timerFired(.g)) == [.send(response(486)), .startTimer(.g, .seconds(4))], "capped at T2")
        #expect(transaction.handle(.received(request("ACK"))) == [.cancelTimer(.g), .cancelTimer(.h), .startTimer(.i, .seconds(5))])
        #expect(transaction.state == .confirmed)
        #expect(transaction.handle(.received(request("ACK"))) == [], "absorbed")
        #expect(transaction.handle(.timerFired(.i)) == [.terminated])
    }

    @Test func noAckMeansTimeout() {
        var transaction = ServerInviteTransaction(reliable: true)
        #expect(transaction.handle(.send(response(603))) == [.send(response(603)), .startTimer(.h, .seconds(32))], "no retransmission on TCP")
        #expect(transaction.handle(.timerFired(.h)) == [.cancelTimer(.g), .timedOut, .terminated])
    }

    @Test func aTwoHundredIsAcceptedAndItsAckGoesToTheDialog() {
        var transaction = ServerInviteTransaction(reliable: false)
        #expect(transaction.handle(.send(response(200))) == [.send(response(200)), .startTimer(.l, .seconds(32))])
        #expect(transaction.handle(.send(response(200))) == [.send(response(200))], "the dialog retransmits its 2xx")
        #expect(transaction.handle(.received(request("ACK"))) == [.deliver(request("ACK"))])
        #expect(transaction.handle(.timerFired(.l)) == [.terminated])
        #expect(transaction.state == .terminated)
    }
}

@Suite struct ServerNonInviteTransactionTests {
    @Test func answersRetransmissionsWithTheLastResponse() {
        var transaction = ServerNonInviteTransaction(reliable: false)
        let bye = request("BYE", cseq: 2)
        #expect(transaction.handle(.received(bye)) == [], "nothing to repeat before the first answer")
        #expect(transaction.handle(.send(response(200, to: bye))) == [.send(response(200, to: bye)), .startTimer(.j, .seconds(32))])
        #expect(transaction.handle(.received(bye)) == [.send(response(200, to: bye))])
        #expect(transaction.handle(.timerFired(.j)) == [.terminated])
    }

    @Test func onTCPItEndsAtOnce() {
        var transaction = ServerNonInviteTransaction(reliable: true)
        #expect(transaction.handle(.send(response(200))).last == .startTimer(.j, .zero))
    }
}

@Suite struct ClientInviteTransactionTests {
    @Test func retransmitsUntilAnAnswerThenTimesOut() {
        var transaction = ClientInviteTransaction(invite: request("INVITE"), reliable: false)
        #expect(transaction.start() == [.send(request("INVITE")), .startTimer(.b, .seconds(32)), .startTimer(.a, .milliseconds(500))])
        #expect(transaction.handle(.timerFired(.a)) == [.send(request("INVITE")), .startTimer(.a, .seconds(1))])
        #expect(transaction.handle(.timerFired(.b)) == [.cancelTimer(.a), .timedOut, .terminated])
    }

    @Test func aBusyIsAckedByTheTransaction() throws {
        var transaction = ClientInviteTransaction(invite: request("INVITE"), reliable: false)
        _ = transaction.start()
        #expect(transaction.handle(.received(response(180))) == [.cancelTimer(.a), .cancelTimer(.b), .deliver(response(180))])
        let actions = transaction.handle(.received(response(486)))
        guard case .send(let ack) = actions[2] else { Issue.record("no ACK: \(actions)"); return }
        #expect(ack.method == "ACK")
        #expect(ack.headers["CSeq"] == "1 ACK" && ack.headers["To"] == "<sip:200@acme.local>;tag=srv")
        #expect(ack.headers["Via"] == "SIP/2.0/UDP 127.0.0.1:5061;branch=z9hG4bK-7" && ack.headers["Route"] == "<sip:proxy.local;lr>")
        #expect(actions.suffix(2) == [.deliver(response(486)), .startTimer(.d, .seconds(32))])
        #expect(transaction.handle(.received(response(486))) == [.send(ack)], "a retransmitted 486 is ACKed again")
        #expect(transaction.handle(.timerFired(.d)) == [.terminated])
    }

    @Test func aTwoHundredGoesToTheDialog() {
        var transaction = ClientInviteTransaction(invite: request("INVITE"), reliable: true)
        _ = transaction.start()
        #expect(transaction.handle(.received(response(200))) == [
            .cancelTimer(.a), .cancelTimer(.b), .deliver(response(200)), .startTimer(.m, .seconds(32)),
        ])
        #expect(transaction.handle(.received(response(200))) == [.deliver(response(200))])
        #expect(transaction.handle(.transportError) == [.cancelTimer(.a), .cancelTimer(.b), .transportFailed, .terminated])
    }
}

@Suite struct ClientNonInviteTransactionTests {
    @Test func byeRetransmitsAndCompletes() {
        let bye = request("BYE", cseq: 2)
        var transaction = ClientNonInviteTransaction(request: bye, reliable: false)
        #expect(transaction.start() == [.send(bye), .startTimer(.f, .seconds(32)), .startTimer(.e, .milliseconds(500))])
        #expect(transaction.handle(.timerFired(.e)) == [.send(bye), .startTimer(.e, .seconds(1))])
        #expect(transaction.handle(.received(response(200, to: bye))) == [
            .cancelTimer(.e), .cancelTimer(.f), .deliver(response(200, to: bye)), .startTimer(.k, .seconds(5)),
        ])
        #expect(transaction.handle(.timerFired(.k)) == [.terminated])
    }

    @Test func noAnswerTimesOut() {
        var transaction = ClientNonInviteTransaction(request: request("BYE"), reliable: true)
        #expect(transaction.start() == [.send(request("BYE")), .startTimer(.f, .seconds(32))])
        #expect(transaction.handle(.timerFired(.f)) == [.cancelTimer(.e), .timedOut, .terminated])
    }
}
