public import Domain

/// One caller's whole journey (SPEC §2): routed to a queue, a voice menu or a phone, moved on by
/// transfers, ending in call history — and, where a flow says so, a rating attributed to the
/// agent the caller was last bridged to, or to the whole call.
///
/// Routing needs the configuration, so it is asked for: `resolve(number)` is answered by
/// `routed(destination)`. Everything else comes from `QueueCall` and `VoiceMenuCall`, whose
/// actions this value passes on, adding what only the whole call knows: the ids to store a
/// rating under, the agent to attribute it to, and the call-history record.
public struct Call: Sendable {
    /// A call started by the API (SPEC §2.3): ring the sources; the first to answer calls the
    /// destination. When the destination (a phone) hangs up first the source goes to
    /// `afterDestinationHangup`; when the source hangs up first the destination goes to
    /// `afterSourceHangup`. A queue or menu as destination runs as for any caller.
    public struct CallbackPlan: Sendable, Equatable {
        /// The parties rung first: the client's phones (extension names) and outside numbers
        /// (`OutsideParty.name`).
        public var sources: [String]
        /// A queue rung as a source (REFERENCE-API §4, issue 11): its agents, in its order,
        /// are rung with the other sources; the one who answers is the source.
        public var sourceQueue: Int64?
        public var destination: String
        public var afterSourceHangup: String?
        public var afterDestinationHangup: String?
        /// Played to the source once it answered, before the destination is called.
        public var sourceAnnouncement: SoundReference?
        /// Played to both parties once the destination answered, before they talk
        /// (`dst_announce_sound_id`).
        public var destinationAnnouncement: SoundReference?
        /// Keys sent by RFC 4733 to the destination once it answered (`dst_dtmf`).
        public var destinationKeys: String?
        /// The longest the call may last, from its start (`call_duration`).
        public var maximumDuration: Duration?
        /// What outside parties and the client's phones see as calling (`src_ani`, `dst_ani`,
        /// `caller_id_name`, `caller_id_number`); the telephony side applies it.
        public var presentation: CallbackPresentation

        public init(
            sources: [String], sourceQueue: Int64? = nil, destination: String, afterSourceHangup: String?,
            afterDestinationHangup: String?, sourceAnnouncement: SoundReference? = nil, destinationAnnouncement: SoundReference? = nil,
            destinationKeys: String? = nil, maximumDuration: Duration? = nil, presentation: CallbackPresentation = CallbackPresentation()
        ) {
            self.destinationAnnouncement = destinationAnnouncement
            self.sources = sources
            self.sourceQueue = sourceQueue
            self.destination = destination
            self.afterSourceHangup = afterSourceHangup
            self.afterDestinationHangup = afterDestinationHangup
            self.sourceAnnouncement = sourceAnnouncement
            self.destinationKeys = destinationKeys
            self.maximumDuration = maximumDuration
            self.presentation = presentation
        }
    }

    public struct Arrival: Sendable, Equatable {
        public var callUUID: CallUUID
        public var clientID: Int64
        /// What was dialled: a DID number from a trunk, or an extension name from a phone.
        public var dialled: String
        /// Set for calls from a trunk to a DID.
        public var did: (number: String, domain: String)?
        public var caller: CallHistoryRecorder.Caller
        /// Set for a call started by the API; `dialled` is then its destination.
        public var callback: CallbackPlan?

        public init(
            callUUID: CallUUID, clientID: Int64, dialled: String, did: (number: String, domain: String)?,
            caller: CallHistoryRecorder.Caller, callback: CallbackPlan? = nil
        ) {
            self.callUUID = callUUID
            self.clientID = clientID
            self.dialled = dialled
            self.did = did
            self.caller = caller
            self.callback = callback
        }

        public static func == (lhs: Arrival, rhs: Arrival) -> Bool {
            lhs.callUUID == rhs.callUUID && lhs.clientID == rhs.clientID && lhs.dialled == rhs.dialled
                && lhs.did?.number == rhs.did?.number && lhs.did?.domain == rhs.did?.domain && lhs.caller == rhs.caller
                && lhs.callback == rhs.callback
        }
    }

