public import NIOCore
public import RTP

/// The G.711 law a leg's audio is in (RFC 3551: PCMU is payload type 0, PCMA 8).
public enum G711Codec: Sendable, Hashable {
    case pcmu, pcma

    /// The code of a zero sample, used to pad a prompt's short last frame.
    var silence: UInt8 {
        switch self {
        case .pcmu: 0xFF
        case .pcma: 0xD5
        }
    }
}

/// What was negotiated for a leg (from SDP): where to send, in which format.
public struct MediaFormat: Sendable, Equatable {
    /// nil = on hold, or no address yet: the leg sends nothing.
    public var remote: SocketAddress?
    public var codec: G711Codec
    public var payloadType: UInt8
    public var telephoneEventPayloadType: UInt8?
    /// Symmetric RTP: once RTP arrives from this IP address (any port), the leg sends to where
    /// it came from instead of `remote`. A phone behind NAT puts its private address in SDP and
    /// can only be reached at the address its packets leave the NAT from; naming the address
    /// its signalling came from keeps other hosts from taking the stream over. nil: never.
    public var symmetricHost: String?
    /// SRTP (RFC 3711): what this leg sends is protected with `send`, what it receives must
    /// authenticate under `receive`; nil: plain RTP.
    public var srtp: SRTPKeys?

    public struct SRTPKeys: Sendable, Equatable {
        public var send: SRTPKeyMaterial
        public var receive: SRTPKeyMaterial

        public init(send: SRTPKeyMaterial, receive: SRTPKeyMaterial) {
            self.send = send
            self.receive = receive
        }

        /// From the 30-byte key ‖ salt values of SDES; nil unless both are that long.
        public init?(sendKeySalt: [UInt8], receiveKeySalt: [UInt8]) {
            guard let send = SRTPKeyMaterial(concatenated: sendKeySalt), let receive = SRTPKeyMaterial(concatenated: receiveKeySalt) else {
                return nil
            }
            self.init(send: send, receive: receive)
        }
    }

    public init(
        remote: SocketAddress?, codec: G711Codec, payloadType: UInt8, telephoneEventPayloadType: UInt8?, symmetricHost: String? = nil,
        srtp: SRTPKeys? = nil
    ) {
        self.remote = remote
        self.codec = codec
        self.payloadType = payloadType
        self.telephoneEventPayloadType = telephoneEventPayloadType
        self.symmetricHost = symmetricHost
        self.srtp = srtp
    }

    /// This format after RTP arrived from `source`: sending there instead when symmetric RTP
    /// allows it (`symmetricHost`), nil when nothing changes. Never on hold: a leg with no remote
    /// stays silent.
    func following(rtpFrom source: SocketAddress) -> MediaFormat? {
        guard let host = symmetricHost, let remote, source != remote, source.ipAddress == host else { return nil }
        var moved = self
        moved.remote = source
        return moved
    }
}

public enum MediaError: Error, Equatable {
    /// Every even port of the RTP range is held by a leg or by another program.
    case noFreePort
}
