public import Domain

/// A client's provider trunks (issue 11), every method scoped by client except the two the
/// registration service uses across clients.
public protocol TrunkStore: Sendable {
    /// Rung after every committed change to any trunk's configuration (not its status): the
    /// registration service re-reads the trunks that register.
    var trunkBroadcast: Broadcast { get }

    /// The client's trunks in the order they are tried (`position`, then id).
    func trunks(clientID: Int64) async throws -> [Trunk]
    /// The trunk `id` when it belongs to `clientID`; nil for an unknown or another client's id.
    func trunk(clientID: Int64, id: Int64) async throws -> Trunk?
    /// Stores a new trunk; `id`, `createdAt`, `status` (`registering` or `not_registering`) and
    /// `lastError` (nil) are assigned. Throws `StorageError.conflict(field: "name")` when the
    /// client has a trunk of that name.
    func createTrunk(_ trunk: Trunk) async throws -> Trunk
    /// Replaces the trunk's configuration (not `status`/`lastError`, which the registration
    /// owns, except that they restart at `registering` or `not_registering` when anything the
    /// registration depends on changed). Throws `StorageError.notFound` for an unknown id.
    func updateTrunk(_ trunk: Trunk) async throws -> Trunk
    func deleteTrunk(clientID: Int64, id: Int64) async throws

    /// Every client's trunks with `register` on, for the registration service.
    func registeringTrunks() async throws -> [Trunk]
    /// What the registration service learnt; a trunk deleted meanwhile is left alone.
    func setTrunkStatus(id: Int64, _ status: Trunk.Status, lastError: String?) async throws
}
