import SIP
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
        let address = Via.sentBy(host: advertisedHost, port: sipPort)
        return transport == .tcp ? "<sip:qualityrate@\(address);transport=tcp>" : "<sip:qualityrate@\(address)>"
    }

    func isTrunk(_ address: String) -> Bool { trunks.contains { $0.contains(address) } }

    /// The Via of a new request from this server (the same as `SIPEndpoint.newVia`, for the
    /// values that build requests without the endpoint).
    func via(transport: SIPTransportKind) -> String {
        Via.forNewRequest(transport: transport.rawValue, host: advertisedHost, port: sipPort)
    }
}

/// Random tokens for tags and Call-IDs (RFC 3261 §19.3: at least 32 bits of randomness).
enum Identifiers {
    static func tag() -> String { String(UInt64.random(in: 1...UInt64.max), radix: 36) }

    static func callID(host: String) -> String {
        String(UInt64.random(in: 1...UInt64.max), radix: 36) + String(UInt64.random(in: 1...UInt64.max), radix: 36) + "@" + host
    }
}
