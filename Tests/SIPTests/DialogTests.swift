import SIP
import Testing

@Suite struct DialogTests {
    let invite = SIPMessage(
        startLine: .request(method: "INVITE", uri: "sip:4930555200@127.0.0.1"),
        headers: SIPHeaders([
            ("Via", "SIP/2.0/UDP 127.0.0.1:5061;branch=z9hG4bK-1"), ("Record-Route", "<sip:p1.local;lr>, <sip:p2.local;lr>"),
            ("From", "\"Caller\" <sip:+4930111222@trunk.local>;tag=abc"), ("To", "<sip:4930555200@127.0.0.1>"),
            ("Call-ID", "call-1"), ("CSeq", "10 INVITE"), ("Contact", "<sip:caller@127.0.0.1:5061>"),
        ]))

    @Test func aDialogWeAnsweredSendsItsByeToTheCallersContactThroughTheRoutes() throws {
        var dialog = try #require(Dialog(answering: invite, localTag: "srv1"))
        #expect(dialog.id == .init(callID: "call-1", localTag: "srv1", remoteTag: "abc"))
        let bye = dialog.request("BYE", via: "SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bK-b1")
        #expect(bye.startLine == .request(method: "BYE", uri: "sip:caller@127.0.0.1:5061"))
        #expect(bye.headers["From"] == "<sip:4930555200@127.0.0.1>;tag=srv1")
        #expect(bye.headers["To"] == "<sip:+4930111222@trunk.local>;tag=abc")
        #expect(bye.headers.values("Route") == ["<sip:p1.local;lr>", "<sip:p2.local;lr>"])
        #expect(bye.headers["CSeq"] == "1 BYE")
        #expect(dialog.request("INFO", via: "v").headers["CSeq"] == "2 INFO")
    }

    @Test func requestsOfTheDialogAreRecognisedAndOrdered() throws {
        var dialog = try #require(Dialog(answering: invite, localTag: "srv1"))
        var bye = invite
        bye.startLine = .request(method: "BYE", uri: "sip:4930555200@127.0.0.1")
        bye.headers.set("To", "<sip:4930555200@127.0.0.1>;tag=srv1")
        bye.headers.set("CSeq", "11 BYE")
        #expect(dialog.contains(bye))
        #expect(dialog.receive(bye) == .accepted)
        #expect(dialog.receive(bye) == .outOfOrder, "a CSeq not above the last one")
        var stranger = bye
        stranger.headers.set("To", "<sip:4930555200@127.0.0.1>;tag=other")
        #expect(!dialog.contains(stranger))
    }

    @Test func aDialogWeStartedAcksTheAnswerAndReversesTheRoutes() throws {
        var ours = invite
        ours.headers.set("From", "<sip:queue@acme.local>;tag=q1")
        ours.headers.set("To", "<sip:101@acme.local>")
        ours.headers.remove("Record-Route")
        var answer = ours.response(status: 200, reason: "OK", toTag: "ph1")
        answer.headers.add("Contact", "<sip:101@127.0.0.1:5062>")
        answer.headers.add("Record-Route", "<sip:p2.local;lr>")
        answer.headers.add("Record-Route", "<sip:p1.local;lr>")
        let dialog = try #require(Dialog(invite: ours, answer: answer))
        let ack = dialog.acknowledgement(via: "SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bK-a")
        #expect(ack.startLine == .request(method: "ACK", uri: "sip:101@127.0.0.1:5062"))
        #expect(ack.headers["CSeq"] == "10 ACK" && ack.headers["To"] == "<sip:101@acme.local>;tag=ph1")
        #expect(ack.headers.values("Route") == ["<sip:p1.local;lr>", "<sip:p2.local;lr>"])
        #expect(Dialog(invite: ours, answer: ours.response(status: 486, reason: "Busy Here", toTag: "x")) == nil)
    }

    @Test func theAnswerToAnInviteCopiesItsRecordRouteInOrder() {
        let ok = invite.response(status: 200, reason: "OK", toTag: "srv1")
        #expect(ok.headers.values("Record-Route") == ["<sip:p1.local;lr>", "<sip:p2.local;lr>"], "RFC 3261 §12.1.1")
        #expect(invite.response(status: 180, reason: "Ringing", toTag: "srv1").headers.values("Record-Route").count == 2)
        #expect(invite.response(status: 100, reason: "Trying").headers.values("Record-Route").isEmpty, "a 100 makes no dialog")
        #expect(invite.response(status: 486, reason: "Busy Here", toTag: "srv1").headers.values("Record-Route").isEmpty)
        var register = invite
        register.startLine = .request(method: "REGISTER", uri: "sip:acme.local")
        #expect(register.response(status: 200, reason: "OK", toTag: "r").headers.values("Record-Route").isEmpty)
    }

    @Test func aLooseRouteSetSendsToItsFirstProxyWithTheTargetAsRequestURI() throws {
        var dialog = try #require(Dialog(answering: invite, localTag: "srv1"))
        #expect(dialog.request("BYE", via: "v").startLine == .request(method: "BYE", uri: "sip:caller@127.0.0.1:5061"))
        #expect(dialog.firstHop?.description == "sip:p1.local;lr")
        var direct = invite
        direct.headers.remove("Record-Route")
        let plain = try #require(Dialog(answering: direct, localTag: "srv1"))
        #expect(plain.firstHop?.description == "sip:caller@127.0.0.1:5061", "no route set: the Contact")
    }

    /// RFC 3261 §12.2.1.1: a first hop without `lr` is a strict router (RFC 2543): it becomes the
    /// Request-URI, and the remote target goes last in the Route.
    @Test func aStrictRouterBecomesTheRequestURI() throws {
        var strict = invite
        strict.headers.set("Record-Route", "<sip:old.proxy:5070;maddr=192.0.2.1>, <sip:p2.local;lr>")
        var dialog = try #require(Dialog(answering: strict, localTag: "srv1"))
        let bye = dialog.request("BYE", via: "v")
        #expect(bye.startLine == .request(method: "BYE", uri: "sip:old.proxy:5070"))
        #expect(bye.headers.values("Route") == ["<sip:p2.local;lr>", "<sip:caller@127.0.0.1:5061>"])
        #expect(dialog.firstHop?.description == "sip:old.proxy:5070;maddr=192.0.2.1")
    }
}
