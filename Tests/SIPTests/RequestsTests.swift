import SIP
import Testing

@Suite struct RequestsTests {
    @Test func anInviteCarriesItsOfferAndCancelReachesTheSameTransaction() throws {
        let from = try #require(NameAddress("\"Caller\" <sip:4930123@acme.test>;tag=f1"))
        let to = try #require(NameAddress("<sip:101@acme.test>"))
        let invite = SIPMessage.invite(
            target: "sip:101@127.0.0.1:5062", from: from, to: to, callID: "c1@qr", via: "SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bK1;rport",
            contact: "<sip:qualityrate@127.0.0.1:5060>", offer: Array("v=0\r\n".utf8))
        let text = String(decoding: invite.serialized(), as: UTF8.self)
        #expect(text.hasPrefix("INVITE sip:101@127.0.0.1:5062 SIP/2.0\r\n"))
        #expect(text.contains("CSeq: 1 INVITE\r\n") && text.contains("Content-Type: application/sdp\r\nContent-Length: 5\r\n\r\nv=0\r\n"))
        let parsed = try SIPParser.parse(invite.serialized())
        #expect(parsed.headers["From"].flatMap(NameAddress.init)?.tag == "f1")

        let cancel = try #require(invite.cancelling())
        #expect(cancel.startLine == .request(method: "CANCEL", uri: "sip:101@127.0.0.1:5062"))
        #expect(cancel.headers["Via"] == invite.headers["Via"] && cancel.headers["CSeq"] == "1 CANCEL")
        #expect(cancel.headers["From"] == invite.headers["From"] && cancel.headers["To"] == invite.headers["To"])
        #expect(cancel.headers["Call-ID"] == "c1@qr" && cancel.body.isEmpty)
        #expect(cancel.cancelling() == nil, "only an INVITE can be cancelled")
    }
}
