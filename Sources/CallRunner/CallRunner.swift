public import CallFlow
public import Domain
public import Logging
public import Storage
import Synchronization

/// What a call needs from the rest of the server.
public struct CallServices: Sendable {
    public var store: any Store
    public var directory: any CallDirectory
    public var queues: QueueRegistry
    public var interactive: any InteractiveClient
    public var timers: any TimerScheduler
    /// The time events are stamped with (the system clock; a scenario's clock in a simulation).
    public var now: @Sendable () -> UnixTime
    public var logger: Logger

    public init(
        store: any Store, directory: any CallDirectory, queues: QueueRegistry, interactive: any InteractiveClient,
        timers: any TimerScheduler, now: @escaping @Sendable () -> UnixTime = { .now() }, logger: Logger
    ) {
        self.store = store
        self.directory = directory
        self.queues = queues
        self.interactive = interactive
        self.timers = timers
        self.now = now
        self.logger = logger
    }
}

/// Runs one call: feeds events to its `Call` value one at a time, in arrival order, and performs
/// the actions it returns. Outcomes that come back at once (a route resolved, a rating stored)
/// are queued behind the current event, so the call never sees two events interleaved.
public actor CallRunner {
    private var call: Call
    private let port: any TelephonyPort
    private let services: CallServices
    private var pending: [Call.Event] = []
    private var processing = false
    private var timers: [Call.Timer: (generation: Int, timer: any ScheduledTimer)] = [:]
    private var timerGeneration = 0
    private var currentQueue: Int64?
    /// A callback source that answered for its queue (issue 11): busy until it hangs up or the
    /// call ends, like an agent who took a caller of that queue.
    private var busySource: String?
    /// The agents this call holds (`QueueState`): rung for it, or talking to it. Whatever is still
    /// held when the call ends is given back then.
    private var claimed: Set<String> = []
    private var logger: Logger
    /// `call_interactive` requests sent and not yet answered.
    private var interactiveRequestsInFlight = 0
    private let endWaiters = EndWaiters()

    /// Nothing is being processed or awaited: what the call does next depends on the far side.
    public var isSettled: Bool { !processing && pending.isEmpty && interactiveRequestsInFlight == 0 }

    public init(arrival: Call.Arrival, port: any TelephonyPort, services: CallServices) {
        call = Call(arrival: arrival, at: services.now())
        self.port = port
        self.services = services
        logger = services.logger
        logger[metadataKey: "call_uuid"] = "\(arrival.callUUID)"
    }

    public var isOver: Bool { call.isOver }

    /// Returns once the call is over and its last actions (hang-ups, call history) are done,
    /// or once the waiting task is cancelled (the server is stopping).
    public func waitUntilOver() async {
        if call.isOver, !processing { return }
        await endWaiters.wait()
    }

    public func start() async {
        await deliver(.arrived)
    }

    /// An event from the telephony side (or from this runner's own timers and requests).
    public func deliver(_ event: Call.Event) async {
        switch event {
        case .agentHungUp(let agent): await finished(agent)
        case .agentUnreachable(let agent): await release([agent])
        case .callerHungUp: await releaseBusySource()
        default: break
        }
        pending.append(event)
        guard !processing else { return }
        processing = true
        while !pending.isEmpty {
            let next = pending.removeFirst()
            for action in call.handle(next, at: services.now()) {
                await perform(action)
            }
            if let open = call.openRecordChange(at: services.now()) {
                do {
                    try await services.store.saveOpenCall(open)
                } catch {
                    logger.error("open call history not stored", metadata: ["error_type": "\(type(of: error))"])
                }
            }
        }
        processing = false
        if call.isOver {
            for agent in claimed { await finished(agent) }
            endWaiters.callIsOver()
        }
    }

    private func releaseBusySource() async {
        guard let agent = busySource else { return }
        busySource = nil
        await finished(agent)
    }

    // MARK: Claims on agents

    /// Rings `parties`: the agents among them only once this call holds them. An agent another
    /// call holds is unreachable for this one (issue 12: never offered two calls at once).
    private func ring(_ parties: [String]) async {
        let agents = parties.filter { OutsideParty.number(of: $0) == nil }
        var held: [String] = []
        if !agents.isEmpty {
            do {
                held = try await services.queues.claim(clientID: call.arrival.clientID, agents: agents, for: call.arrival.callUUID)
            } catch {
                // Without a claim the agent could be rung by two calls: it is not rung.
                logger.error("agents could not be claimed", metadata: ["agents": "\(agents)", "error_type": "\(type(of: error))"])
            }
        }
        claimed.formUnion(held)
        let rung = parties.filter { OutsideParty.number(of: $0) != nil || held.contains($0) }
        if !rung.isEmpty { await port.ring(rung) }
        for agent in agents where !held.contains(agent) { pending.append(.agentUnreachable(agent)) }
    }

    /// `agents` stopped ringing for this call.
    private func release(_ agents: [String]) async {
        let held = agents.filter { claimed.contains($0) }
        guard !held.isEmpty else { return }
        do {
            try await services.queues.release(clientID: call.arrival.clientID, agents: held, for: call.arrival.callUUID)
            claimed.subtract(held)
        } catch {
            // The claims lapse with their lease (a node's are renewed only while it runs).
            logger.error("agents could not be released", metadata: ["agents": "\(held)", "error_type": "\(type(of: error))"])
        }
    }

    private func answered(_ agent: String, queueID: Int64?) async {
        claimed.insert(agent)
        do {
            try await services.queues.agentAnswered(clientID: call.arrival.clientID, queueID: queueID, agent: agent, for: call.arrival.callUUID)
        } catch {
            logger.error("an agent's answer could not be recorded", metadata: ["agent": "\(agent)", "error_type": "\(type(of: error))"])
        }
    }

    /// `agent` is done with this call.
    private func finished(_ agent: String) async {
        guard OutsideParty.number(of: agent) == nil else { return }
        do {
            try await services.queues.agentFinished(
                clientID: call.arrival.clientID, agent: agent, for: call.arrival.callUUID, at: services.now())
            claimed.remove(agent)
        } catch {
            logger.error("an agent's end of call could not be recorded", metadata: ["agent": "\(agent)", "error_type": "\(type(of: error))"])
        }
    }

    private func perform(_ action: Call.Action) async {
        let clientID = call.arrival.clientID
        switch action {
        case .resolve(let number):
            currentQueue = nil
            do {
                pending.append(.routed(try await services.directory.destination(clientID: clientID, number: number)))
            } catch {
                logger.error("routing failed", metadata: ["number": "\(number)", "error_type": "\(type(of: error))"])
                pending.append(.routed(.unreachable))
            }
        case .requestRingPlan(let queueID):
            currentQueue = queueID
            do {
                pending.append(.ringPlan(try await services.queues.ringPlan(clientID: clientID, queueID: queueID)))
            } catch {
                logger.error("ring plan failed", metadata: ["queue_id": "\(queueID)", "error_type": "\(type(of: error))"])
                pending.append(.ringPlan([]))
            }
        case .answerCaller: await port.answerCaller()
        case .play(let sound): await port.play(sound)
        case .stopPlayback: await port.stopPlayback()
        case .ring(let agents): await ring(agents)
        case .cancelRinging(let agents):
            await port.cancelRinging(agents)
            await release(agents)
        case .bridge(let agent):
            if OutsideParty.number(of: agent) == nil { await answered(agent, queueID: currentQueue) }
            await port.bridge(agent: agent)
        case .promoteToCaller(let name):
            if OutsideParty.number(of: name) == nil {
                if let queue = currentQueue {
                    await answered(name, queueID: queue)
                    busySource = name
                } else {
                    // A callback's own source phone: rung for the call, not taken from a queue.
                    await release([name])
                }
            }
            await port.promoteToCaller(name)
        case .hangUpAgent(let agent):
            await finished(agent)
            await port.hangUpAgent(agent)
        case .hangUpCaller:
            await port.hangUpCaller()
        case .refuseUnknownNumber:
            await port.refuseUnknownNumber()
        case .announce(let sound, let party):
            await port.announce(sound, alsoTo: party)
        case .sendKeys(let keys, let party):
            await port.sendKeys(keys, to: party)
        case .startTimer(let timer, let delay):
            timers[timer]?.timer.cancel()
            timerGeneration += 1
            let generation = timerGeneration
            let scheduled = services.timers.schedule(after: delay) { [weak self] in
                await self?.timerFired(timer, generation: generation)
            }
            timers[timer] = (generation, scheduled)
        case .cancelTimer(let timer):
            timers.removeValue(forKey: timer)?.timer.cancel()
        case .interactiveRequest(let url, let method, let variables):
            // Not awaited here: the caller may hang up or press keys while the server answers.
            let client = services.interactive
            interactiveRequestsInFlight += 1
            services.timers.spawn { [weak self] in
                let reply = await client.request(url: url, method: method, parameters: variables)
                await self?.interactiveReplied(reply)
            }
        case .recordRatingOffer(let offer):
            // Awaited, so the offer is committed before the rating that answers it (one group
            // commit queue, in order); a failure costs the statistics one offer, not the call.
            do {
                try await services.store.recordRatingOffers([offer])
            } catch {
                logger.error("rating offer not stored", metadata: ["error_type": "\(type(of: error))"])
            }
        case .storeRating(let rating):
            do {
                try await services.store.insertRatings([rating])
                pending.append(.ratingStored)
            } catch {
                logger.error("rating not stored", metadata: ["error_type": "\(type(of: error))"])
                pending.append(.ratingFailed)
            }
        case .writeCallHistory(let record):
            for timer in timers.values { timer.timer.cancel() }
            timers.removeAll()
            await releaseBusySource()
            await Self.storeCallHistory(record, services: services, logger: logger)
        }
    }

    /// How long a call's history that could not be written waits before it is tried again.
    static let callHistoryRetryDelay: Duration = .seconds(5)

    /// Writes the call's history (over its open record); while the database takes no writes (a
    /// full disk) it is tried again every `callHistoryRetryDelay`, as a timer of the calls' task
    /// group, so the record is not left open while this server runs on. A stop ends the retries:
    /// the open record is then closed at the next start (docs/API.md). Not the runner's own
    /// method: the runner is gone once its call is over.
    private static func storeCallHistory(_ record: CallRecord, services: CallServices, logger: Logger) async {
        do {
            try await services.store.insertCalls([record], isSample: false)
        } catch let error as StorageError {
            logger.error("call history not stored", metadata: ["error": "\(error)"])  // a conflict: trying again cannot help
        } catch {
            logger.error("call history not stored; trying again", metadata: ["error_type": "\(type(of: error))"])
            _ = services.timers.schedule(after: callHistoryRetryDelay) {
                await storeCallHistory(record, services: services, logger: logger)
            }
        }
    }

    private func interactiveReplied(_ reply: [VoiceMenuCall.InteractiveCommand]?) async {
        interactiveRequestsInFlight -= 1
        await deliver(.interactiveReply(reply))
    }

    private func timerFired(_ timer: Call.Timer, generation: Int) async {
        // A timer cancelled or restarted after it woke up must not fire.
        guard timers[timer]?.generation == generation else { return }
        timers.removeValue(forKey: timer)
        await deliver(.timerFired(timer))
    }
}

/// Who waits for a call to be over. Kept outside the runner's isolation so that a waiting task
/// that is cancelled stops waiting at once: the server's stop cancels the calls' tasks, and a
/// call that will never be over must not hold the shutdown.
private final class EndWaiters: Sendable {
    private struct State {
        var nextID = 0
        var waiting: [Int: CheckedContinuation<Void, Never>] = [:]
        var isOver = false
    }

    private let state = Mutex(State())

    func wait() async {
        let id = state.withLock { state in
            state.nextID += 1
            return state.nextID
        }
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let resumeNow = state.withLock { state in
                    guard !state.isOver, !Task.isCancelled else { return true }
                    state.waiting[id] = continuation
                    return false
                }
                if resumeNow { continuation.resume() }
            }
        } onCancel: {
            state.withLock { $0.waiting.removeValue(forKey: id) }?.resume()
        }
    }

    func callIsOver() {
        let waiting = state.withLock { state in
            state.isOver = true
            defer { state.waiting.removeAll() }
            return Array(state.waiting.values)
        }
        for continuation in waiting { continuation.resume() }
    }
}
