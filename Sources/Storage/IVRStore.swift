public import Domain

/// Voice menus (SPEC §4.2). Every method is scoped by client and IVR: an `ivrID` that is not an
/// IVR extension of `clientID`, or a context or rule of another IVR, is not found.
public protocol IVRStore: Sendable {
    /// The IVR's options; `IVROptions()` when they were never changed. nil when not an IVR of the client.
    func ivrOptions(clientID: Int64, ivrID: Int64) async throws -> IVROptions?
    /// Throws `IVRStoreError.unknownContext(field: "entry_context")` for a context of another IVR.
    func updateIVROptions(clientID: Int64, ivrID: Int64, _ options: IVROptions) async throws

    func ivrContexts(clientID: Int64, ivrID: Int64) async throws -> [IVRContext]
    func ivrContext(clientID: Int64, ivrID: Int64, id: Int64) async throws -> IVRContext?
    /// The first context of an IVR without an entry context becomes its entry context.
    /// Throws `StorageError.conflict(field: "name")` when the IVR has a context of that name.
    func createIVRContext(clientID: Int64, ivrID: Int64, _ settings: IVRContext.Settings) async throws -> IVRContext
    /// Throws `StorageError.notFound` for an unknown context, `StorageError.conflict(field: "name")`.
    func updateIVRContext(clientID: Int64, _ context: IVRContext) async throws
    /// Deletes the context with its rules. Throws `StorageError.notFound`, or `IVRStoreError.contextInUse`
    /// while it is the entry context or a `jump_to_context` rule of another context targets it.
    func deleteIVRContext(clientID: Int64, ivrID: Int64, id: Int64) async throws

    /// The number of rules of each option of the context that has rules; nil for an unknown context.
    func ivrRuleCounts(clientID: Int64, ivrID: Int64, contextID: Int64) async throws -> [String: Int]?
    /// The option's rules in `position` order; nil for an unknown context.
    func ivrRules(clientID: Int64, ivrID: Int64, contextID: Int64, option: String) async throws -> [IVRRule]?
    func ivrRule(clientID: Int64, ivrID: Int64, contextID: Int64, option: String, id: Int64) async throws -> IVRRule?
    /// Adds a rule at `position` (1…n+1; nil = last), moving the rules from there down one.
    /// Throws `StorageError.notFound` for an unknown context, `IVRStoreError.positionOutOfRange`,
    /// `IVRStoreError.unknownContext(field: "context")` for a jump to a context of another IVR.
    func createIVRRule(
        clientID: Int64, ivrID: Int64, contextID: Int64, option: String, position: Int64?, _ definition: IVRRuleDefinition
    ) async throws -> IVRRule
    /// Replaces the rule and moves it to `rule.position` (1…n), renumbering the others 1…n.
    /// Throws like `createIVRRule`, and `StorageError.notFound` for an unknown rule.
    func updateIVRRule(clientID: Int64, ivrID: Int64, contextID: Int64, option: String, _ rule: IVRRule) async throws
    /// Throws `StorageError.notFound` for an unknown rule; the rules after it move up one.
    func deleteIVRRule(clientID: Int64, ivrID: Int64, contextID: Int64, option: String, id: Int64) async throws

    /// The whole IVR in one read, as the engine runs it; nil when not an IVR of the client.
    func ivrConfiguration(clientID: Int64, ivrID: Int64) async throws -> IVRConfiguration?
}

/// Refusals of voice-menu writes that depend on what else is stored, checked in the write's transaction.
public enum IVRStoreError: Error, Equatable, CustomStringConvertible {
    /// `field` names a context that is not one of this IVR's.
    case unknownContext(field: String, id: Int64)
    /// The context cannot go while something uses it; `usedBy` says what, for a person.
    case contextInUse(usedBy: String)
    /// `position` is outside 1…`maximum`.
    case positionOutOfRange(maximum: Int64)

    public var description: String {
        switch self {
        case .unknownContext(let field, let id): "\(field): \(id) is not a context of this IVR"
        case .contextInUse(let usedBy): "the context is in use: \(usedBy)"
        case .positionOutOfRange(let maximum): "position: expected 1…\(maximum)"
        }
    }
}
