import SIP

/// Which call leg each SIP dialog, or INVITE not yet answered, belongs to: how requests that
/// arrive inside a dialog (BYE, INFO, re-INVITE, ACK) and CANCELs find their call.
actor DialogTable {
    /// A dialog seen from this server: its Call-ID and the tag this server chose (the To tag of
    /// an INVITE it answered, the From tag of one it sent).
    struct Key: Hashable {
        var callID: String
        var localTag: String
    }

    /// An INVITE received and not answered yet: its Call-ID and the caller's From tag.
    struct OfferKey: Hashable {
        var callID: String
        var remoteTag: String
    }

    struct Entry {
        var session: CallSession
        var leg: CallSession.LegID
    }

    private var dialogs: [Key: Entry] = [:]
    private var offers: [OfferKey: Entry] = [:]

    var count: Int { dialogs.count }

    func add(_ key: Key, _ entry: Entry) { dialogs[key] = entry }
    func remove(_ key: Key) { dialogs.removeValue(forKey: key) }
    func entry(for key: Key) -> Entry? { dialogs[key] }

    func addOffer(_ key: OfferKey, _ entry: Entry) { offers[key] = entry }
    func removeOffer(_ key: OfferKey) { offers.removeValue(forKey: key) }
    func offer(for key: OfferKey) -> Entry? { offers[key] }

    /// The calls that have a dialog or an unanswered INVITE.
    func sessions() -> [CallSession] {
        var seen = Set<ObjectIdentifier>()
        return (dialogs.values.map(\.session) + offers.values.map(\.session)).filter { seen.insert(ObjectIdentifier($0)).inserted }
    }

    /// The dialog a request received belongs to, by its Call-ID and To tag.
    static func key(ofReceived request: SIPMessage) -> Key? {
        guard let callID = request.headers["Call-ID"], let tag = request.headers["To"].flatMap(NameAddress.init)?.tag else { return nil }
        return Key(callID: callID, localTag: tag)
    }

    static func offerKey(of invite: SIPMessage) -> OfferKey? {
        guard let callID = invite.headers["Call-ID"], let tag = invite.headers["From"].flatMap(NameAddress.init)?.tag else { return nil }
        return OfferKey(callID: callID, remoteTag: tag)
    }
}
