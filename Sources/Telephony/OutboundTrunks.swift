import Domain
import Logging
import SIPTransport
import Storage
import Synchronization

/// How calls reach numbers outside their client (issue 11): the client's trunks that carry a
/// number, in order, each with its address and the number as it sends it; and each trunk's
/// calls in progress against its `max_calls` (`TrunkState`: on every node sharing the database).
final class OutboundTrunks: Sendable {
    private let store: any Store
    let addresses: TrunkAddresses
    private let logger: Logger

    init(store: any Store, addresses: TrunkAddresses, logger: Logger) {
        self.store = store
        self.addresses = addresses
        self.logger = logger
    }

    /// The routes to `number` for `clientID`, first to try first; a trunk whose host does not
    /// resolve, or is outside `--provider-addresses`, is left out (and logged). Empty when no trunk carries the number, or the trunks
    /// cannot be read.
    func routes(clientID: Int64, number: String, callerID: String?, callerName: String?) async -> [CallLegs.TrunkRoute] {
        let trunks: [Trunk]
        do {
            trunks = try await store.trunks(clientID: clientID)
        } catch {
            logger.error("could not read the client's trunks to call out", metadata: ["error": "\(error)"])
            return []
        }
        var routes: [CallLegs.TrunkRoute] = []
        for trunk in OutsideNumber.route(number, over: trunks) {
            let peer: SIPPeer
            switch await addresses.peer(of: trunk) {
            case .success(let found): peer = found
            case .failure(let failure):
                logger.warning("a trunk cannot be reached; skipped", metadata: ["trunk_id": "\(trunk.id)", "reason": "\(failure)"])
                continue
            }
            routes.append(.init(
                trunk: trunk, peer: peer, number: trunk.rewritten(number), callerID: callerID ?? trunk.callerID, callerName: callerName))
        }
        return routes
    }

    /// Takes a place among the trunk's `max_calls` (0: no limit) for `holder`, on every node
    /// sharing the database; false when it is full — or when that cannot be known (the database
    /// unreachable): a call then tries its next trunk rather than overrun the limit.
    func claim(_ trunk: Trunk, holder: String) async -> Bool {
        do {
            return try await store.trunkState.claimCall(trunkID: trunk.id, maxCalls: trunk.maxCalls, holder: holder)
        } catch {
            logger.error("could not count the trunk's calls", metadata: ["trunk_id": "\(trunk.id)", "error_type": "\(type(of: error))"])
            return false
        }
    }

    func release(_ trunkID: Int64, holder: String) async {
        do {
            try await store.trunkState.releaseCall(trunkID: trunkID, holder: holder)
        } catch {
            // A shared count's place lapses with the node's lease; a local one cannot fail.
            logger.error("could not give back a trunk's place", metadata: ["trunk_id": "\(trunkID)", "error_type": "\(type(of: error))"])
        }
    }
}

/// The addresses of the trunks registered now, and whose trunks they are (issue 11): a provider
/// sends the calls of a registered account from its address, which is not in the `--trunk`
/// ranges; a call from there is taken as a trunk call, to a DID of a client whose trunk is
/// registered there. Written by the registrar, read by every arriving INVITE.
final class RegisteredTrunkSources: Sendable {
    private let byAddress = Mutex<[String: [Int64: Int]]>([:])

    /// The clients with a trunk registered at `address` (an IP address, without port: providers
    /// send calls from other ports than their registrar's).
    func clients(at address: String) -> Set<Int64> {
        byAddress.withLock { Set(($0[address] ?? [:]).keys) }
    }

    func registered(_ address: String, clientID: Int64) {
        byAddress.withLock { $0[address, default: [:]][clientID, default: 0] += 1 }
    }

    func unregistered(_ address: String, clientID: Int64) {
        byAddress.withLock { all in
            guard let count = all[address]?[clientID] else { return }
            all[address]?[clientID] = count > 1 ? count - 1 : nil
            if all[address]?.isEmpty == true { all[address] = nil }
        }
    }
}