    public enum Destination: Sendable, Equatable {
        case queue(Extension, QueueCall.Settings)
        case voiceMenu(Extension, IVRConfiguration)
        case phone(Extension)
        /// A number outside the client, called through its trunks (issue 11).
        case outside(String)
        /// Nothing of this client answers to the number.
        case unreachable
    }

    /// What a queue-like flow (`QueueCall`) runs for: a queue, or one party rung like a
    /// one-agent queue that rates nothing — a phone of the client, or a number outside it.
    private enum Place: Sendable {
        case queue(Extension)
        case phone(Extension)
        case outside(String)

        var queue: Extension? { if case .queue(let queue) = self { queue } else { nil } }
        var isQueue: Bool { queue != nil }
    }

    public enum Timer: Sendable, Hashable {
        case queue(QueueCall.Timer)
        case menu(VoiceMenuCall.Timer)
        /// How long a callback's sources ring before the call is given up (ours: 30 s).
        case callbackSources
        /// A callback's `call_duration` is over.
        case callbackDuration
    }

    static let callbackRingTime: Duration = .seconds(30)

    public enum Event: Sendable, Equatable {
        case arrived
        case routed(Destination)
        case ringPlan([[String]])
        case agentAnswered(String)
        case agentUnreachable(String)
        case agentHungUp(String)
        case callerHungUp
        case key(Character)
        case playbackFinished
        case timerFired(Timer)
        case interactiveReply([VoiceMenuCall.InteractiveCommand]?)
        case ratingStored
        case ratingFailed
        /// The server is stopping and the drain time is over (issue 9): it ends the call.
        case serverStopping
        /// A try to reach an outside party through a trunk ended: refused, or answered (issue 11).
        case trunkAttempt(TrunkAttempt)
    }

    public enum Action: Sendable, Equatable {
        case resolve(String)
        case answerCaller
        case play(SoundReference)
        case stopPlayback
        case requestRingPlan(queueID: Int64)
        case ring([String])
        case cancelRinging([String])
        case bridge(agent: String)
        /// The leg rung as `name` (an answered callback source, or a destination left alone by the
        /// source) is from now on the caller: what is played goes to it, its keys and hang-up count.
        case promoteToCaller(String)
        case hangUpAgent(String)
        case hangUpCaller
        /// The caller, not answered, dialled a number that reaches nothing.
        case refuseUnknownNumber
        case startTimer(Timer, Duration)
        case cancelTimer(Timer)
        /// `variables` holds the menu's variables and the call's facts (`CallID`, `CallerIDNum`…).
        case interactiveRequest(url: String, method: IVRAction.HTTPMethod, variables: [String: String])
        /// Send `keys` by RFC 4733 to the party rung as `party` (a callback's `dst_dtmf`).
        case sendKeys(String, to: String)
        /// Play to the caller and to the party rung as `alsoTo` at once; `playbackFinished` once.
        case announce(SoundReference, alsoTo: String)
        /// Count the rating prompt as offered (issue 10, response rate); nothing answers it.
        case recordRatingOffer(RatingOffer)
        /// Store durably, then answer `ratingStored` (or `ratingFailed`).
        case storeRating(NewRating)
        /// The call is over: this is its history.
        case writeCallHistory(CallRecord)
    }

    private enum Leg: Sendable {
        /// `planPending`: the source queue's ring plan is still to come.
        case ringingSources([String], planPending: Bool)
        /// The source answered and hears the callback's announcement; then the destination.
        case announcingToSource
        case routing
        case queue(Place, QueueCall, ringPlanAsked: Bool)
        case menu(Extension, VoiceMenuCall)
        case ended
    }

    /// Transfers followed before the call is taken to be in a loop and ended.
    static let maxTransfers = 16

