import CallRunner
import Domain
import Logging
import SIP
import SIPTransport
import Storage

/// Keeps every trunk with `register` on registered at its provider: one `TrunkRegistration`
/// value per trunk, whose actions this actor performs — REGISTERs through the endpoint, its one
/// timer in the calls' task group, its state written where the API reads it (`status`,
/// `last_error`). The trunks are read again whenever one changes (`trunkBroadcast`) and every
/// `rereadInterval`, so a change made through another server's API is picked up too. Of several
/// nodes on one database, one registers each trunk (`TrunkState.holdRegistrations`).
actor TrunkRegistrar {
    private struct Entry {
        var trunk: Trunk
        var registration: TrunkRegistration
        var peer: SIPPeer
        var timer: (any ScheduledTimer)?
        /// Counted in `sources` while the provider holds the binding.
        var isListedAsSource = false
    }

    private enum Input: Sendable {
        case response(trunkID: Int64, SIPMessage)
        case timerFired(trunkID: Int64, generation: Int)
    }

    /// Well within `TrunkRegistrationLease.seconds`: each reading renews this node's hold on the
    /// trunks it registers (issue 12).
    static let rereadInterval: Duration = .seconds(30)

    private let store: any Store
    private let endpoint: SIPEndpoint
    private let settings: TelephonySettings
    private let addresses: TrunkAddresses
    private let sources: RegisteredTrunkSources
    private let tasks: CallTasks
    private let logger: Logger
    private var entries: [Int64: Entry] = [:]
    /// Bumped whenever an entry's timer is replaced, so a timer that fired as it was cancelled
    /// is recognised and ignored.
    private var timerGeneration = 0
    private var timerGenerations: [Int64: Int] = [:]
    private let inputs: AsyncStream<Input>.Continuation
    private let inputStream: AsyncStream<Input>
    /// The states to record, written one after another so that the last written is the last
    /// reached.
    private let statusWrites: AsyncStream<(trunkID: Int64, Trunk.Status, lastError: String?)>.Continuation
    private let statusStream: AsyncStream<(trunkID: Int64, Trunk.Status, lastError: String?)>
    private var isStopped = false

    init(
        store: any Store, endpoint: SIPEndpoint, settings: TelephonySettings, addresses: TrunkAddresses, sources: RegisteredTrunkSources,
        tasks: CallTasks, logger: Logger
    ) {
        self.sources = sources
        self.store = store
        self.endpoint = endpoint
        self.settings = settings
        self.addresses = addresses
        self.tasks = tasks
        self.logger = logger
        (inputStream, inputs) = AsyncStream.makeStream(bufferingPolicy: .bufferingNewest(1024))
        (statusStream, statusWrites) = AsyncStream.makeStream()
    }

    /// Until `stop()`: reads the trunks (now, on every change, and every `rereadInterval`) and
    /// handles the registrations' responses and timers, one at a time.
    func run() async {
        await withDiscardingTaskGroup { group in
            group.addTask { await self.watchTrunks() }
            group.addTask {
                for await (id, status, lastError) in self.statusStream { await self.record(id, status, lastError) }
            }
            for await input in inputStream {
                handle(input)
            }
            statusWrites.finish()
            group.cancelAll()
        }
    }

    /// Removes the bindings registered (RFC 3261 §10.2.2: `Expires: 0`), so the providers stop
    /// sending calls to a server that is gone, waiting at most `unregisterWait` for their
    /// answers; then ends `run()`.
    func stop() async {
        guard !isStopped else { return }
        isStopped = true
        var unregisters: [(SIPMessage, SIPPeer)] = []
        for (id, var entry) in entries {
            entry.timer?.cancel()
            listAsSource(entry, false)
            for case .send(let request) in entry.registration.handle(.stop, at: UnixTime.now().seconds) {
                unregisters.append((request, entry.peer))
            }
            entries[id] = nil
        }
        inputs.finish()
        do {
            try await store.trunkState.letGoOfRegistrations()
        } catch {
            logger.warning("could not hand the trunks' registrations over; another node takes them when the lease ends",
                           metadata: ["error_type": "\(type(of: error))"])
        }
        guard !unregisters.isEmpty else { return }
        let endpoint = endpoint
        await withTaskGroup(of: Void.self) { group in
            for (request, peer) in unregisters {
                group.addTask {
                    for await response in await endpoint.send(request: request, to: peer) where (response.status ?? 0) >= 200 { break }
                }
            }
            group.addTask { try? await Task.sleep(for: Self.unregisterWait) }
            await group.next()
            group.cancelAll()
        }
    }

    static let unregisterWait: Duration = .seconds(2)

    // MARK: The trunks

    private func watchTrunks() async {
        var seen: UInt64 = 0
        while !Task.isCancelled, !isStopped {
            await synchronize()
            seen = await store.trunkBroadcast.wait(after: seen, upTo: Self.rereadInterval)
        }
    }

    /// Starts registrations of trunks new or changed, stops those of trunks gone or changed.
    private func synchronize() async {
        let trunks: [Trunk]
        do {
            // With several nodes on one database, each trunk is registered by one of them: the
            // one holding its lease (the others take it over when that node stops or dies).
            let registering = try await store.registeringTrunks()
            let held = try await store.trunkState.holdRegistrations(of: registering.map(\.id))
            trunks = registering.filter { held.contains($0.id) }
        } catch {
            logger.warning("could not read the trunks to register; trying again later", metadata: ["error": "\(error)"])
            return
        }
        guard !isStopped else { return }
        let wanted = Dictionary(trunks.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
        for (id, entry) in entries where wanted[id].map({ !Self.sameAccount($0, entry.trunk) }) ?? true {
            remove(id)
        }
        for trunk in trunks where entries[trunk.id] == nil {
            let peer: SIPPeer
            switch await addresses.peer(of: trunk) {
            case .success(let found): peer = found
            case .failure(let failure):
                // Written once per reading of the trunks (a change, or every 30 s): tried again then.
                statusWrites.yield((trunk.id, .failed, "\(failure)"))
                continue
            }
            // Another synchronize may have run while the name was looked up.
            guard !isStopped, entries[trunk.id] == nil else { continue }
            let registration = TrunkRegistration(
                account: account(of: trunk, peer: peer), callID: Identifiers.callID(host: settings.advertisedHost), fromTag: Identifiers.tag())
            entries[trunk.id] = Entry(trunk: trunk, registration: registration, peer: peer)
            perform(trunk.id, event: .start)
        }
    }

    /// Whether a trunk read again is the account registered now (its other settings, such as
    /// prefixes or caller ID, do not touch the registration).
    private static func sameAccount(_ a: Trunk, _ b: Trunk) -> Bool {
        a.host == b.host && a.port == b.port && a.transport == b.transport && a.username == b.username && a.password == b.password
            && a.registerExpires == b.registerExpires && a.callerDomain == b.callerDomain
    }

    private func remove(_ id: Int64) {
        guard entries[id] != nil else { return }
        perform(id, event: .stop)
        if let entry = entries[id] { listAsSource(entry, false) }
        entries[id] = nil
        timerGenerations[id] = nil
    }

    private func account(of trunk: Trunk, peer: SIPPeer) -> TrunkRegistration.Account {
        let transport = peer.transport == .udp ? "" : ";transport=\(peer.transport.rawValue.lowercased())"
        let endpoint = endpoint
        return TrunkRegistration.Account(
            registrar: "sip:\(trunk.uriHostPort)\(transport)",
            addressOfRecord: "sip:\(trunk.username)@\(trunk.callerDomain)", username: trunk.username, password: trunk.password,
            expires: trunk.registerExpires, contact: settings.contact(for: peer.transport, user: trunk.username),
            via: { endpoint.newVia(transport: peer.transport) })
    }

    // MARK: Performing a registration's actions

    private func handle(_ input: Input) {
        switch input {
        case .response(let id, let response):
            perform(id, event: .response(response))
        case .timerFired(let id, let generation):
            guard timerGenerations[id] == generation else { return }
            timerGenerations[id] = nil
            perform(id, event: .timerFired)
        }
    }

    private func perform(_ id: Int64, event: TrunkRegistration.Event) {
        guard var entry = entries[id] else { return }
        let actions = entry.registration.handle(event, at: UnixTime.now().seconds)
        entries[id] = entry
        for action in actions {
            switch action {
            case .send(let request):
                let inputs = inputs
                let peer = entry.peer
                let endpoint = endpoint
                tasks.spawn {
                    await endpoint.send(request: request, to: peer) { response in
                        if (response.status ?? 0) >= 200 { inputs.yield(.response(trunkID: id, response)) }
                    }
                }
            case .armTimer(let delay):
                entry.timer?.cancel()
                timerGeneration += 1
                let generation = timerGeneration
                timerGenerations[id] = generation
                let inputs = inputs
                entry.timer = tasks.schedule(after: delay) { inputs.yield(.timerFired(trunkID: id, generation: generation)) }
                entries[id] = entry
            case .cancelTimer:
                entry.timer?.cancel()
                entry.timer = nil
                timerGenerations[id] = nil
                entries[id] = entry
            case .report(let phase):
                switch phase {
                case .registering:
                    statusWrites.yield((id, .registering, nil))
                case .registered:
                    if entry.trunk.status != .registered { logger.info("trunk registered", metadata: ["trunk_id": "\(id)"]) }
                    statusWrites.yield((id, .registered, nil))
                case .failed(let reason):
                    logger.warning("trunk registration failed", metadata: ["trunk_id": "\(id)", "reason": "\(reason)"])
                    statusWrites.yield((id, .failed, reason))
                case .stopped:
                    break
                }
                entry.trunk.status = Self.status(of: phase) ?? entry.trunk.status
                if case .registered = phase { listAsSource(entry, true) } else { listAsSource(entry, false) }
                entry.isListedAsSource = if case .registered = phase { true } else { false }
                entries[id] = entry
            }
        }
    }

    /// Adds or removes the trunk's address among the sources calls of registered trunks come from.
    private func listAsSource(_ entry: Entry, _ listed: Bool) {
        guard listed != entry.isListedAsSource, let address = entry.peer.address.ipAddress else { return }
        if listed {
            sources.registered(address, clientID: entry.trunk.clientID)
        } else {
            sources.unregistered(address, clientID: entry.trunk.clientID)
        }
    }

    private static func status(of phase: TrunkRegistration.Phase) -> Trunk.Status? {
        switch phase {
        case .registering: .registering
        case .registered: .registered
        case .failed: .failed
        case .stopped: nil
        }
    }

    private func record(_ id: Int64, _ status: Trunk.Status, _ lastError: String?) async {
        do {
            try await store.setTrunkStatus(id: id, status, lastError: lastError)
        } catch {
            logger.warning("could not record a trunk's registration state", metadata: ["trunk_id": "\(id)", "error": "\(error)"])
        }
    }
}
