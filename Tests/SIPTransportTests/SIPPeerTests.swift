import NIOCore
import SIP
import SIPTransport
import Testing

/// Where a Route or Path URI sends a request (RFC 3261 §19.1.2, §26.2.1 for TLS).
@Suite struct SIPPeerTests {
    let origin = SIPPeer(transport: .udp, address: try! SocketAddress(ipAddress: "192.0.2.9", port: 5060))

    func peer(_ uri: String) throws -> SIPPeer {
        SIPPeer(uri: try #require(SIPURI(uri)), otherwise: origin)
    }

    @Test func theTransportParameterOrTheSipsSchemeChoosesTheTransport() throws {
        #expect(try peer("sip:192.0.2.30;lr;transport=tls").transport == .tls)
        #expect(try peer("sip:192.0.2.30:5061;transport=TLS;lr").address.port == 5061)
        #expect(try peer("sips:192.0.2.30;lr").transport == .tls, "sips: is TLS whatever else it says")
        #expect(try peer("sip:192.0.2.30;transport=tcp").transport == .tcp)
        #expect(try peer("sip:192.0.2.30;lr").transport == .udp, "none given: the origin's")
        #expect(try peer("sips:proxy.example.net;lr") == origin, "a host name is not resolved")
    }

    @Test func onlyUDPIsUnreliable() {
        #expect(SIPTransportKind.allCases.filter(\.isReliable) == [.tcp, .tls])
    }
}
