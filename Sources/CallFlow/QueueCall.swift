public import Domain

/// One caller's time in a queue (SPEC §2.1): ringing agents round by round, bridging the first
/// who answers, and what happens when the conversation ends — the rating when the agent hangs up
/// first, nothing when the caller does.
///
/// Agents are named by their extension name (the agent's `bridged_username`). The queue-wide
/// choice of whom to ring comes from `AgentSelector` through the runner, as a ring plan: one
/// round, a pass over the available agents, made of attempts (ring-all: one attempt ringing
/// everyone; the other strategies: one agent per attempt). An attempt ends when an agent
/// answers, when everyone it rings refused (at once: busy, do-not-disturb, unreachable), or
/// after `ringTimeout`; a refusal moves on to the next attempt at once. Between rounds the
/// caller waits `retryDelay`, so an agent who refuses is rung at most once a round, and a queue
/// whose agents all refuse never rings in a loop.
public struct QueueCall: Sendable {
    public enum HangupAction: Sendable, Equatable {
        case none
        case qualityRate(RatingCollector.Settings)
        case transfer(destination: String)
    }

    public struct Settings: Sendable, Equatable {
        public var queueID: Int64
        public var agentHangupAction: HangupAction
        /// nil = wait without limit.
        public var maxWaitTime: Duration?
        /// Played when the caller enters, then every `every` while waiting (nil: once).
        public var announcement: (sound: SoundReference, every: Duration?)?
        public var exitWithNoAvailableAgents: Bool
        /// Where the caller goes when no agent is available or `maxWaitTime` runs out; nil = hang up.
        public var noAgentDestination: String?
        /// How long one attempt rings before the next (`ring_timeout`, ours).
        public var ringTimeout: Duration
        /// The pause between two rounds (`retry_delay`, ours).
        public var retryDelay: Duration

        public init(
            queueID: Int64, agentHangupAction: HangupAction, maxWaitTime: Duration?,
            announcement: (sound: SoundReference, every: Duration?)?, exitWithNoAvailableAgents: Bool,
            noAgentDestination: String?, ringTimeout: Duration = .seconds(QueueOptions.defaultRingTimeout),
            retryDelay: Duration = .seconds(QueueOptions.defaultRetryDelay)
        ) {
            self.queueID = queueID
            self.agentHangupAction = agentHangupAction
            self.maxWaitTime = maxWaitTime
            self.announcement = announcement
            self.exitWithNoAvailableAgents = exitWithNoAvailableAgents
            self.noAgentDestination = noAgentDestination
            self.ringTimeout = ringTimeout
            self.retryDelay = retryDelay
        }

        public static func == (lhs: Settings, rhs: Settings) -> Bool {
            lhs.queueID == rhs.queueID && lhs.agentHangupAction == rhs.agentHangupAction
                && lhs.maxWaitTime == rhs.maxWaitTime && lhs.announcement?.sound == rhs.announcement?.sound
                && lhs.announcement?.every == rhs.announcement?.every
                && lhs.exitWithNoAvailableAgents == rhs.exitWithNoAvailableAgents
                && lhs.noAgentDestination == rhs.noAgentDestination && lhs.ringTimeout == rhs.ringTimeout
                && lhs.retryDelay == rhs.retryDelay
        }
    }

    public enum Timer: Sendable, Hashable {
        /// `ringTimeout`: the current attempt rang long enough. `nextRound`: the pause between
        /// rounds is over.
        case ringTimeout, nextRound, maxWait, announcement, ratingKey
    }

    public enum Event: Sendable, Equatable {
        /// The caller enters; `ringPlan` is who to ring, round by round (empty: nobody available).
        case entered(ringPlan: [[String]])
        /// A fresh plan, asked for with `requestRingPlan` when a round's pause is over.
        case ringPlan([[String]])
        case agentAnswered(String)
        /// Busy, rejected, unreachable or gave up ringing.
        case agentUnreachable(String)
        case callerHungUp
        case agentHungUp(String)
        case key(Character)
        case playbackFinished
        case timerFired(Timer)
        case ratingStored
        case ratingFailed
    }

    public enum Action: Sendable, Equatable {
        case play(SoundReference)
        case stopPlayback
        case ring([String])
        case cancelRinging([String])
        case requestRingPlan
        case bridge(agent: String)
        case hangUpCaller
        case hangUpAgent(String)
        case startTimer(Timer, Duration)
        case cancelTimer(Timer)
        /// The caller leaves the queue for another destination; the agent (if any) is attributed.
        case transfer(destination: String, attributedAgent: String?)
        case offerRating(agent: String)
        case storeRating(rate: Int, maxRate: Int, agent: String)
        case finished(Outcome)
    }

