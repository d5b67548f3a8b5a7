package import Domain

// What the configuration stores say when they refuse a write, and how they look numbers up, in
// one place: the API shows the refusals to people as they are, and SQLite and PostgreSQL must
// answer alike (issue 12).

extension DIDNumber {
    /// `number` as DIDs are stored and looked up: without one leading `+`.
    package static func withoutPlus(_ number: String) -> String {
        number.hasPrefix("+") ? String(number.dropFirst()) : number
    }
}

/// Something that still uses an extension or a DID, as a refused deletion names it.
package enum ConfigurationUser: CustomStringConvertible {
    /// A DID that rings the extension.
    case did(number: String)
    case queueAgent(queue: String)
    /// A queue whose agent hang-up or no-agent transfer destination names the number.
    case queueTransfer(queue: String)
    /// A rule of a voice menu whose `column` (`transfer_dst`, `did`) names the number.
    case voiceMenuRule(menu: String, rule: Int64, column: String)
    case voiceMenuLifetimeTransfer(menu: String)
    case trunkCallerID(trunk: String)

    package var description: String {
        switch self {
        case .did(let number): "DID \(number)"
        case .queueAgent(let queue): "queue \(queue) (as its agent)"
        case .queueTransfer(let queue): "queue \(queue) (as its transfer destination)"
        case .voiceMenuRule(let menu, let rule, let column): "IVR \(menu) rule \(rule) (\(column))"
        case .voiceMenuLifetimeTransfer(let menu): "IVR \(menu) (lifetime_exp_transfer_dst)"
        case .trunkCallerID(let trunk): "trunk \(trunk) (as its caller_id)"
        }
    }
}

extension ConfigurationStoreError {
    /// `extension_id` names no extension of the client.
    package static func noExtension(_ id: Int64) -> Self {
        .invalidReference(field: "extension_id", problem: "no extension \(id) in this client")
    }

    /// A queue's agents are phones.
    package static func notAPhone(_ agent: Extension) -> Self {
        .invalidReference(
            field: "extension_id", problem: "extension \(agent.id) is of type \(agent.kind.rawValue); agents are phone extensions")
    }

    /// The refusal of a deletion while `users` (not empty), in the order found, use the row.
    package static func used(by users: [ConfigurationUser]) -> Self {
        .inUse(usedBy: users.map(\.description).joined(separator: ", "))
    }
}

extension IVRStoreError {
    package static let entryContextInUse = IVRStoreError.contextInUse(
        usedBy: "it is the IVR's entry_context; set entry_context to another context (or 0) first")

    /// The refusal to delete a context that `jump_to_context` rules of other contexts target.
    package static func jumpedTo(by rules: [(id: Int64, context: String, option: String)]) -> Self {
        let rules = rules.map { "rule \($0.id) (context '\($0.context)', option \($0.option))" }
        return .contextInUse(usedBy: "jump_to_context of " + rules.joined(separator: ", ") + "; change or delete those rules first")
    }
}
