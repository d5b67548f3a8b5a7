extension SIPMessage {
    /// A response to this request (RFC 3261 §8.2.6): its Via fields, From, Call-ID and CSeq, and
    /// its To with `toTag` added when it has none. A response to an INVITE that makes or keeps a
    /// dialog (a 1xx with a To tag, a 2xx) copies the request's Record-Route in order
    /// (RFC 3261 §12.1.1): without it the caller's ACK and BYE would bypass the record-routing
    /// proxies, which drop them.
    public func response(status: Int, reason: String, toTag: String? = nil) -> SIPMessage {
        var headers = SIPHeaders()
        for via in self.headers.values("Via") { headers.add("Via", via) }
        var tagged = false
        for name in ["From", "To", "Call-ID", "CSeq"] {
            guard var value = self.headers[name] else { continue }
            if name == "To", let toTag, NameAddress(value)?.tag == nil { value += ";tag=\(toTag)" }
            if name == "To" { tagged = NameAddress(value)?.tag != nil }
            headers.add(name, value)
        }
        if method == "INVITE", (101..<300).contains(status), tagged {
            for route in self.headers.values("Record-Route") { headers.add("Record-Route", route) }
        }
        headers.add("Server", "QualityRate")
        return SIPMessage(startLine: .response(status: status, reason: reason), headers: headers)
    }

    /// The longest binding this response grants, in seconds, when it is a 2xx to a REGISTER
    /// (RFC 3261 §10.3 step 8: each Contact with its `expires`, else the Expires header); nil for
    /// any other message.
    public var registrationLifetime: Int64? {
        guard let status, (200..<300).contains(status), headers["CSeq"].flatMap(CSeq.init)?.method == "REGISTER" else { return nil }
        let headerExpiry = headers["Expires"].flatMap { Int64($0) } ?? 0
        return headers.values("Contact").compactMap(NameAddress.init)
            .map { contact in (contact.parameters["expires"] ?? nil).flatMap { Int64($0) } ?? headerExpiry }
            .max()
    }
}
