/// Requests a user agent server builds outside a dialog.
extension SIPMessage {
    /// An INVITE that rings `target` (a phone's registered Contact) on behalf of `from`, with
    /// `offer` as its SDP body (RFC 3261 §8.1.1).
    /// `routes` is the binding's Path (RFC 3327 §5.3): the proxies between this server and the
    /// phone, first hop first, sent as its Route.
    public static func invite(
        target: String, routes: [String] = [], from: NameAddress, to: NameAddress, callID: String, via: String, contact: String,
        offer: [UInt8]
    ) -> SIPMessage {
        var headers = SIPHeaders([("Via", via), ("Max-Forwards", "70")])
        for route in routes { headers.add("Route", route) }
        for field in [
            ("From", from.description), ("To", to.description), ("Call-ID", callID), ("CSeq", "1 INVITE"), ("Contact", contact),
            ("Allow", SIPMessage.allowedMethods), ("Content-Type", "application/sdp"),
        ] { headers.add(field.0, field.1) }
        return SIPMessage(startLine: .request(method: "INVITE", uri: target), headers: headers, body: offer)
    }

    /// The CANCEL of this INVITE (RFC 3261 §9.1): the same Request-URI, top Via (so it reaches
    /// the same transaction), Call-ID, From, To and CSeq number; nil when this is not an INVITE.
    public func cancelling() -> SIPMessage? {
        guard case .request("INVITE", let uri) = startLine, let via = headers.values("Via").first,
            let cseq = headers["CSeq"].flatMap(CSeq.init)
        else { return nil }
        var cancel = SIPHeaders([("Via", via), ("Max-Forwards", "70")])
        for name in ["From", "To", "Call-ID"] {
            if let value = headers[name] { cancel.add(name, value) }
        }
        cancel.add("CSeq", CSeq(number: cseq.number, method: "CANCEL").description)
        for route in headers.values("Route") { cancel.add("Route", route) }
        return SIPMessage(startLine: .request(method: "CANCEL", uri: uri), headers: cancel)
    }

    /// The methods this server answers, for `Allow` headers and 405 responses.
    public static let allowedMethods = "INVITE, ACK, BYE, CANCEL, OPTIONS, REGISTER, INFO"
}