    public let arrival: Arrival
    private var leg: Leg = .routing
    private var recorder: CallHistoryRecorder
    private var callerLeg: CallHistoryRecorder.LegHandle?
    private var agentLegs: [String: CallHistoryRecorder.LegHandle] = [:]
    private var answered = false
    private var transfers = 0
    /// The agent a rating is of: the last agent bridged, kept across transfers (SPEC §2.1).
    private var attributedAgent: String?
    /// When the rating prompt now being answered was first played (a transfer to another rating
    /// menu offers again).
    private var ratingOfferedAt: UnixTime?
    private var firstHangup: CallRecord.HangupDisposition?
    /// The recorder's revision of the open record last handed out (`openRecordChange`).
    private var savedRevision = 0
    /// The trunk each outside party answered through, until its leg is recorded.
    private var answeredTrunks: [String: TrunkAttempt] = [:]
    /// The callback's `dst_dtmf` went to the destination (once, whoever it is after transfers).
    private var destinationKeysSent = false
    /// The destination that answered and hears `dst_announce_sound_id` with the source: bridged
    /// when it ends.
    private var announcedBridge: String?
    private var destinationAnnounced = false
    /// The callback source that answered: the agent a rating after `afterSourceHangup` is of.
    private var callbackSource: String?

    public init(arrival: Arrival, at instant: UnixTime) {
        self.arrival = arrival
        recorder = CallHistoryRecorder(
            // A callback is placed by the server: `out` (and so is a call sent on through a trunk).
            callUUID: arrival.callUUID, clientID: arrival.clientID, flow: arrival.callback == nil ? .inbound : .outbound,
            startedAt: instant, did: arrival.did,
            caller: arrival.caller)
    }

    public var isOver: Bool { if case .ended = leg { true } else { false } }

    /// The call's history (SPEC §4.3) while it is up, when it changed since this was last asked: a call's
    /// history is recorded from the moment it is answered (issue 9), so a crash leaves it open
    /// in the database, to be closed at the next start. Nil before the answer, once the call is
    /// over (its record is in `writeCallHistory`), and when nothing changed.
    public mutating func openRecordChange(at now: UnixTime) -> OpenCallRecord? {
        guard answered, !isOver, recorder.revision != savedRevision else { return nil }
        savedRevision = recorder.revision
        return recorder.snapshot(at: now)
    }

