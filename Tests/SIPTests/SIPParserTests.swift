import SIP
import Testing

let invite = """
    INVITE sip:4930555200@127.0.0.1:5060 SIP/2.0\r
    Via: SIP/2.0/UDP 127.0.0.1:5061;branch=z9hG4bK-1-0;rport\r
    From: "Caller" <sip:+4930111222@127.0.0.1:5061>;tag=1\r
    To: <sip:4930555200@127.0.0.1:5060>\r
    Call-ID: 1-12345@127.0.0.1\r
    CSeq: 1 INVITE\r
    Contact: <sip:sipp@127.0.0.1:5061>\r
    Max-Forwards: 70\r
    Content-Type: application/sdp\r
    Content-Length: 8\r
    \r
    v=0\r
    o=x
    """

@Suite struct SIPParserTests {
    @Test func parsesARequestWithItsBody() throws {
        let message = try SIPParser.parse(Array(invite.utf8))
        #expect(message.startLine == .request(method: "INVITE", uri: "sip:4930555200@127.0.0.1:5060"))
        #expect(message.headers["call-id"] == "1-12345@127.0.0.1")
        #expect(message.headers["CSEQ"] == "1 INVITE")
        #expect(String(decoding: message.body, as: UTF8.self) == "v=0\r\no=x")
        let from = try #require(NameAddress(message.headers["From"] ?? ""))
        #expect(from.displayName == "Caller" && from.tag == "1" && from.uri.user == "+4930111222" && from.uri.port == 5061)
        let via = try #require(Via(message.headers["Via"] ?? ""))
        #expect(via.transport == "UDP" && via.host == "127.0.0.1" && via.port == 5061 && via.branch == "z9hG4bK-1-0")
        #expect(via.parameters["rport"] == .some(nil))
    }

    @Test func parsesAResponseCompactFormsFoldingAndBareLineFeeds() throws {
        let text = "\r\nSIP/2.0 180 Ringing\nv: SIP/2.0/TCP 10.0.0.1;branch=z9hG4bKa\nf: <sip:a@x>;tag=9\nt: <sip:b@y>\n  ;tag=7\ni: abc\nCSeq: 2 INVITE\nl: 0\n\n"
        let message = try SIPParser.parse(Array(text.utf8))
        #expect(message.status == 180)
        #expect(message.headers["Via"] == "SIP/2.0/TCP 10.0.0.1;branch=z9hG4bKa")
        #expect(NameAddress(message.headers["To"] ?? "")?.tag == "7")
        #expect(message.headers["Call-ID"] == "abc")
    }

    @Test func aDatagramLongerThanContentLengthIsCut() throws {
        let message = try SIPParser.parse(Array((invite + "EXTRA").utf8))
        #expect(message.body.count == 8)
    }

    @Test func roundTripsThroughSerialisation() throws {
        let message = try SIPParser.parse(Array(invite.utf8))
        #expect(try SIPParser.parse(message.serialized()) == message)
        var answer = SIPMessage(startLine: .response(status: 200, reason: "OK"), headers: message.headers, body: Array("v=0\r\n".utf8))
        answer.headers.set("Content-Length", "999")
        let wire = String(decoding: answer.serialized(), as: UTF8.self)
        #expect(wire.hasPrefix("SIP/2.0 200 OK\r\n"))
        #expect(wire.contains("Content-Length: 5\r\n\r\nv=0\r\n"))
    }

    @Test func listValuedHeadersSplitOutsideQuotesAndBrackets() throws {
        var headers = SIPHeaders()
        headers.add("Via", "SIP/2.0/UDP a;branch=z9hG4bK1, SIP/2.0/UDP b;branch=z9hG4bK2")
        headers.add("v", "SIP/2.0/UDP c;branch=z9hG4bK3")
        headers.add("Contact", "\"Doe, J\" <sip:j@x>, <sip:k@y;a=b,c>")
        #expect(headers.values("via").count == 3)
        #expect(headers.values("Contact") == ["\"Doe, J\" <sip:j@x>", "<sip:k@y;a=b,c>"])
    }

