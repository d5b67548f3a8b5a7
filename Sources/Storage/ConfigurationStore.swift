public import Domain

/// What a number dialled inside a client (a transfer destination, a callback's `dst_num`, an
/// agent hang-up destination) reaches.
public enum DialTarget: Sendable, Equatable {
    case `extension`(Extension)
    case did(id: Int64, number: String, extensionID: Int64?)
}

/// The call-flow configuration of SPEC §4, every method scoped by client.
public protocol ConfigurationStore: Sendable {
    /// The extension `id` when it belongs to `clientID`; nil for an unknown or another client's id.
    func ownedExtension(clientID: Int64, id: Int64) async throws -> Extension?
    /// What `number` reaches for this client: one of its extension names, else one of its DIDs.
    func dialTarget(clientID: Int64, number: String) async throws -> DialTarget?
}