    public mutating func handle(_ event: Event, at now: UnixTime) -> [Action] {
        switch (leg, event) {
        case (.ended, _):
            return []
        case (_, .serverStopping):
            // Whoever hung up first still names the disposition (an agent who left a caller in
            // the rating prompt); a call nobody had left is ended by the system.
            return [.hangUpCaller] + end(at: now)
        case (_, .trunkAttempt(let attempt)):
            recordTrunkAttempt(attempt, at: now)
            return []
        case (_, .timerFired(.callbackDuration)):
            // `call_duration` is over: the call ends for everyone on it, by the system.
            return [.hangUpCaller] + end(at: now)
        case (.routing, .arrived) where arrival.callback != nil:
            let plan = arrival.callback
            let sources = plan?.sources ?? []
            leg = .ringingSources(sources, planPending: plan?.sourceQueue != nil)
            var actions: [Action] = sources.isEmpty ? [] : [.ring(sources)]
            if let queue = plan?.sourceQueue { actions.append(.requestRingPlan(queueID: queue)) }
            if let limit = plan?.maximumDuration { actions.append(.startTimer(.callbackDuration, limit)) }
            return actions + [.startTimer(.callbackSources, Self.callbackRingTime)]
        case (.ringingSources(let ringing, true), .ringPlan(let plan)):
            // The source queue's agents, all at once with the other sources: the first to answer is the source.
            let agents = plan.flatMap { $0 }.filter { !ringing.contains($0) }
            let all = ringing + agents
            leg = .ringingSources(all, planPending: false)
            guard !all.isEmpty else { return [.cancelTimer(.callbackSources)] + end(at: now) }
            return agents.isEmpty ? [] : [.ring(agents)]
        case (.ringingSources(let ringing, _), .agentAnswered(let source)) where ringing.contains(source):
            answered = true
            callbackSource = source
            callerLeg = recorder.legStarted(
                .callbackSource, ani: arrival.caller.username, destination: Self.number(of: source), domain: nil, application: .callback,
                through: answeredTrunks.removeValue(forKey: source), at: now)
            let others = ringing.filter { $0 != source }
            let answered: [Action] = [.cancelTimer(.callbackSources)] + (others.isEmpty ? [] : [.cancelRinging(others)]) + [.promoteToCaller(source)]
            if let announcement = arrival.callback?.sourceAnnouncement {
                leg = .announcingToSource
                return answered + [.play(announcement)]
            }
            leg = .routing
            return answered + [.resolve(arrival.dialled)]
        case (.ringingSources(let ringing, let planPending), .agentUnreachable(let source)):
            let remaining = ringing.filter { $0 != source }
            leg = .ringingSources(remaining, planPending: planPending)
            return remaining.isEmpty && !planPending ? [.cancelTimer(.callbackSources)] + end(at: now) : []
        case (.ringingSources(let ringing, _), .timerFired(.callbackSources)):
            return [.cancelRinging(ringing)] + end(at: now)
        case (.ringingSources, _):
            return []
        case (.announcingToSource, .playbackFinished):
            leg = .routing
            return [.resolve(arrival.dialled)]
        case (.announcingToSource, let event) where event != .callerHungUp:
            return []
        case (.routing, .arrived):
            callerLeg = recorder.legStarted(
                .caller, ani: arrival.caller.username, destination: arrival.dialled, domain: arrival.did?.domain,
                application: nil, at: now)
            return [.resolve(arrival.dialled)]
        case (.routing, .routed(let destination)):
            return route(to: destination, at: now)
        case (.queue(let place, let flow, _), .callerHungUp)
            where !place.isQueue && arrival.callback?.afterSourceHangup != nil && flow.bridgedAgent != nil:
            return destinationStays(with: flow.bridgedAgent ?? "", at: now)
        case (_, .callerHungUp):
            firstHangup = firstHangup ?? .callerHangup
            switch leg {
            case .queue(let queue, var flow, let asked):
                let actions = flow.handle(.callerHungUp)
                leg = .queue(queue, flow, ringPlanAsked: asked)
                return translate(actions, in: queue, at: now) + end(at: now)
            case .menu(let menu, var flow):
                let actions = flow.handle(.callerHungUp)
                leg = .menu(menu, flow)
                return translate(actions, in: menu, at: now) + end(at: now)
            default:
                return end(at: now)
            }
        case (.queue, .playbackFinished) where announcedBridge != nil:
            let agent = announcedBridge ?? ""
            announcedBridge = nil
            return connect(agent, isCallback: true)
        case (.queue(let queue, var flow, let asked), _):
            if case .agentHungUp(let agent) = event, agent == announcedBridge { announcedBridge = nil }
            guard let queueEvent = Self.queueEvent(event, ringPlanAsked: asked) else { return [] }
            if case .agentHungUp(let agent) = event, let handle = agentLegs[agent] {
                firstHangup = firstHangup ?? .agentHangup
                recorder.legEnded(handle, at: now)
                recorder.unbridged(at: now)
            }
            var actions = flow.handle(queueEvent)
            if !queue.isQueue, actions.contains(.requestRingPlan) {
                // One party (a phone, an outside number) is rung for one round: when that round
                // ends unanswered, there is nobody else to try, and the caller is let go.
                actions.removeAll { $0 == .requestRingPlan }
                actions += flow.handle(.ringPlan([]))
            }
            leg = .queue(queue, flow, ringPlanAsked: true)
            return translate(actions, in: queue, at: now)
        case (.menu(let menu, var flow), _):
            guard let menuEvent = Self.menuEvent(event) else { return [] }
            let actions = flow.handle(menuEvent)
            leg = .menu(menu, flow)
            return translate(actions, in: menu, at: now)
        default:
            return []
        }
    }

    // MARK: Routing

    private mutating func route(to destination: Destination, at now: UnixTime) -> [Action] {
        var actions: [Action] = []
        switch destination {
        case .unreachable:
            // Not answered yet: refused as "not found" (SIP 404), so a trunk's caller or a phone
            // learns the number reaches nothing here (issue 11: an outside number no trunk carries).
            return [answered ? .hangUpCaller : .refuseUnknownNumber] + end(at: now)
        case .queue(let queue, let settings):
            recorder.reached(queue)
            actions += answer()
            leg = .queue(.queue(queue), QueueCall(settings: settings), ringPlanAsked: false)
            return actions + [.requestRingPlan(queueID: queue.id)]
        case .phone(let phone):
            recorder.reached(phone)
            return ringOne(phone.name, place: .phone(phone), queueID: phone.id, at: now)
        case .outside(let number):
            return ringOne(OutsideParty.name(of: number), place: .outside(number), queueID: 0, at: now)
        case .voiceMenu(let menu, let configuration):
            recorder.reached(menu)
            actions += answer()
            var flow = VoiceMenuCall(
                configuration: configuration,
                caller: .init(callerID: arrival.caller.username, did: arrival.did?.number, attributedAgent: attributedAgent))
            let started = flow.handle(.entered)
            leg = .menu(menu, flow)
            return actions + translate(started, in: menu, at: now)
        }
    }

