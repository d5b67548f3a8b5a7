public import CallFlow
public import Domain
import Synchronization

/// A telephony port that plays nothing and rings no one: it records what the call asked for, in
/// order, for `qualityrate simulate` and tests, which then say what the far side does by
/// delivering events to the runner.
public actor SimulatedTelephony: TelephonyPort {
    public enum Request: Sendable, Equatable, CustomStringConvertible {
        case answerCaller, stopPlayback, hangUpCaller, refuseUnknownNumber
        case play(SoundReference)
        case ring([String])
        case cancelRinging([String])
        case bridge(String)
        case promoteToCaller(String)
        case hangUpAgent(String)
        case sendKeys(String, to: String)
        case announce(SoundReference, alsoTo: String)

        public var description: String {
            switch self {
            case .answerCaller: "answer the caller"
            case .stopPlayback: "stop playback"
            case .hangUpCaller: "hang up the caller"
            case .refuseUnknownNumber: "refuse the caller: number not found"
            case .play(.builtIn(let sound)): "play built-in \(sound.rawValue)"
            case .play(.uploaded(let id)): "play sound \(id)"
            case .ring(let agents): "ring \(agents.joined(separator: ", "))"
            case .cancelRinging(let agents): "cancel ringing \(agents.joined(separator: ", "))"
            case .bridge(let agent): "bridge the caller to \(agent)"
            case .promoteToCaller(let name): "\(name) is now the caller"
            case .hangUpAgent(let agent): "hang up agent \(agent)"
            case .sendKeys(let keys, let party): "send keys \(keys) to \(party)"
            case .announce(.builtIn(let sound), let party): "play built-in \(sound.rawValue) to the caller and \(party)"
            case .announce(.uploaded(let id), let party): "play sound \(id) to the caller and \(party)"
            }
        }
    }

    public private(set) var requests: [Request] = []

    public init() {}

    /// The requests recorded since the last call, oldest first.
    public func takeRequests() -> [Request] {
        defer { requests.removeAll() }
        return requests
    }

    public func answerCaller() { requests.append(.answerCaller) }
    public func play(_ sound: SoundReference) { requests.append(.play(sound)) }
    public func stopPlayback() { requests.append(.stopPlayback) }
    public func ring(_ agents: [String]) { requests.append(.ring(agents)) }
    public func cancelRinging(_ agents: [String]) { requests.append(.cancelRinging(agents)) }
    public func bridge(agent: String) { requests.append(.bridge(agent)) }
    public func promoteToCaller(_ name: String) { requests.append(.promoteToCaller(name)) }
    public func hangUpAgent(_ agent: String) { requests.append(.hangUpAgent(agent)) }
    public func hangUpCaller() { requests.append(.hangUpCaller) }
    public func refuseUnknownNumber() { requests.append(.refuseUnknownNumber) }
    public func sendKeys(_ keys: String, to party: String) { requests.append(.sendKeys(keys, to: party)) }
    public func announce(_ sound: SoundReference, alsoTo party: String) { requests.append(.announce(sound, alsoTo: party)) }
}

/// Timers on a clock that moves only when told to, so a simulated call's five-second key
/// timeout takes no time and happens exactly when the scenario says.
public final class ManualTimerScheduler: TimerScheduler {
    private struct Pending {
        var id: Int
        var due: Duration
        var fire: @Sendable () async -> Void
    }

    private struct State {
        var now: Duration = .zero
        var nextID = 0
        var pending: [Pending] = []
    }

    // A Mutex makes the scheduler Sendable: `schedule` is called synchronously from actors.
    private let state = Mutex(State())

    public init() {}

    /// Time elapsed on this clock.
    public var elapsed: Duration { state.withLock { $0.now } }

    public func schedule(after delay: Duration, _ fire: @escaping @Sendable () async -> Void) -> any ScheduledTimer {
        let id = state.withLock { state in
            state.nextID += 1
            state.pending.append(Pending(id: state.nextID, due: state.now + delay, fire: fire))
            return state.nextID
        }
        return Handle(id: id, scheduler: self)
    }

    /// Background work runs at once, in a task of its own: a simulation (or a test) has no
    /// service group, and its calls end with it.
    public func spawn(_ job: @escaping @Sendable () async -> Void) {
        Task { await job() }
    }

    /// Moves the clock forward, firing every timer that falls due, earliest first.
    public func advance(by duration: Duration) async {
        let target = state.withLock { $0.now + duration }
        while true {
            let due: Pending? = state.withLock { state in
                guard let index = state.pending.indices.min(by: { state.pending[$0].due < state.pending[$1].due }),
                    state.pending[index].due <= target
                else { return nil }
                let next = state.pending.remove(at: index)
                state.now = next.due
                return next
            }
            guard let due else { break }
            await due.fire()
        }
        state.withLock { $0.now = target }
    }

    fileprivate func cancel(_ id: Int) {
        state.withLock { $0.pending.removeAll { $0.id == id } }
    }

    private struct Handle: ScheduledTimer {
        let id: Int
        let scheduler: ManualTimerScheduler
        func cancel() { scheduler.cancel(id) }
    }
}

/// Every agent can be rung: the simulation has no registrations.
public struct EveryAgentReachable: AgentReachability {
    public init() {}
    public func isReachable(clientID: Int64, agent: String) async -> Bool { true }
}

/// Simulated ports for the calls the server places, kept so a test or a simulation can see what
/// each call asked for.
public actor SimulatedTelephonyProvider: TelephonyProvider {
    private var ports: [CallUUID: SimulatedTelephony] = [:]
    private var plans: [CallUUID: Call.CallbackPlan] = [:]

    public init() {}

    public func makePort(for callUUID: CallUUID, clientID: Int64, callback: Call.CallbackPlan) async throws -> any TelephonyPort {
        let port = SimulatedTelephony()
        ports[callUUID] = port
        plans[callUUID] = callback
        return port
    }

    public func port(for callUUID: CallUUID) -> SimulatedTelephony? { ports[callUUID] }

    /// The plan the call was placed with.
    public func plan(for callUUID: CallUUID) -> Call.CallbackPlan? { plans[callUUID] }
}
