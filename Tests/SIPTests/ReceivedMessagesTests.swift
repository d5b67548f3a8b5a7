import SIP
import Testing

@Suite struct ReadableRequestHeadTests {
    let head = """
        INVITE sip:200@acme.local SIP/2.0\r
        Via: SIP/2.0/UDP 10.0.0.7:5062;branch=z9hG4bK-1, SIP/2.0/UDP 10.0.0.9;branch=z9hG4bK-0\r
        From: <sip:a@x>;tag=1\r
        To: <sip:200@acme.local>\r
        i: c-1\r
        CSeq: 7 INVITE\r
        Content-Length: 5000\r
        \r
        short body
        """

    @Test func aTruncatedBodyStillHasAReadableHead() throws {
        let bytes = Array(head.utf8)
        #expect(throws: SIPParseError.self) { try SIPParser.parse(bytes) }
        let request = try #require(SIPParser.readableRequestHead(bytes))
        #expect(request.method == "INVITE")
        #expect(request.headers.values("Via") == ["SIP/2.0/UDP 10.0.0.7:5062;branch=z9hG4bK-1", "SIP/2.0/UDP 10.0.0.9;branch=z9hG4bK-0"])
        #expect(request.headers["Call-ID"] == "c-1")
        #expect(request.headers["CSeq"] == "7 INVITE")
        let response = request.response(status: 400, reason: "bad")
        #expect(response.headers["To"] == "<sip:200@acme.local>")
    }

    @Test func unreadableLinesAreSkipped() throws {
        let bytes = Array("OPTIONS sip:x SIP/2.0\r\nVia: SIP/2.0/TCP h;branch=z9hG4bK-2\r\n::garbage\r\nFrom: <sip:a@x>\r\nTo: <sip:b@x>\r\nCall-ID: c\r\nCSeq: 1 OPTIONS\r\n".utf8)
        #expect(SIPParser.readableRequestHead(bytes)?.headers["From"] == "<sip:a@x>")
    }

    @Test(arguments: [
        "SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK-2\r\nFrom: <sip:a@x>\r\nTo: <sip:b@x>\r\nCall-ID: c\r\nCSeq: 1 OPTIONS\r\n\r\n",
        "ACK sip:x SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK-2\r\nFrom: <sip:a@x>\r\nTo: <sip:b@x>\r\nCall-ID: c\r\nCSeq: 1 ACK\r\n\r\n",
        "OPTIONS sip:x SIP/2.0\r\nVia: nonsense\r\nFrom: <sip:a@x>\r\nTo: <sip:b@x>\r\nCall-ID: c\r\nCSeq: 1 OPTIONS\r\n\r\n",
        "OPTIONS sip:x SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK-2\r\nFrom: <sip:a@x>\r\nCall-ID: c\r\nCSeq: 1 OPTIONS\r\n\r\n",
        "OPTIONS sip:x SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK-2\r\nFrom: <sip:a@x>\r\nTo: <sip:b@x>\r\nCall-ID: c\rX: injected\r\nCSeq: 1 OPTIONS\r\n\r\n",
        "OPTIONS sip:x SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK-2\r\nFrom: <sip:a@x>\r\nTo: <sip:b@x>\r\nCall-ID: c\r\nCSeq: one OPTIONS\r\n\r\n",
        "\u{1}\u{2}garbage",
    ])
    func unanswerableBytesAreNotRead(_ text: String) {
        #expect(SIPParser.readableRequestHead(Array(text.utf8)) == nil)
    }

    @Test func reasonPhrasesLoseControlCharacters() {
        #expect(SIPParseError.unsupportedVersion("SIP/3\r\nX: y").reasonPhrase == "unsupported version SIP/3X: y")
    }
}

@Suite struct RecordSourceTests {
    func request(via: String) -> SIPMessage {
        SIPMessage(
            startLine: .request(method: "OPTIONS", uri: "sip:x"),
            headers: SIPHeaders([("Max-Forwards", "70"), ("v", via), ("Via", "SIP/2.0/UDP proxy;branch=z9hG4bK-0"), ("CSeq", "1 OPTIONS")]))
    }

    @Test func receivedIsAddedWhenTheHostDiffers() {
        var message = request(via: "SIP/2.0/UDP phone.local:5062;branch=z9hG4bK-1")
        message.recordSource(host: "10.0.0.7", port: 5062)
        #expect(message.headers.values("Via") == ["SIP/2.0/UDP phone.local:5062;branch=z9hG4bK-1;received=10.0.0.7", "SIP/2.0/UDP proxy;branch=z9hG4bK-0"])
        #expect(message.headers.fields.map(\.name) == ["Max-Forwards", "v", "Via", "CSeq"], "the field stays in place")
    }

    @Test func nothingChangesWhenTheHostIsTheSourceAndNoRportIsAsked() {
        var message = request(via: "SIP/2.0/UDP 10.0.0.7:5062;branch=z9hG4bK-1")
        message.recordSource(host: "10.0.0.7", port: 40000)
        #expect(message == request(via: "SIP/2.0/UDP 10.0.0.7:5062;branch=z9hG4bK-1"))
    }

    @Test func anEmptyRportIsFilledAndReceivedAlwaysAdded() {
        var message = request(via: "SIP/2.0/UDP 10.0.0.7:5062;rport;branch=z9hG4bK-1, SIP/2.0/UDP other;branch=z9hG4bK-9")
        message.recordSource(host: "10.0.0.7", port: 40000)
        #expect(message.headers.values("Via").first == "SIP/2.0/UDP 10.0.0.7:5062;rport=40000;branch=z9hG4bK-1;received=10.0.0.7")
        #expect(message.headers.values("Via").count == 3)
    }

    @Test func anIPv6HostIsComparedWithoutBrackets() {
        var message = request(via: "SIP/2.0/UDP [::1]:5062;branch=z9hG4bK-1")
        message.recordSource(host: "::1", port: 5062)
        #expect(message.headers.values("Via").first == "SIP/2.0/UDP [::1]:5062;branch=z9hG4bK-1")
    }
}