    /// A phone or an outside number, rung like a one-agent queue that rates nothing. A callback's
    /// destination hanging up first sends the source on (SPEC §2.3).
    private mutating func ringOne(_ party: String, place: Place, queueID: Int64, at now: UnixTime) -> [Action] {
        let afterHangup = arrival.callback?.afterDestinationHangup.map { QueueCall.HangupAction.transfer(destination: $0) }
        var flow = QueueCall(settings: .init(
            queueID: queueID, agentHangupAction: afterHangup ?? .none, maxWaitTime: nil, announcement: nil,
            exitWithNoAvailableAgents: true, noAgentDestination: nil))
        let started = flow.handle(.entered(ringPlan: [[party]]))
        leg = .queue(place, flow, ringPlanAsked: true)
        return translate(started, in: place, at: now)
    }

    /// The callback's source hung up while talking to the destination phone: the destination
    /// becomes the caller and goes to `afterSourceHangup`.
    private mutating func destinationStays(with agent: String, at now: UnixTime) -> [Action] {
        announcedBridge = nil
        firstHangup = firstHangup ?? .callerHangup
        if let callerLeg { recorder.legEnded(callerLeg, at: now) }
        recorder.unbridged(at: now)
        callerLeg = agentLegs.removeValue(forKey: agent)
        let destination = arrival.callback?.afterSourceHangup ?? ""
        // The rating the destination leaves there is of the source, when the source was one of
        // the client's agents (a phone, or a queue's agent), not an outside number (issue 11).
        let source = callbackSource.flatMap { OutsideParty.number(of: $0) == nil ? $0 : nil }
        return transfer(to: destination, agent: source, at: now).map { action in
            // The transfer's `resolve` follows the promotion, so the next flow plays to the destination.
            if case .resolve = action { return [.promoteToCaller(agent), action] }
            return [action]
        }.flatMap { $0 }
    }

    /// Bridges the caller to `agent`; a callback's destination gets its `dst_dtmf` then.
    private mutating func connect(_ agent: String, isCallback: Bool) -> [Action] {
        var actions: [Action] = [.bridge(agent: agent)]
        if isCallback, !destinationKeysSent, let keys = arrival.callback?.destinationKeys {
            destinationKeysSent = true
            actions.append(.sendKeys(keys, to: agent))
        }
        return actions
    }

    /// How call history names a party: an outside number by the number.
    static func number(of party: String) -> String { OutsideParty.number(of: party) ?? party }

    /// A try through a trunk: a refused one is a leg of its own (with the trunk and the SIP
    /// status); an answered one goes with the leg of the party once it is bridged.
    private mutating func recordTrunkAttempt(_ attempt: TrunkAttempt, at now: UnixTime) {
        guard attempt.sipStatus != nil else {
            answeredTrunks[attempt.party] = attempt
            return
        }
        let role: CallLeg.Role
        if case .ringingSources = leg { role = .callbackSource } else if arrival.callback != nil { role = .callbackDestination } else { role = .transfer }
        let handle = recorder.legStarted(
            role, ani: arrival.caller.username, destination: attempt.number, domain: nil,
            application: arrival.callback != nil ? .callback : nil, through: attempt, at: now)
        recorder.legEnded(handle, at: now)
    }

    private mutating func answer() -> [Action] {
        guard !answered else { return [] }
        answered = true
        return [.answerCaller]
    }

    private mutating func transfer(to destination: String, agent: String?, at now: UnixTime) -> [Action] {
        announcedBridge = nil
        if let agent { attributedAgent = agent }
        transfers += 1
        let cleanup = Self.timers(of: leg).map(Action.cancelTimer)
        leg = .routing
        guard transfers <= Self.maxTransfers else { return cleanup + [.hangUpCaller] + end(at: now) }
        return cleanup + [.resolve(destination)]
    }

