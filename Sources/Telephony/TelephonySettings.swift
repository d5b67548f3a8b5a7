public import SIP
public import SIPTransport

/// How the server presents itself on the network.
public struct TelephonySettings: Sendable {
    /// The address put in Contact headers and SDP: the `--sip` host (a wildcard address cannot
    /// be reached, so it is refused at start-up).
    public var advertisedHost: String
    public var sipPort: Int
    /// The port of SIP over TLS (`--sip-tls`), on the same advertised host; nil without TLS.
    public var sipTLSPort: Int?
    /// Source ranges calls to DIDs are accepted from (`--trunk`).
    public var trunks: [AddressRange]
    /// Where the clients' provider trunks may send (`--provider-addresses`); empty = anywhere. The
    /// hosts of trunks are set through the API, so an operator can keep the server from being
    /// pointed at addresses it should not send to.
    public var providerAddresses: [AddressRange]

    public init(advertisedHost: String, sipPort: Int, sipTLSPort: Int? = nil, trunks: [AddressRange], providerAddresses: [AddressRange] = []) {
        self.advertisedHost = advertisedHost
        self.sipPort = sipPort
        self.sipTLSPort = sipTLSPort
        self.trunks = trunks
        self.providerAddresses = providerAddresses
    }

    /// The Contact of this server's dialogs over `transport`; over TLS the TLS port with
    /// `transport=tls`, so the phone's in-dialog requests come back over TLS (RFC 3261 §26.2.1).
    func contact(for transport: SIPTransportKind, user: String = "qualityrate") -> String {
        let address = Via.sentBy(host: advertisedHost, port: port(for: transport))
        switch transport {
        case .udp: return "<sip:\(user)@\(address)>"
        case .tcp: return "<sip:\(user)@\(address);transport=tcp>"
        case .tls: return "<sip:\(user)@\(address);transport=tls>"
        }
    }

    private func port(for transport: SIPTransportKind) -> Int {
        transport == .tls ? sipTLSPort ?? sipPort : sipPort
    }

    func isTrunk(_ address: String) -> Bool { trunks.contains { $0.contains(address) } }

    /// The address a request was sent from, for the bans on failed authentication and the rate
    /// of new calls per source. A request relayed by a proxy of ours (one in the `--trunk`
    /// ranges, as Kamailio in front is) is counted against the address of the phone or trunk
    /// behind it: the bottom Via is theirs, with the `received` address the proxy saw it come
    /// from (RFC 3261 §18.2.1), so one guessing phone cannot get the proxy — and every phone
    /// behind it — banned.
    public func originatingAddress(of request: SIPMessage, from peer: SIPPeer) -> String {
        let address = peer.address.ipAddress ?? "\(peer.address)"
        let vias = request.headers.values("Via")
        guard isTrunk(address), vias.count > 1, let origin = vias.last.flatMap(Via.init) else { return address }
        return (origin.parameters["received"] ?? nil) ?? origin.host
    }

    /// The Via of a new request from this server (the same as `SIPEndpoint.newVia`, for the
    /// values that build requests without the endpoint).
    func via(transport: SIPTransportKind) -> String {
        Via.forNewRequest(transport: transport.rawValue, host: advertisedHost, port: port(for: transport))
    }
}

/// Random tokens for tags and Call-IDs (RFC 3261 §19.3: at least 32 bits of randomness).
enum Identifiers {
    static func tag() -> String { String(UInt64.random(in: 1...UInt64.max), radix: 36) }

    /// An SRTP master key and salt (RFC 4568 §6.1: 30 random bytes for AES_CM_128_HMAC_SHA1_80),
    /// from the system's cryptographic generator.
    static func srtpKeySalt() -> [UInt8] {
        var generator = SystemRandomNumberGenerator()
        return (0..<CryptoAttribute.keySaltLength).map { _ in UInt8.random(in: 0...255, using: &generator) }
    }

    static func callID(host: String) -> String {
        String(UInt64.random(in: 1...UInt64.max), radix: 36) + String(UInt64.random(in: 1...UInt64.max), radix: 36) + "@" + host
    }
}
