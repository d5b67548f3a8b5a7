public import Domain

/// What a number dialled inside a client (a transfer destination, a callback's `dst_num`, an
/// agent hang-up destination) reaches.
public enum DialTarget: Sendable, Equatable {
    case `extension`(Extension)
    case did(id: Int64, number: String, extensionID: Int64?)
}

/// A DID before it is stored.
public struct NewDID: Sendable, Equatable {
    public var clientID: Int64
    /// Already normalized (`DIDNumber.normalized`).
    public var number: String
    public var extensionID: Int64?
    public var comment: String

    public init(clientID: Int64, number: String, extensionID: Int64?, comment: String) {
        self.clientID = clientID
        self.number = number
        self.extensionID = extensionID
        self.comment = comment
    }
}

/// The call-flow configuration of SPEC §4, every method scoped by client: an id of another
/// client is not found, exactly like an unknown one.
public protocol ConfigurationStore: Sendable {
    /// The extension `id` when it belongs to `clientID`; nil for an unknown or another client's id.
    func ownedExtension(clientID: Int64, id: Int64) async throws -> Extension?
    /// What `number` reaches for this client: one of its extension names, else one of its DIDs
    /// (with or without a leading `+`).
    func dialTarget(clientID: Int64, number: String) async throws -> DialTarget?

    // MARK: Extensions

    /// The extension a phone of this client dials as `name`.
    func `extension`(clientID: Int64, name: String) async throws -> Extension?
    /// Creates the extension, with its queue options when it is a queue, in one transaction.
    /// Throws `StorageError.conflict(field: "name")` when the client has an extension of that name.
    func createExtension(_ new: NewExtension, status: ExtensionStatus, credentials: SIPCredentials?) async throws -> Extension
    /// Stores `changed.label` and `changed.status`, and the credentials when given (nil keeps them).
    /// Throws `StorageError.notFound` when it is not an extension of `changed.clientID`.
    func updateExtension(_ changed: Extension, credentials: SIPCredentials?) async throws
    /// Deletes the extension with its queue options and agents; ratings and call history stay.
    /// Throws `StorageError.notFound`, or `ConfigurationStoreError.inUse` while a DID points at it,
    /// it is an agent of a queue, or a queue's or another voice menu's transfer destination names it.
    func deleteExtension(clientID: Int64, id: Int64) async throws
    /// The phone's digest credentials (issue 4's registrar); nil for no such phone or none set.
    func sipCredentials(clientID: Int64, extensionID: Int64) async throws -> SIPCredentials?

    // MARK: DIDs

    /// The client's DIDs in `id` order.
    func dids(clientID: Int64) async throws -> [DID]
    func did(clientID: Int64, id: Int64) async throws -> DID?
    /// The DID `number` (with or without a leading `+`) of whichever client has it: how a call
    /// arriving from a trunk finds its client.
    func did(number: String) async throws -> DID?
    /// Throws `StorageError.conflict(field: "name")` when any client has the number, and
    /// `ConfigurationStoreError.invalidReference(field: "extension_id", …)` when the extension is
    /// not one of the client's.
    func createDID(_ new: NewDID) async throws -> DID
    /// Stores `changed.extensionID` and `changed.comment`; throws like `createDID`, and
    /// `StorageError.notFound` when it is not a DID of `changed.clientID`.
    func updateDID(_ changed: DID) async throws
    /// Throws `StorageError.notFound`, or `ConfigurationStoreError.inUse` while a queue's or voice
    /// menu's transfer destination, a voice-menu rule's `did` filter, or a trunk's `callerID`
    /// names the number.
    func deleteDID(clientID: Int64, id: Int64) async throws

    // MARK: Queues

    /// nil when `queueID` is not a queue extension of the client.
    func queueOptions(clientID: Int64, queueID: Int64) async throws -> QueueOptions?
    /// Throws `StorageError.notFound` when `queueID` is not a queue extension of the client.
    func updateQueueOptions(clientID: Int64, queueID: Int64, _ options: QueueOptions) async throws
    /// The agents in ring order; nil when `queueID` is not a queue extension of the client.
    func queueAgents(clientID: Int64, queueID: Int64) async throws -> [QueueAgent]?
    /// Adds the phone last in the ring order. Throws `StorageError.notFound` for an unknown queue,
    /// `ConfigurationStoreError.invalidReference(field: "extension_id", …)` when the agent is not
    /// a phone of the client, `StorageError.conflict(field: "extension_id")` when it already is an agent.
    func addQueueAgent(clientID: Int64, queueID: Int64, agentID: Int64) async throws -> QueueAgent
    /// The agents after it move up one. Throws `StorageError.notFound` for an unknown queue or a
    /// phone that is not its agent.
    func removeQueueAgent(clientID: Int64, queueID: Int64, agentID: Int64) async throws
    /// The queue with its options and agents in one read; nil when not a queue of the client.
    func queueConfiguration(clientID: Int64, queueID: Int64) async throws -> QueueConfiguration?
}

/// Refusals of configuration writes that depend on what else is stored, checked in the write's
/// transaction.
public enum ConfigurationStoreError: Error, Equatable, CustomStringConvertible {
    /// `field` names something that is not the client's, or not of the kind needed; `problem`
    /// says which, for a person.
    case invalidReference(field: String, problem: String)
    /// The row cannot go while something uses it; `usedBy` says what, for a person.
    case inUse(usedBy: String)

    public var description: String {
        switch self {
        case .invalidReference(let field, let problem): "\(field): \(problem)"
        case .inUse(let usedBy): "still in use by \(usedBy)"
        }
    }
}

extension ConfigurationStore {
    /// An active extension without SIP credentials (a queue, a menu, or a phone whose password
    /// is set later).
    public func createExtension(_ new: NewExtension) async throws -> Extension {
        try await createExtension(new, status: .active, credentials: nil)
    }
}
