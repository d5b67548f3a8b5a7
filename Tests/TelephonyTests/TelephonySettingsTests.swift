import NIOCore
import SIP
import SIPTransport
import Telephony
import Testing

@Suite struct TelephonySettingsTests {
    let settings = TelephonySettings(advertisedHost: "192.0.2.10", sipPort: 5060, trunks: [AddressRange("192.0.2.20/32")!])

    func register(vias: [String]) -> SIPMessage {
        SIPMessage(
            startLine: .request(method: "REGISTER", uri: "sip:acme.test"),
            headers: SIPHeaders(vias.map { ("Via", $0) } + [("Call-ID", "a"), ("CSeq", "1 REGISTER")]))
    }

    func peer(_ address: String) throws -> SIPPeer { SIPPeer(transport: .udp, address: try SocketAddress(ipAddress: address, port: 5060)) }

    /// Behind our proxy the phone is counted (its Via's `received`, else its host); anyone else
    /// — and a proxy not ours adding Vias — is counted by the address the request came from.
    @Test func theOriginatingAddressIsThePhoneBehindOurProxyOnly() throws {
        let relayed = register(vias: [
            "SIP/2.0/UDP 192.0.2.20;branch=z9hG4bK-p", "SIP/2.0/UDP 10.0.0.5:5062;branch=z9hG4bK-a;received=198.51.100.7",
        ])
        #expect(settings.originatingAddress(of: relayed, from: try peer("192.0.2.20")) == "198.51.100.7")
        let noReceived = register(vias: ["SIP/2.0/UDP 192.0.2.20;branch=z9hG4bK-p", "SIP/2.0/UDP 198.51.100.8;branch=z9hG4bK-b"])
        #expect(settings.originatingAddress(of: noReceived, from: try peer("192.0.2.20")) == "198.51.100.8")
        #expect(settings.originatingAddress(of: relayed, from: try peer("203.0.113.9")) == "203.0.113.9")
        let direct = register(vias: ["SIP/2.0/UDP 192.0.2.20;branch=z9hG4bK-d"])
        #expect(settings.originatingAddress(of: direct, from: try peer("192.0.2.20")) == "192.0.2.20")
    }
}