    public enum Outcome: Sendable, Equatable {
        case callerHungUpWaiting
        case callerHungUpFirst(agent: String)
        case agentHungUpFirst(agent: String, rating: Int?)
        case leftWithoutAgent
    }

    private enum State: Sendable {
        case waiting(plan: [[String]], ringing: [String])
        case talking(agent: String)
        case rating(agent: String, RatingCollector)
        case done
    }

    public let settings: Settings
    private var state: State = .waiting(plan: [], ringing: [])

    public init(settings: Settings) { self.settings = settings }

    public var isDone: Bool { if case .done = state { true } else { false } }

    /// The agent the caller is talking to now, if any.
    public var bridgedAgent: String? { if case .talking(let agent) = state { agent } else { nil } }

    public mutating func handle(_ event: Event) -> [Action] {
        switch (state, event) {
        case (.waiting, .entered(let plan)):
            if plan.isEmpty, settings.exitWithNoAvailableAgents { return leaveWithoutAgent(cancelling: []) }
            var actions: [Action] = []
            if let maxWait = settings.maxWaitTime { actions.append(.startTimer(.maxWait, maxWait)) }
            if let announcement = settings.announcement {
                actions.append(.play(announcement.sound))
                if let every = announcement.every { actions.append(.startTimer(.announcement, every)) }
            }
            return actions + start(plan)

        case (.waiting(_, let ringing), .ringPlan(let plan)):
            guard ringing.isEmpty else { return [] }
            return start(plan)

        case (.waiting(_, let ringing), .timerFired(.nextRound)):
            guard ringing.isEmpty else { return [] }
            return [.requestRingPlan]

        case (.waiting(_, let ringing), .agentAnswered(let agent)) where ringing.contains(agent):
            state = .talking(agent: agent)
            let others = ringing.filter { $0 != agent }
            var actions: [Action] = [.cancelTimer(.ringTimeout), .cancelTimer(.maxWait), .cancelTimer(.announcement)]
            if settings.announcement != nil { actions.append(.stopPlayback) }
            if !others.isEmpty { actions.append(.cancelRinging(others)) }
            return actions + [.bridge(agent: agent)]

        case (.waiting(let plan, let ringing), .agentUnreachable(let agent)) where ringing.contains(agent):
            let remaining = ringing.filter { $0 != agent }
            state = .waiting(plan: plan, ringing: remaining)
            return remaining.isEmpty ? [.cancelTimer(.ringTimeout)] + ringNextRound(of: plan) : []

        case (.waiting(let plan, let ringing), .timerFired(.ringTimeout)):
            state = .waiting(plan: plan, ringing: [])
            return (ringing.isEmpty ? [] : [.cancelRinging(ringing)]) + ringNextRound(of: plan)

        case (.waiting(_, let ringing), .timerFired(.maxWait)):
            return leaveWithoutAgent(cancelling: ringing)

        case (.waiting, .timerFired(.announcement)):
            guard let announcement = settings.announcement, let every = announcement.every else { return [] }
            return [.play(announcement.sound), .startTimer(.announcement, every)]

        case (.waiting(_, let ringing), .callerHungUp):
            state = .done
            var actions: [Action] = [.cancelTimer(.ringTimeout), .cancelTimer(.nextRound), .cancelTimer(.maxWait), .cancelTimer(.announcement)]
            if !ringing.isEmpty { actions.append(.cancelRinging(ringing)) }
            return actions + [.finished(.callerHungUpWaiting)]

        case (.talking(let agent), .callerHungUp):
            state = .done
            return [.hangUpAgent(agent), .finished(.callerHungUpFirst(agent: agent))]

        case (.talking(let agent), .agentHungUp(let who)) where who == agent:
            switch settings.agentHangupAction {
            case .none:
                state = .done
                return [.hangUpCaller, .finished(.agentHungUpFirst(agent: agent, rating: nil))]
            case .transfer(let destination):
                state = .done
                return [.transfer(destination: destination, attributedAgent: agent), .finished(.agentHungUpFirst(agent: agent, rating: nil))]
            case .qualityRate(let ratingSettings):
                var collector = RatingCollector(settings: ratingSettings)
                let actions = collector.handle(.start)
                state = .rating(agent: agent, collector)
                return translate(actions, agent: agent)
            }

        case (.rating(let agent, var collector), _):
            guard let ratingEvent = Self.ratingEvent(event) else { return [] }
            let actions = collector.handle(ratingEvent)
            state = .rating(agent: agent, collector)
            return translate(actions, agent: agent)

        default:
            // Late events: an agent answering after another won, a ring for an agent no longer
            // rung, a timer that fired as the state moved on.
            if case .agentAnswered(let late) = event, case .talking = state { return [.hangUpAgent(late)] }
            return []
        }
    }

