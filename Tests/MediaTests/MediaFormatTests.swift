import NIOCore
import Testing

@testable import Media

/// Symmetric RTP as a rule of the format alone: who may move where a leg sends.
@Suite struct MediaFormatTests {
    /// The private address a phone behind NAT puts in its SDP.
    let advertised: SocketAddress

    init() throws { advertised = try SocketAddress(ipAddress: "192.168.1.20", port: 4000) }

    func format(symmetricHost: String? = "203.0.113.7", remote: SocketAddress?) -> MediaFormat {
        MediaFormat(remote: remote, codec: .pcmu, payloadType: 0, telephoneEventPayloadType: 101, symmetricHost: symmetricHost)
    }

    @Test func rtpFromTheSignallingHostMovesTheStreamToItsSource() throws {
        let source = try SocketAddress(ipAddress: "203.0.113.7", port: 31_337)
        #expect(format(remote: advertised).following(rtpFrom: source)?.remote == source)
        #expect(format(remote: source).following(rtpFrom: source) == nil, "already there")
    }

    @Test func otherHostsHoldAndNoSymmetricHostMoveNothing() throws {
        let stranger = try SocketAddress(ipAddress: "198.51.100.9", port: 31_337)
        let phone = try SocketAddress(ipAddress: "203.0.113.7", port: 31_337)
        #expect(format(remote: advertised).following(rtpFrom: stranger) == nil)
        #expect(format(remote: nil).following(rtpFrom: phone) == nil, "on hold the leg stays silent")
        #expect(format(symmetricHost: nil, remote: advertised).following(rtpFrom: phone) == nil)
    }
}
