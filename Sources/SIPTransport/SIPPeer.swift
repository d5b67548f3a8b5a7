public import NIOCore
public import SIP

public enum SIPTransportKind: String, Sendable { case udp = "UDP", tcp = "TCP" }

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
