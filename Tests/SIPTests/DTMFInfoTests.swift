import SIP
import Testing

@Suite struct DTMFInfoTests {
    func info(_ contentType: String, _ body: String, method: String = "INFO") -> SIPMessage {
        SIPMessage(
            startLine: .request(method: method, uri: "sip:200@acme.local"),
            headers: SIPHeaders([("Content-Type", contentType), ("CSeq", "3 \(method)")]), body: Array(body.utf8))
    }

    @Test func readsBothBodies() {
        #expect(DTMFInfo.key(in: info("application/dtmf-relay", "Signal=5\r\nDuration=160\r\n")) == "5")
        #expect(DTMFInfo.key(in: info("application/dtmf-relay; charset=utf-8", "Signal= #\nDuration=250")) == "#")
        #expect(DTMFInfo.key(in: info("application/dtmf-relay", "Signal=10\r\n")) == "*")
        #expect(DTMFInfo.key(in: info("application/dtmf", "7")) == "7")
        #expect(DTMFInfo.key(in: info("Application/DTMF", " a ")) == "A")
    }

    @Test func refusesAnythingElse() {
        #expect(DTMFInfo.key(in: info("application/dtmf-relay", "Duration=160")) == nil)
        #expect(DTMFInfo.key(in: info("application/dtmf", "12")) == nil)
        #expect(DTMFInfo.key(in: info("application/dtmf", "x")) == nil)
        #expect(DTMFInfo.key(in: info("text/plain", "5")) == nil)
        #expect(DTMFInfo.key(in: info("application/dtmf", "5", method: "MESSAGE")) == nil)
    }
}