    private static func timers(of leg: Leg) -> [Timer] {
        switch leg {
        case .queue: [.queue(.ringTimeout), .queue(.nextRound), .queue(.maxWait), .queue(.announcement), .queue(.ratingKey)]
        case .menu: [.menu(.sleep), .menu(.lifetime), .menu(.firstKey), .menu(.nextKey), .menu(.ratingKey)]
        case .ringingSources: [.callbackSources]
        case .routing, .announcingToSource, .ended: []
        }
    }

    private mutating func end(at now: UnixTime) -> [Action] {
        var cleanup = Self.timers(of: leg).map(Action.cancelTimer)
        if arrival.callback?.maximumDuration != nil { cleanup.append(.cancelTimer(.callbackDuration)) }
        leg = .ended
        for agentLeg in agentLegs.values { recorder.legEnded(agentLeg, at: now) }
        if let callerLeg { recorder.legEnded(callerLeg, at: now) }
        return cleanup + [.writeCallHistory(recorder.finish(at: now, disposition: firstHangup ?? .system))]
    }

    // MARK: Passing events down

    private static func queueEvent(_ event: Event, ringPlanAsked: Bool) -> QueueCall.Event? {
        switch event {
        case .ringPlan(let plan): ringPlanAsked ? .ringPlan(plan) : .entered(ringPlan: plan)
        case .agentAnswered(let agent): .agentAnswered(agent)
        case .agentUnreachable(let agent): .agentUnreachable(agent)
        case .agentHungUp(let agent): .agentHungUp(agent)
        case .key(let key): .key(key)
        case .playbackFinished: .playbackFinished
        case .timerFired(.queue(let timer)): .timerFired(timer)
        case .ratingStored: .ratingStored
        case .ratingFailed: .ratingFailed
        default: nil
        }
    }

    private static func menuEvent(_ event: Event) -> VoiceMenuCall.Event? {
        switch event {
        case .key(let key): .key(key)
        case .playbackFinished: .playbackFinished
        case .timerFired(.menu(let timer)): .timerFired(timer)
        case .interactiveReply(let reply): .interactiveReply(reply)
        case .ratingStored: .ratingStored
        case .ratingFailed: .ratingFailed
        default: nil
        }
    }

    // MARK: Passing actions up

    private mutating func translate(_ actions: [QueueCall.Action], in place: Place, at now: UnixTime) -> [Action] {
        var result: [Action] = []
        for action in actions {
            switch action {
            case .play(let sound): result.append(.play(sound))
            case .stopPlayback: result.append(.stopPlayback)
            case .ring(let agents): result.append(.ring(agents))
            case .cancelRinging(let agents): result.append(.cancelRinging(agents))
            case .requestRingPlan:
                // Only a queue asks for its next ring plan (see the queue leg's handling above).
                if let queue = place.queue { result.append(.requestRingPlan(queueID: queue.id)) }
            case .bridge(let agent):
                // Only a queue's agent is whom a later rating is of (SPEC §2.2); a phone dialled
                // directly, or a callback's destination, is not.
                let isCallback = arrival.callback != nil && !place.isQueue
                if place.isQueue { attributedAgent = agent }
                recorder.bridged(to: Self.number(of: agent), domain: arrival.did?.domain, at: now)
                agentLegs[agent] = recorder.legStarted(
                    isCallback ? .callbackDestination : .agent, ani: arrival.caller.username, destination: Self.number(of: agent), domain: nil,
                    application: isCallback ? .callback : .callcenter, through: answeredTrunks.removeValue(forKey: agent), at: now)
                result += answer()
                if isCallback, !destinationAnnounced, let announcement = arrival.callback?.destinationAnnouncement {
                    // Both hear it first; they talk (and the keys go) once it ended.
                    destinationAnnounced = true
                    announcedBridge = agent
                    result.append(.announce(announcement, alsoTo: agent))
                } else {
                    result += connect(agent, isCallback: isCallback)
                }
            case .hangUpAgent(let agent):
                if let handle = agentLegs[agent] { recorder.legEnded(handle, at: now) }
                recorder.unbridged(at: now)
                result.append(.hangUpAgent(agent))
            case .hangUpCaller:
                result.append(.hangUpCaller)
                result += end(at: now)
            case .startTimer(let timer, let duration): result.append(.startTimer(.queue(timer), duration))
            case .cancelTimer(let timer): result.append(.cancelTimer(.queue(timer)))
            case .transfer(let destination, let agent):
                result += transfer(to: destination, agent: place.isQueue ? agent : nil, at: now)
            case .offerRating(let agent):
                // Only a queue rates (a phone's or outside number's flow has no rating prompt).
                if let queue = place.queue { result.append(offerRating(extensionID: queue.id, agent: agent, at: now)) }
            case .storeRating(let rate, let maxRate, let agent):
                if let queue = place.queue {
                    result.append(.storeRating(rating(rate: rate, maxRate: maxRate, extensionID: queue.id, agent: agent, at: now)))
                }
            case .finished:
                break
            }
        }
        return result
    }

