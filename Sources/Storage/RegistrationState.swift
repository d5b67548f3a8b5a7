import Foundation
import Synchronization

/// What the registrar's nodes share (issue 12): the phones' bindings, and the secret digest
/// nonces are signed with. On one server this lives in its memory (`LocalRegistrationState`): a
/// restarted server is registered to again within the phones' refresh time, as before. On several
/// sharing a PostgreSQL database it lives there, so a phone registered through any node is rung
/// by every node, and a nonce one node sent is valid on the next.
public protocol RegistrationState: Sendable {
    /// The key digest nonces are signed with (`DigestNonces`): the same on every node.
    func nonceSecret() async throws -> [UInt8]
    /// The bindings of an address-of-record (`user@domain`, lower case), with the version a
    /// `saveBindings` of them must name.
    func bindings(of aor: String) async throws -> VersionedBindings
    /// Replaces `aor`'s bindings when they are still at `version`; false when another REGISTER
    /// changed them first (the caller reads them again and retries). An empty list removes them.
    func saveBindings(_ bindings: [StoredBinding], of aor: String, replacing version: Int64) async throws -> Bool
    /// Takes `count` of `nonce` when it is higher than any count of that nonce taken before, on
    /// any node (RFC 7616 §3.4.1: a request replayed with a used count is refused); false when
    /// one as high was taken already.
    func acceptNonceCount(_ count: UInt32, of nonce: String, until expiresAt: Int64) async throws -> Bool
}

/// One device of a phone, as the registrar keeps it (`Registrar.Binding`), in plain values.
public struct StoredBinding: Sendable, Equatable, Codable {
    public var contact: String
    public var expiresAt: Int64
    public var callID: String
    public var sequence: UInt32
    public var path: [String]
    /// Where the REGISTER came from, as `SIPPeer` writes it (`udp 192.0.2.1:5060`).
    public var source: String

    public init(contact: String, expiresAt: Int64, callID: String, sequence: UInt32, path: [String], source: String) {
        self.contact = contact
        self.expiresAt = expiresAt
        self.callID = callID
        self.sequence = sequence
        self.path = path
        self.source = source
    }
}

public struct VersionedBindings: Sendable, Equatable {
    public var bindings: [StoredBinding]
    /// 0 when the address-of-record has never been saved.
    public var version: Int64

    public init(bindings: [StoredBinding], version: Int64) {
        self.bindings = bindings
        self.version = version
    }
}

/// `RegistrationState` in this process's memory, for one server per SQLite database. The nonce
/// secret is new with each run: nonces outlive no restart, which only costs a phone one more
/// challenge.
public final class LocalRegistrationState: RegistrationState {
    private let secret: [UInt8] = (0..<32).map { _ in UInt8.random(in: .min ... .max) }
    private let stored = Mutex<[String: VersionedBindings]>([:])

    public init() {}

    public func nonceSecret() -> [UInt8] { secret }

    /// One server: its authenticator's own memory of counts is all there is to check.
    public func acceptNonceCount(_ count: UInt32, of nonce: String, until expiresAt: Int64) -> Bool { true }

    public func bindings(of aor: String) -> VersionedBindings {
        stored.withLock { $0[aor] ?? VersionedBindings(bindings: [], version: 0) }
    }

    public func saveBindings(_ bindings: [StoredBinding], of aor: String, replacing version: Int64) -> Bool {
        stored.withLock { stored in
            guard (stored[aor]?.version ?? 0) == version else { return false }
            stored[aor] = bindings.isEmpty ? nil : VersionedBindings(bindings: bindings, version: version + 1)
            return true
        }
    }
}
