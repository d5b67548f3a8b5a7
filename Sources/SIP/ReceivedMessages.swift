/// What a transport does to a message as it comes in: reading enough of a message that failed to
/// parse to refuse it with a 400, and recording on the top Via where a request came from.

extension SIPParser {
    /// The request line and the headers a response is built from (Via, From, To, Call-ID, CSeq),
    /// read from bytes that `parse` refused, so that the request can be answered 400 with the
    /// reason instead of being dropped (RFC 3261 §8.2.6 needs exactly these to route the answer).
    /// Unreadable lines are skipped. Nil when the bytes are a response or an ACK (neither is ever
    /// answered), or when any of those five cannot be read: dropping is then the only safe answer.
    public static func readableRequestHead(_ bytes: [UInt8]) -> SIPMessage? {
        let bounded = bytes.prefix(maxMessageSize)
        let head = headerBoundary(in: bounded).map { bounded[..<$0.headerEnd] } ?? bounded
        var lines = head.split(separator: 0x0A, omittingEmptySubsequences: false).map { $0.last == 0x0D ? $0.dropLast() : $0 }[...]
        while let first = lines.first, first.isEmpty { lines.removeFirst() }
        guard let first = lines.popFirst(), let text = String(validating: first, as: UTF8.self),
            case .request(let method, let uri) = try? parseStartLine(text[...]), method != "ACK"
        else { return nil }

        var found: [String: [String]] = [:]
        var previous: String?
        for line in lines.prefix(maxHeaderFields) {
            guard let text = String(validating: line, as: UTF8.self), isPrintable(text) else {
                previous = nil
                continue
            }
            if text.first == " " || text.first == "\t" {
                // A folded continuation belongs to the last field read, if that one was readable.
                if let previous, let last = found[previous]?.popLast() { found[previous]?.append(last + " " + text.trimmingSIPWhitespace()) }
                continue
            }
            previous = nil
            guard let colon = text.firstIndex(of: ":") else { continue }
            let name = SIPHeaders.canonical(text[..<colon].trimmingSIPWhitespace())
            guard ["via", "from", "to", "call-id", "cseq"].contains(name) else { continue }
            found[name, default: []].append(text[text.index(after: colon)...].trimmingSIPWhitespace())
            previous = name
        }

        let vias = (found["via"] ?? []).flatMap(SIPHeaders.splitList)
        guard let topVia = vias.first, Via(topVia) != nil,
            let from = found["from"]?.first, !from.isEmpty,
            let to = found["to"]?.first, !to.isEmpty,
            let callID = found["call-id"]?.first, !callID.isEmpty,
            let cseq = found["cseq"]?.first.flatMap(CSeq.init)
        else { return nil }
        var headers = SIPHeaders()
        for via in vias { headers.add("Via", via) }
        headers.add("From", from)
        headers.add("To", to)
        headers.add("Call-ID", callID)
        headers.add("CSeq", cseq.description)
        return SIPMessage(startLine: .request(method: method, uri: uri), headers: headers)
    }

    /// No control characters but tab: a value echoed into a response must not carry a CR.
    static func isPrintable(_ text: String) -> Bool {
        text.unicodeScalars.allSatisfy { $0 == "\t" || ($0.value >= 0x20 && $0.value != 0x7F) }
    }
}

extension SIPParseError {
    /// `description`, safe as a reason phrase: the parts quoted from the input lose their control
    /// characters, so a refused message cannot inject lines into its 400.
    public var reasonPhrase: String {
        String(String.UnicodeScalarView(description.unicodeScalars.filter { $0.value >= 0x20 && $0.value != 0x7F }))
    }
}

extension SIPMessage {
    /// Records where a request came from on its top Via (RFC 3261 §18.2.1, RFC 3581 §4):
    /// `received` when the source address differs from the Via host, or whenever `rport` asks
    /// for it, and `rport` filled with the source port when the Via carries an empty one.
    /// Responses copy the Via, so they carry this back to the sender.
    public mutating func recordSource(host: String, port: Int) {
        guard let index = headers.fields.firstIndex(where: { SIPHeaders.canonical($0.name) == "via" }) else { return }
        var values = SIPHeaders.splitList(headers.fields[index].value)
        guard let first = values.first, var via = Via(first) else { return }
        let wantsPort = via.parameters["rport"] == .some(nil)
        let viaHost = via.host.hasPrefix("[") ? String(via.host.dropFirst().dropLast()) : via.host
        guard wantsPort || viaHost.lowercased() != host.lowercased() else { return }
        via.parameters.set("received", host)
        if wantsPort { via.parameters.set("rport", String(port)) }
        values[0] = via.description
        var fields = headers.fields
        fields[index].value = values.joined(separator: ", ")
        headers = SIPHeaders(fields)
    }
}

extension SIPParameters {
    /// Sets `name` to `value`, in place when it is there, else at the end.
    mutating func set(_ name: String, _ value: String?) {
        if let index = items.firstIndex(where: { $0.name.lowercased() == name.lowercased() }) {
            items[index].value = value
        } else {
            items.append((name, value))
        }
    }
}
