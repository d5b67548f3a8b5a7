extension SIPMessage {
    /// A response to this request (RFC 3261 §8.2.6): its Via fields, From, Call-ID and CSeq, and
    /// its To with `toTag` added when it has none.
    public func response(status: Int, reason: String, toTag: String? = nil) -> SIPMessage {
        var headers = SIPHeaders()
        for via in self.headers.values("Via") { headers.add("Via", via) }
        for name in ["From", "To", "Call-ID", "CSeq"] {
            guard var value = self.headers[name] else { continue }
            if name == "To", let toTag, NameAddress(value)?.tag == nil { value += ";tag=\(toTag)" }
            headers.add(name, value)
        }
        headers.add("Server", "QualityRate")
        return SIPMessage(startLine: .response(status: status, reason: reason), headers: headers)
    }
}
