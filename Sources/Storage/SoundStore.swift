public import Domain

/// Uploaded sounds (SPEC §4, §7), every method scoped by client.
public protocol SoundStore: Sendable {
    /// Whether `id` is a sound of this client: what every sound reference is validated with.
    func soundExists(clientID: Int64, id: Int64) async throws -> Bool
}
