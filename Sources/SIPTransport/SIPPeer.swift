public import NIOCore
public import SIP

public enum SIPTransportKind: String, Sendable, CaseIterable {
    case udp = "UDP", tcp = "TCP"
    /// SIP over TLS over TCP (RFC 3261 §26.2.1); Via `SIP/2.0/TLS`.
    case tls = "TLS"

    /// TCP and TLS: no retransmissions by the transaction layer (RFC 3261 §17.1.1.1).
    public var isReliable: Bool { self != .udp }
}

/// Where a message came from, or goes to.
public struct SIPPeer: Sendable, Hashable, CustomStringConvertible {
    public var transport: SIPTransportKind
    public var address: SocketAddress

    public init(transport: SIPTransportKind, address: SocketAddress) {
        self.transport = transport
        self.address = address
    }

    public var description: String { "\(transport.rawValue) \(address)" }
}

/// The transaction user: the call core above this layer. For one Call-ID, `SIPEndpoint` calls
/// these one at a time, in the order the messages arrived (a CANCEL never overtakes its INVITE,
/// nor a BYE its ACK); different Call-IDs may be called at the same time. A call that waits
/// long holds up the Call-IDs that share its lane: leave long work to tasks of your own.
/// OPTIONS are the exception: they have a lane of their own, so that a proxy's probes are
/// answered while calls wait, and may overtake their Call-ID's other requests.
public protocol SIPTransactionUser: Sendable {
    /// A request that opened a new server transaction (any method but ACK and CANCEL), or an ACK
    /// that matched no server transaction (the ACK of a 2xx, which belongs to the dialog).
    /// Retransmissions never reach here. Answer with `SIPEndpoint.respond(_:)`.
    func received(request: SIPMessage, from peer: SIPPeer) async
    /// A CANCEL matched an INVITE server transaction that has not sent a final response: the
    /// endpoint has already answered the CANCEL 200; the user should answer the INVITE 487.
    /// (A CANCEL matching nothing gets 481 from the endpoint and never reaches here.)
    func cancelled(invite: SIPMessage) async
    /// A 2xx to an INVITE was retransmitted for 64·T1 without an ACK (RFC 3261 §13.3.1.4): the
    /// user should end the dialog (send BYE).
    func answerNotAcknowledged(_ response: SIPMessage) async
}

extension SIPPeer {
    /// The peer a SIP URI names, when its host is an IP address (the Record-Route and Path URIs
    /// proxies put in are): its port or 5060, its `transport` parameter or `otherwise`'s
    /// transport (a `sips:` URI: TLS, RFC 3261 §19.1.2). A URI naming a host by name gives
    /// `otherwise`: this server resolves no names
    /// (no RFC 3263 lookups), and a request goes where the dialog or registration came from.
    public init(uri: SIPURI, otherwise fallback: SIPPeer) {
        let host = uri.host.hasPrefix("[") ? String(uri.host.dropFirst().dropLast()) : uri.host
        guard let address = try? SocketAddress(ipAddress: host, port: uri.port ?? 5060) else {
            self = fallback
            return
        }
        let transport: SIPTransportKind =
            switch (uri.parameters["transport"] ?? nil)?.lowercased() {
            case _ where uri.scheme.lowercased() == "sips": .tls
            case "tls": .tls
            case "tcp": .tcp
            case "udp": .udp
            default: fallback.transport
            }
        self.init(transport: transport, address: address)
    }

    /// Where the requests of `dialog` go: to its first proxy when it has a route set, else to
    /// `dialogPeer` — the address the dialog's messages came from, which also reaches a phone
    /// behind NAT whose Contact names a private address.
    public static func destination(of dialog: Dialog, otherwise dialogPeer: SIPPeer) -> SIPPeer {
        guard !dialog.routeSet.isEmpty, let hop = dialog.firstHop else { return dialogPeer }
        return SIPPeer(uri: hop, otherwise: dialogPeer)
    }
}
