import Domain
import Testing

@Suite struct TrunkTests {
    func trunk(host: String, port: Int = 5060, fromDomain: String = "", prefixes: [String] = [], strip: Int = 0, add: String = "") -> Trunk {
        Trunk(
            id: 1, clientID: 1, name: "t", host: host, port: port, transport: .udp, username: "u", password: "p", register: false,
            registerExpires: 3600, fromDomain: fromDomain, prefixes: prefixes, position: 0, stripDigits: strip, addPrefix: add,
            callerID: nil, maxCalls: 0, status: .notRegistering, lastError: nil, createdAt: UnixTime(seconds: 0))
    }

    @Test func prefixesAreComparedWithoutThePlusAndNumbersRewritten() {
        let german = trunk(host: "sip.example", prefixes: ["+49", "0049"], strip: 2, add: "+")
        #expect(german.carries("+4915712345678") && german.carries("4915712345678") && german.carries("004930123"))
        #expect(!german.carries("+3312345678"))
        #expect(trunk(host: "sip.example").carries("+3312345678"), "no prefixes: every number")
        #expect(german.rewritten("00441632960123") == "+441632960123")
        #expect(trunk(host: "x", strip: 30).rewritten("123") == "")
    }

    @Test func urisBracketIPv6AndLeaveOutTheDefaultPort() {
        #expect(trunk(host: "sip.example").uriHostPort == "sip.example")
        #expect(trunk(host: "192.0.2.1", port: 5080).uriHostPort == "192.0.2.1:5080")
        #expect(trunk(host: "2001:db8::1", port: 5080).uriHostPort == "[2001:db8::1]:5080")
        #expect(trunk(host: "2001:db8::1").callerDomain == "[2001:db8::1]")
        #expect(trunk(host: "2001:db8::1", fromDomain: "acme.example").callerDomain == "acme.example")
    }

    @Test func outsideNumbersAndTheTryingOrder() {
        #expect(OutsideNumber.isValid("+4915712345678") && OutsideNumber.isValid("0049157*12#"))
        #expect(!OutsideNumber.isValid("+") && !OutsideNumber.isValid("1") && !OutsideNumber.isValid("*12") && !OutsideNumber.isValid("12a"))
        #expect(!OutsideNumber.isValid(String(repeating: "1", count: 21)))
        var first = trunk(host: "a", prefixes: ["49"])
        first.id = 5
        first.position = 1
        var second = trunk(host: "b")
        second.id = 3
        second.position = 1
        var third = trunk(host: "c", prefixes: ["33"])
        third.position = 0
        #expect(OutsideNumber.route("+4930", over: [first, second, third]).map(\.id) == [3, 5], "position, then id; only the carriers")
        #expect(OutsideParty.number(of: OutsideParty.name(of: "+4930")) == "+4930" && OutsideParty.number(of: "101") == nil)
    }
}
