public import CallFlow
public import Domain
public import Storage

/// Routing from the configuration in storage: an extension name of the client, else one of its
/// DIDs and the extension it points to, else a number outside the client that one of its trunks
/// carries; a disabled or unassigned target is unreachable.
public struct StoreCallDirectory: CallDirectory {
    private let store: any Store

    public init(store: any Store) { self.store = store }

    public func destination(clientID: Int64, number: String) async throws -> Call.Destination {
        let target: Extension
        switch try await store.dialTarget(clientID: clientID, number: number) {
        case nil:
            // Not a number of the client: a number outside it, when one of its trunks carries
            // it (issue 11); which trunk, and the failover, are the telephony side's.
            guard OutsideNumber.isValid(number), !OutsideNumber.route(number, over: try await store.trunks(clientID: clientID)).isEmpty
            else { return .unreachable }
            return .outside(number)
        case .extension(let found):
            target = found
        case .did(_, _, let extensionID):
            guard let extensionID, let found = try await store.ownedExtension(clientID: clientID, id: extensionID) else {
                return .unreachable
            }
            target = found
        }
        guard target.status == ExtensionStatus.active.rawValue else { return .unreachable }
        switch target.kind {
        case .phone:
            return .phone(target)
        case .queue:
            guard let configuration = try await store.queueConfiguration(clientID: clientID, queueID: target.id) else {
                return .unreachable
            }
            return .queue(target, QueueCall.Settings(queueID: target.id, options: configuration.options))
        case .ivr:
            guard let configuration = try await store.ivrConfiguration(clientID: clientID, ivrID: target.id) else {
                return .unreachable
            }
            return .voiceMenu(target, configuration)
        }
    }

    public func queueAgents(clientID: Int64, queueID: Int64) async throws -> (strategy: QueueStrategy, agents: [String]) {
        guard let configuration = try await store.queueConfiguration(clientID: clientID, queueID: queueID) else {
            return (.roundRobin, [])
        }
        return (configuration.options.strategy, configuration.agents.sorted { $0.position < $1.position }.map(\.name))
    }
}
