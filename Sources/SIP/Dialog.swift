/// A SIP dialog (RFC 3261 §12): what two user agents keep to send each other requests after an
/// INVITE was answered — the identifiers, the sequence numbers, where to send (the remote
/// target) and through which proxies (the route set).
public struct Dialog: Sendable, Equatable {
    public struct ID: Sendable, Hashable {
        public var callID: String
        public var localTag: String
        public var remoteTag: String

        public init(callID: String, localTag: String, remoteTag: String) {
            self.callID = callID
            self.localTag = localTag
            self.remoteTag = remoteTag
        }
    }

    public var id: ID
    public var localURI: String
    public var remoteURI: String
    /// The remote party's Contact: the Request-URI of requests inside the dialog.
    public var remoteTarget: String
    /// Record-Route values, in the order requests must go through them.
    public var routeSet: [String]
    public var localSequence: UInt32
    public var remoteSequence: UInt32?

    /// The dialog of an INVITE this server answers with 2xx (RFC 3261 §12.1.1): `localTag` is the
    /// To tag put in the answer.
    public init?(answering invite: SIPMessage, localTag: String) {
        guard invite.method == "INVITE", let callID = invite.headers["Call-ID"],
            let from = invite.headers["From"].flatMap(NameAddress.init), let remoteTag = from.tag,
            let to = invite.headers["To"].flatMap(NameAddress.init),
            let contact = invite.headers.values("Contact").first.flatMap(NameAddress.init),
            let cseq = invite.headers["CSeq"].flatMap(CSeq.init)
        else { return nil }
        id = ID(callID: callID, localTag: localTag, remoteTag: remoteTag)
        localURI = to.uri.description
        remoteURI = from.uri.description
        remoteTarget = contact.uri.description
        routeSet = invite.headers.values("Record-Route")
        localSequence = 0
        remoteSequence = cseq.number
    }

    /// The dialog of an INVITE this server sent, from the 2xx that answered it (RFC 3261 §12.1.2):
    /// the route set is the response's Record-Route in reverse.
    public init?(invite: SIPMessage, answer: SIPMessage) {
        guard invite.method == "INVITE", (200..<300).contains(answer.status ?? 0), let callID = invite.headers["Call-ID"],
            let from = invite.headers["From"].flatMap(NameAddress.init), let localTag = from.tag,
            let to = answer.headers["To"].flatMap(NameAddress.init), let remoteTag = to.tag,
            let contact = answer.headers.values("Contact").first.flatMap(NameAddress.init),
            let cseq = invite.headers["CSeq"].flatMap(CSeq.init)
        else { return nil }
        id = ID(callID: callID, localTag: localTag, remoteTag: remoteTag)
        localURI = from.uri.description
        remoteURI = to.uri.description
        remoteTarget = contact.uri.description
        routeSet = answer.headers.values("Record-Route").reversed()
        localSequence = cseq.number
        remoteSequence = nil
    }

    /// Whether a request received belongs to this dialog: its Call-ID and tags (our tag in To).
    public func contains(_ request: SIPMessage) -> Bool {
        request.headers["Call-ID"] == id.callID
            && request.headers["To"].flatMap(NameAddress.init)?.tag == id.localTag
            && request.headers["From"].flatMap(NameAddress.init)?.tag == id.remoteTag
    }

    public enum RequestCheck: Sendable, Equatable {
        case accepted
        /// A CSeq lower than the last one: answer 500 (RFC 3261 §12.2.2).
        case outOfOrder
    }

    /// Checks and records the CSeq of a request received in the dialog (ACK and CANCEL reuse
    /// the INVITE's number and are not checked).
    public mutating func receive(_ request: SIPMessage) -> RequestCheck {
        guard let number = request.headers["CSeq"].flatMap(CSeq.init)?.number else { return .outOfOrder }
        if request.method == "ACK" || request.method == "CANCEL" { return .accepted }
        if let last = remoteSequence, number <= last { return .outOfOrder }
        remoteSequence = number
        return .accepted
    }

    /// A new request inside the dialog (BYE, re-INVITE, INFO), with the next CSeq; `via` is this
    /// server's Via value with a fresh branch.
    public mutating func request(_ method: String, via: String, contact: String? = nil, body: [UInt8] = [], contentType: String? = nil) -> SIPMessage {
        localSequence += 1
        return build(method, sequence: localSequence, via: via, contact: contact, body: body, contentType: contentType)
    }

    /// The ACK of a 2xx to an INVITE this server sent: same CSeq number as the INVITE
    /// (RFC 3261 §13.2.2.4), a new branch.
    public func acknowledgement(via: String) -> SIPMessage {
        build("ACK", sequence: localSequence, via: via, contact: nil, body: [], contentType: nil)
    }

    private func build(_ method: String, sequence: UInt32, via: String, contact: String?, body: [UInt8], contentType: String?) -> SIPMessage {
        var headers = SIPHeaders([
            ("Via", via), ("From", "<\(localURI)>;tag=\(id.localTag)"), ("To", "<\(remoteURI)>;tag=\(id.remoteTag)"),
            ("Call-ID", id.callID), ("CSeq", "\(sequence) \(method)"), ("Max-Forwards", "70"),
        ])
        let (requestURI, routes) = addressing
        for route in routes { headers.add("Route", route) }
        if let contact { headers.add("Contact", contact) }
        if let contentType { headers.add("Content-Type", contentType) }
        return SIPMessage(startLine: .request(method: method, uri: requestURI), headers: headers, body: body)
    }

    /// Where requests of the dialog are sent (RFC 3261 §8.1.2, §12.2.1.1): the first element of
    /// the route set, loose or strict router alike; without one, the remote target. Nil when
    /// that does not read as a SIP URI.
    public var firstHop: SIPURI? {
        if let first = routeSet.first { return NameAddress(first)?.uri }
        return SIPURI(remoteTarget)
    }

    /// The Request-URI and Route values of a request in the dialog (RFC 3261 §12.2.1.1): with
    /// no route set, straight to the remote target; when the first hop is a loose router (`lr`),
    /// the remote target with the whole route set; when it is a strict router (RFC 2543), the
    /// first hop becomes the Request-URI and the remote target the last Route.
    private var addressing: (requestURI: String, routes: [String]) {
        guard let first = routeSet.first, let hop = NameAddress(first), hop.uri.parameters["lr"] == nil else {
            return (remoteTarget, routeSet)
        }
        var requestURI = hop.uri
        // Parameters a Request-URI may not carry (RFC 3261 §19.1.1, table 1).
        requestURI.parameters.items.removeAll { ["method", "ttl", "maddr"].contains($0.name.lowercased()) }
        return (requestURI.description, Array(routeSet.dropFirst()) + ["<\(remoteTarget)>"])
    }
}