    @Test(arguments: [
        ("", SIPParseError.noHeaderEnd),
        ("INVITE sip:a@b SIP/2.0\r\nVia: x\r\n", .noHeaderEnd),
        ("INVITE  SIP/2.0\r\n\r\n", .malformedStartLine),
        ("INVITE sip:a@b SIP/3.0\r\n\r\n", .unsupportedVersion("SIP/3.0")),
        ("SIP/2.0 99 Weird\r\n\r\n", .malformedStartLine),
        ("HELLO\r\n\r\n", .malformedStartLine),
        ("INV<ITE sip:a@b SIP/2.0\r\n\r\n", .malformedStartLine),
        ("OPTIONS sip:a@b SIP/2.0\r\nVia SIP/2.0/UDP x\r\n\r\n", .malformedHeader(line: 2)),
        ("OPTIONS sip:a@b SIP/2.0\r\n folded first\r\n\r\n", .malformedHeader(line: 2)),
        ("OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP x\r\nFrom: <sip:a@b>\r\nTo: <sip:a@b>\r\nCSeq: 1 OPTIONS\r\n\r\n", .missingHeader("Call-ID")),
        ("OPTIONS sip:a@b SIP/2.0\r\nVia: v\r\nFrom: f\r\nTo: t\r\nCall-ID: c\r\nCSeq: one OPTIONS\r\n\r\n", .malformedCSeq),
        ("OPTIONS sip:a@b SIP/2.0\r\nVia: v\r\nFrom: f\r\nTo: t\r\nCall-ID: c\r\nCSeq: 1 INVITE\r\n\r\n", .cseqMethodMismatch),
        ("OPTIONS sip:a@b SIP/2.0\r\nVia: v\r\nFrom: f\r\nTo: t\r\nCall-ID: c\r\nCSeq: 1 OPTIONS\r\nContent-Length: -1\r\n\r\n", .malformedContentLength),
        ("OPTIONS sip:a@b SIP/2.0\r\nVia: v\r\nFrom: f\r\nTo: t\r\nCall-ID: c\r\nCSeq: 1 OPTIONS\r\nContent-Length: 10\r\n\r\nabc", .incompleteBody(expected: 10, received: 3)),
    ])
    func refusesWithAReason(text: String, error: SIPParseError) {
        #expect(throws: error) { try SIPParser.parse(Array(text.utf8)) }
    }

    @Test func refusesNonTextAndOversizedMessages() {
        #expect(throws: SIPParseError.notText) { try SIPParser.parse([0xFF, 0xFE, 0x0D, 0x0A, 0x0D, 0x0A]) }
        // A NUL in a header (here the To user) is no text either: it never reaches a lookup.
        let withNUL = Array("REGISTER sip:acme.test SIP/2.0\r\nVia: v\r\nFrom: f\r\nTo: <sip:10".utf8) + [0x00]
            + Array("1@acme.test>\r\nCall-ID: c\r\nCSeq: 1 REGISTER\r\n\r\n".utf8)
        #expect(throws: SIPParseError.notText) { try SIPParser.parse(withNUL) }
        #expect(throws: SIPParseError.tooLarge(limit: SIPParser.maxMessageSize)) {
            try SIPParser.parse(Array(repeating: 0x41, count: SIPParser.maxMessageSize + 1))
        }
        let many = "OPTIONS sip:a@b SIP/2.0\r\n" + String(repeating: "X-A: 1\r\n", count: 200) + "\r\n"
        #expect(throws: SIPParseError.tooManyHeaders(limit: SIPParser.maxHeaderFields)) { try SIPParser.parse(Array(many.utf8)) }
    }

    @Test func anyBytesAreParsedOrRefusedNeverTrapping() {
        var generator = SystemRandomNumberGenerator()
        let valid = Array(invite.utf8)
        for round in 0..<20_000 {
            var bytes: [UInt8]
            switch round % 4 {
            case 0: bytes = (0..<Int.random(in: 0..<300, using: &generator)).map { _ in UInt8.random(in: 0...255, using: &generator) }
            case 1: bytes = Array(valid.prefix(Int.random(in: 0...valid.count, using: &generator)))
            case 2:
                bytes = valid
                for _ in 0..<Int.random(in: 1...8, using: &generator) {
                    bytes[Int.random(in: 0..<bytes.count, using: &generator)] = UInt8.random(in: 0...255, using: &generator)
                }
            default:
                bytes = valid
                bytes.insert(contentsOf: Array("X: \(String(repeating: ":;<>\"\\,", count: 5))\r\n".utf8), at: 60)
            }
            _ = try? SIPParser.parse(bytes)
            var framer = SIPStreamFramer()
            framer.append(bytes)
            _ = try? framer.nextMessage()
        }
    }
}