    private mutating func translate(_ actions: [VoiceMenuCall.Action], in menu: Extension, at now: UnixTime) -> [Action] {
        var result: [Action] = []
        for action in actions {
            switch action {
            case .play(let sound): result.append(.play(sound))
            case .stopPlayback: result.append(.stopPlayback)
            case .startTimer(let timer, let duration): result.append(.startTimer(.menu(timer), duration))
            case .cancelTimer(let timer): result.append(.cancelTimer(.menu(timer)))
            case .interactiveRequest(let url, let method, let variables):
                result.append(.interactiveRequest(url: url, method: method, variables: variables.merging(interactiveCallInfo) { own, _ in own }))
            case .offerRating(let agent):
                result.append(offerRating(extensionID: menu.id, agent: agent, at: now))
            case .storeRating(let rate, let maxRate, let agent):
                result.append(.storeRating(rating(rate: rate, maxRate: maxRate, extensionID: menu.id, agent: agent, at: now)))
            case .hangUp:
                result.append(.hangUpCaller)
                result += end(at: now)
            case .transfer(let destination, let agent):
                result += transfer(to: destination, agent: agent, at: now)
            case .finished:
                break
            }
        }
        return result
    }

    /// What `call_interactive` sends besides the menu's variables (REFERENCE-API §3.4 names).
    private var interactiveCallInfo: [String: String] {
        var info = ["CallID": arrival.callUUID.value, "CallFlow": "IN", "CallStatus": "ANSWER"]
        info["CallerIDNum"] = arrival.caller.username
        info["CallerIDName"] = arrival.caller.screenName
        info["CalledNumber"] = arrival.dialled
        return info
    }

    /// The offer is remembered so that the rating given in answer names it (`NewRating.offeredAt`).
    private mutating func offerRating(extensionID: Int64, agent: String?, at now: UnixTime) -> Action {
        ratingOfferedAt = now
        return .recordRatingOffer(RatingOffer(
            clientID: arrival.clientID, callUUID: arrival.callUUID, offeredAt: now, extensionID: extensionID, agentUsername: agent))
    }

    private func rating(rate: Int, maxRate: Int, extensionID: Int64, agent: String?, at now: UnixTime) -> NewRating {
        NewRating(
            clientID: arrival.clientID, callUUID: arrival.callUUID, ratedAt: now, extensionID: extensionID, rate: Int64(rate),
            maxRate: Int64(maxRate), agentUsername: agent, offeredAt: ratingOfferedAt)
    }
}

/// What a callback shows as calling (REFERENCE-API §4): `src_ani` to outside sources, `dst_ani`
/// to an outside destination (client DIDs, as the API checked), and to the client's phones the
/// name and number of `caller_id_name`/`caller_id_number` (by default the initiating extension).
public struct CallbackPresentation: Sendable, Equatable {
    public var sourceCallerID: String?
    public var destinationCallerID: String?
    public var callerName: String?
    public var callerNumber: String?

    public init(sourceCallerID: String? = nil, destinationCallerID: String? = nil, callerName: String? = nil, callerNumber: String? = nil) {
        self.sourceCallerID = sourceCallerID
        self.destinationCallerID = destinationCallerID
        self.callerName = callerName
        self.callerNumber = callerNumber
    }
}
