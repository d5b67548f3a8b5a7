import SIPTransport

/// How the server presents itself on the network.
public struct TelephonySettings: Sendable {
    /// The address put in Contact headers and SDP: the `--sip` host (a wildcard address cannot
    /// be reached, so it is refused at start-up).
    public var advertisedHost: String
    public var sipPort: Int
    /// Source ranges calls to DIDs are accepted from (`--trunk`).
    public var trunks: [AddressRange]

    public init(advertisedHost: String, sipPort: Int, trunks: [AddressRange]) {
        self.advertisedHost = advertisedHost
        self.sipPort = sipPort
        self.trunks = trunks
    }

    func contact(for transport: SIPTransportKind) -> String {
        let host = advertisedHost.contains(":") ? "[\(advertisedHost)]" : advertisedHost
        return transport == .tcp ? "<sip:qualityrate@\(host):\(sipPort);transport=tcp>" : "<sip:qualityrate@\(host):\(sipPort)>"
    }

    func isTrunk(_ address: String) -> Bool { trunks.contains { $0.contains(address) } }

    /// A Via value for a new request from this server, with a fresh branch (RFC 3261 §8.1.1.7):
    /// `SIP/2.0/UDP host:port;branch=z9hG4bK…;rport` (RFC 3581: answers come back to the
    /// port they were sent from).
    func via(transport: SIPTransportKind) -> String {
        let host = advertisedHost.contains(":") ? "[\(advertisedHost)]" : advertisedHost
        return "SIP/2.0/\(transport.rawValue) \(host):\(sipPort);branch=z9hG4bK\(String(UInt64.random(in: .min ... .max), radix: 16));rport"
    }
}

/// Random tokens for tags and Call-IDs (RFC 3261 §19.3: at least 32 bits of randomness).
enum Identifiers {
    static func tag() -> String { String(UInt64.random(in: 1...UInt64.max), radix: 36) }

    static func callID(host: String) -> String {
        String(UInt64.random(in: 1...UInt64.max), radix: 36) + String(UInt64.random(in: 1...UInt64.max), radix: 36) + "@" + host
    }
}