@Suite struct SIPStreamFramerTests {
    @Test(arguments: [1, 2, 3, 37]) func findsMessagesAcrossChunksAndSkipsKeepAlives(chunkSize: Int) throws {
        var framer = SIPStreamFramer()
        let wire = Array(("\r\n\r\n" + invite + "\r\n" + invite).utf8)
        var messages: [SIPMessage] = []
        for chunk in stride(from: 0, to: wire.count, by: chunkSize).map({ wire[$0..<min($0 + chunkSize, wire.count)] }) {
            framer.append(chunk)
            while let message = try framer.nextMessage() { messages.append(message) }
        }
        #expect(messages.count == 2)
        #expect(messages.allSatisfy { $0.body.count == 8 })
    }

    @Test func aStreamMessageNeedsContentLength() {
        var framer = SIPStreamFramer()
        framer.append(Array("OPTIONS sip:a@b SIP/2.0\r\nVia: v\r\nFrom: f\r\nTo: t\r\nCall-ID: c\r\nCSeq: 1 OPTIONS\r\n\r\n".utf8))
        #expect(throws: SIPParseError.missingHeader("Content-Length")) { try framer.nextMessage() }
    }

    @Test func refusesAStreamThatNeverEndsItsHeaders() {
        var framer = SIPStreamFramer()
        framer.append(Array(repeating: 0x41, count: SIPParser.maxMessageSize + 10))
        #expect(throws: SIPParseError.tooLarge(limit: SIPParser.maxMessageSize)) { try framer.nextMessage() }
    }
}

@Suite struct SIPHeaderValueTests {
    @Test func parsesURIs() throws {
        let uri = try #require(SIPURI("sip:101@acme.local:5080;transport=tcp?subject=x"))
        #expect(uri.user == "101" && uri.host == "acme.local" && uri.port == 5080 && uri.parameters["transport"] == .some("tcp"))
        #expect(SIPURI("sips:[::1]:5061")?.host == "[::1]")
        #expect(SIPURI("tel:+4930111") == nil)
        #expect(SIPURI("sip:a@b:99999") == nil)
        #expect(SIPURI("sip:") == nil)
        #expect(uri.description == "sip:101@acme.local:5080;transport=tcp")
    }

    @Test func parsesNameAddresses() throws {
        let bare = try #require(NameAddress("sip:101@acme.local;tag=abc"))
        #expect(bare.tag == "abc" && bare.uri.parameters.items.isEmpty)
        let quoted = try #require(NameAddress("\"Anna S\" <sip:101@acme.local;transport=udp>;tag=x1"))
        #expect(quoted.displayName == "Anna S" && quoted.tag == "x1" && quoted.uri.parameters["transport"] == .some("udp"))
        #expect(NameAddress("<sip:broken") == nil)
    }

    @Test func parsesCSeqAndVia() {
        #expect(CSeq("314159 INVITE") == CSeq(number: 314_159, method: "INVITE"))
        #expect(CSeq("4294967295 INVITE") == nil)
        #expect(CSeq("1") == nil)
        #expect(Via("SIP/2.0/TCP [::1]:5070;branch=z9hG4bKx;received=1.2.3.4")?.port == 5070)
        #expect(Via("HTTP/1.1 x") == nil)
    }
}
