/// Where an INVITE outside a dialog that is no client's phone comes from (issue 11), and what it
/// may reach: a `--trunk` range reaches any DID; the address of a provider where trunks are
/// registered reaches only the DIDs of those trunks' clients, so one client's provider cannot
/// reach another client's numbers. Anything else is no trunk.
enum TrunkSource: Equatable {
    case trustedRange
    case registeredProvider(clients: Set<Int64>)

    /// Nil when the address is neither in a `--trunk` range nor one where a trunk is registered.
    init?(inTrunkRange: Bool, registeredFor clients: Set<Int64>) {
        if inTrunkRange {
            self = .trustedRange
        } else if !clients.isEmpty {
            self = .registeredProvider(clients: clients)
        } else {
            return nil
        }
    }

    /// The numbers to look the DID up by, in order: the Request-URI user; from a registered
    /// provider also the `To` user, since a provider calling the account's Contact names the
    /// account in the Request-URI and the number dialled in To (RFC 3261 §8.1.1.2).
    func didNumbers(requestUser: String, toUser: String?) -> [String] {
        guard case .registeredProvider = self, let toUser, toUser != requestUser else { return [requestUser] }
        return [requestUser, toUser]
    }

    func reaches(clientID: Int64) -> Bool {
        switch self {
        case .trustedRange: true
        case .registeredProvider(let clients): clients.contains(clientID)
        }
    }
}
