public import Domain
import Foundation

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

/// What every store decides the same way when it writes a trunk (issue 11; shared by SQLite and
/// PostgreSQL, issue 12): the registration's state a write starts or keeps, and `prefixes` as
/// the JSON text the `prefixes` column holds.
public enum TrunkRecord {
    /// `new` as `createTrunk` stores it, created at `now`: its registration not started yet.
    public static func created(_ new: Trunk, at now: UnixTime) -> Trunk {
        var created = new
        created.createdAt = now
        created.status = initialStatus(registering: new.register)
        created.lastError = nil
        return created
    }

    /// `changed` as `updateTrunk` stores it over `stored`: the creation time stays, and so does
    /// the registration's state unless the account or place it registered changed, after which
    /// it is unknown again and the registration service starts over.
    public static func updated(_ stored: Trunk, to changed: Trunk) -> Trunk {
        var updated = changed
        updated.createdAt = stored.createdAt
        if registrationChanged(from: stored, to: changed) {
            updated.status = initialStatus(registering: changed.register)
            updated.lastError = nil
        } else {
            updated.status = stored.status
            updated.lastError = stored.lastError
        }
        return updated
    }

    /// The `prefixes` column's text: a JSON array of strings.
    public static func prefixesText(_ prefixes: [String]) throws -> String {
        String(decoding: try JSONEncoder().encode(prefixes), as: UTF8.self)
    }

    /// The prefixes in a `prefixes` column's text; nil when it is not a JSON array of strings.
    public static func prefixes(fromText text: String) -> [String]? {
        try? JSONDecoder().decode([String].self, from: Data(text.utf8))
    }

    private static func initialStatus(registering: Bool) -> Trunk.Status {
        registering ? .registering : .notRegistering
    }

    /// Whether anything a REGISTER (or its digest answer) is made of changed.
    private static func registrationChanged(from stored: Trunk, to changed: Trunk) -> Bool {
        stored.host != changed.host || stored.port != changed.port || stored.transport != changed.transport
            || stored.username != changed.username || stored.password != changed.password || stored.register != changed.register
            || stored.registerExpires != changed.registerExpires || stored.fromDomain != changed.fromDomain
    }
}