    /// A fresh plan from the runner. An empty one means no agent is available now: the caller
    /// leaves (`exit_with_no_av_agents`) or asks again after the pause between rounds — never
    /// at once, so a queue without agents does not spin.
    private mutating func start(_ plan: [[String]]) -> [Action] {
        guard plan.isEmpty else { return ringNextRound(of: plan) }
        if settings.exitWithNoAvailableAgents { return leaveWithoutAgent(cancelling: []) }
        return pauseBeforeNextRound()
    }

    /// The next attempt of the round; when the round is over, the pause before the next one.
    private mutating func ringNextRound(of plan: [[String]]) -> [Action] {
        guard let attempt = plan.first else { return pauseBeforeNextRound() }
        state = .waiting(plan: Array(plan.dropFirst()), ringing: attempt)
        return [.ring(attempt), .startTimer(.ringTimeout, settings.ringTimeout)]
    }

    private mutating func pauseBeforeNextRound() -> [Action] {
        state = .waiting(plan: [], ringing: [])
        return [.startTimer(.nextRound, settings.retryDelay)]
    }

    private mutating func leaveWithoutAgent(cancelling ringing: [String]) -> [Action] {
        state = .done
        var actions: [Action] = [.cancelTimer(.ringTimeout), .cancelTimer(.nextRound), .cancelTimer(.maxWait), .cancelTimer(.announcement)]
        if !ringing.isEmpty { actions.append(.cancelRinging(ringing)) }
        if let destination = settings.noAgentDestination {
            actions.append(.transfer(destination: destination, attributedAgent: nil))
        } else {
            actions.append(.hangUpCaller)
        }
        return actions + [.finished(.leftWithoutAgent)]
    }

    private static func ratingEvent(_ event: Event) -> RatingCollector.Event? {
        switch event {
        case .key(let key): .key(key)
        case .playbackFinished: .playbackFinished
        case .timerFired(.ratingKey): .keyTimerFired
        case .ratingStored: .ratingStored
        case .ratingFailed: .ratingFailed
        case .callerHungUp: .callerHungUp
        default: nil
        }
    }

    private mutating func translate(_ actions: [RatingCollector.Action], agent: String) -> [Action] {
        actions.flatMap { action -> [Action] in
            switch action {
            case .play(let sound): return [.play(sound)]
            case .stopPlayback: return [.stopPlayback]
            case .startKeyTimer(let timeout): return [.startTimer(.ratingKey, timeout)]
            case .cancelKeyTimer: return [.cancelTimer(.ratingKey)]
            case .offerRating: return [.offerRating(agent: agent)]
            case .storeRating(let rate, let maxRate): return [.storeRating(rate: rate, maxRate: maxRate, agent: agent)]
            case .finished(let outcome):
                state = .done
                switch outcome {
                case .rated(let rate):
                    return [.hangUpCaller, .finished(.agentHungUpFirst(agent: agent, rating: rate))]
                case .callerHungUp(let rate):
                    return [.finished(.agentHungUpFirst(agent: agent, rating: rate))]
                case .noValidKey, .storageFailed:
                    return [.hangUpCaller, .finished(.agentHungUpFirst(agent: agent, rating: nil))]
                }
            }
        }
    }
}

extension QueueCall.Settings {
    /// The settings of a queue as its options configure it (SPEC §4.1).
    public init(queueID: Int64, options: QueueOptions) {
        let hangupAction: QueueCall.HangupAction =
            switch options.agentHangupAction {
            case nil: .none
            case .qualityRate?:
                .qualityRate(RatingCollector.Settings(
                    prompt: .configured(options.qualityRateSound, default: .ratingPrompt),
                    finish: .configured(options.qualityRateFinishSound, default: .ratingFinish),
                    maxRate: Int(options.qualityRateMax)))
            case .transfer?: options.agentHangupTransferDestination.map { .transfer(destination: $0) } ?? .none
            }
        self.init(
            queueID: queueID, agentHangupAction: hangupAction,
            maxWaitTime: options.maxWaitTime > 0 ? .seconds(options.maxWaitTime) : nil,
            announcement: options.announceSound == 0
                ? nil
                : (.uploaded(id: options.announceSound), options.announceFrequency > 0 ? .seconds(options.announceFrequency) : nil),
            exitWithNoAvailableAgents: options.exitWithNoAvailableAgents,
            noAgentDestination: options.noAgentTimeoutTransferDestination, ringTimeout: .seconds(options.ringTimeout),
            retryDelay: .seconds(options.retryDelay))
    }
}
