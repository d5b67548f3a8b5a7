public import Domain
import Foundation

/// One call inside a voice menu (SPEC §2.2, §4.2): the contexts/options/rules interpreter.
///
/// Rules of an option run in `position` order; a rule whose caller-ID filter does not match is
/// skipped. DID filters: when rules with a DID filter match the call's DID, they are what runs;
/// when none matched, the rules without a DID filter run (an internal call has no DID, so it is
/// served by those). After an option's last rule the menu waits for keys: `timeout` ms for the
/// first, `inter_digit_timeout` ms between the next ones, at most `digit_len`; the keys name the
/// next option, else `invalid`; no key runs `timeout`. An option without rules hangs up.
public struct VoiceMenuCall: Sendable {
    public struct Caller: Sendable, Equatable {
        /// nil or empty: the caller withheld the number.
        public var callerID: String?
        /// The DID the call came in on; nil for an internal call.
        public var did: String?
        /// The queue agent bridged before the call reached this menu, whom a rating is of.
        public var attributedAgent: String?

        public init(callerID: String?, did: String?, attributedAgent: String?) {
            self.callerID = callerID
            self.did = did
            self.attributedAgent = attributedAgent
        }
    }

    public enum Timer: Sendable, Hashable {
        case sleep, lifetime, firstKey, nextKey, ratingKey
    }

    /// What a `call_interactive` reply asks for, in order.
    public enum InteractiveCommand: Sendable, Equatable {
        case setVariable(name: String, value: String)
        /// `context` is a context's id or name in this menu.
        case jump(context: String, option: String)
        case hangup
        case transfer(destination: String)
    }

    public enum Event: Sendable, Equatable {
        case entered
        case key(Character)
        /// The current sound played to its end (a sound replaced or stopped sends nothing).
        case playbackFinished
        case timerFired(Timer)
        /// The `call_interactive` answer; nil when the request failed or timed out.
        case interactiveReply([InteractiveCommand]?)
        case ratingStored
        case ratingFailed
        case callerHungUp
    }

    public enum Action: Sendable, Equatable {
        case play(SoundReference)
        case stopPlayback
        case startTimer(Timer, Duration)
        case cancelTimer(Timer)
        case interactiveRequest(url: String, method: IVRAction.HTTPMethod, variables: [String: String])
        case offerRating(agent: String?)
        case storeRating(rate: Int, maxRate: Int, agent: String?)
        case hangUp
        case transfer(destination: String, attributedAgent: String?)
        case finished(Outcome)
    }

    public enum Outcome: Sendable, Equatable {
        case hungUp
        case callerHungUp
        case transferred(String)
    }

    private enum Waiting: Sendable {
        case nothing
        case sleep
        case foregroundPlayback
        case interactive
        case digits(variable: String?, collected: String, limit: Int?)
        case rating(RatingCollector)
        case done
    }

    public let configuration: IVRConfiguration
    public let caller: Caller
    public private(set) var variables: [String: String] = [:]
    private var contextID: Int64 = 0
    private var program: [IVRAction] = []
    private var next = 0
    private var waiting: Waiting = .nothing
    private var backgroundPlaying = false
    /// Keys pressed while rules ran (over a background sound), kept for the menu's input.
    private var typedAhead = ""

    /// Rules run back to back without waiting are bounded, so a menu that jumps in a circle
    /// hangs up instead of spinning.
    static let maxRulesWithoutWaiting = 200

    public init(configuration: IVRConfiguration, caller: Caller) {
        self.configuration = configuration
        self.caller = caller
    }

    public var isDone: Bool { if case .done = waiting { true } else { false } }

    public mutating func handle(_ event: Event) -> [Action] {
        if case .done = waiting { return [] }
        if event == .callerHungUp { return callerHungUp() }
        if case .timerFired(.lifetime) = event { return lifetimeExpired() }

        switch (waiting, event) {
        case (.nothing, .entered):
            var actions: [Action] = []
            if configuration.options.lifetime > 0 {
                actions.append(.startTimer(.lifetime, .seconds(configuration.options.lifetime)))
            }
            if configuration.options.sleepTime > 0 {
                waiting = .sleep
                return actions + [.startTimer(.sleep, .milliseconds(configuration.options.sleepTime))]
            }
            return actions + enter(contextID: configuration.options.entryContext, option: "start")

        case (.sleep, .timerFired(.sleep)):
            waiting = .nothing
            return enter(contextID: configuration.options.entryContext, option: "start")

        case (.foregroundPlayback, .playbackFinished):
            waiting = .nothing
            return runRules()

        case (.rating(var collector), _):
            guard let ratingEvent = Self.ratingEvent(event) else { return [] }
            let actions = collector.handle(ratingEvent)
            waiting = .rating(collector)
            return translate(actions)

        case (.interactive, .interactiveReply(let commands)):
            waiting = .nothing
            return apply(commands ?? [])

        case (.digits(let variable, let collected, let limit), .key(let key)):
            var actions: [Action] = collected.isEmpty ? [.cancelTimer(.firstKey)] : [.cancelTimer(.nextKey)]
            if collected.isEmpty, backgroundPlaying {
                backgroundPlaying = false
                actions.append(.stopPlayback)
            }
            let input = collected + String(key)
            if let limit, input.count >= limit { return actions + digitsComplete(variable: variable, input: input) }
            waiting = .digits(variable: variable, collected: input, limit: limit)
            return actions + [.startTimer(.nextKey, interDigitTimeout)]

        case (.digits(let variable, let collected, _), .timerFired(.nextKey)),
             (.digits(let variable, let collected, _), .timerFired(.firstKey)):
            return digitsComplete(variable: variable, input: collected)

        case (_, .key(let key)):
            // A key over a background sound or while an HTTP answer is awaited is kept for the
            // menu's input; over a foreground sound it is ignored, as the sound must finish first.
            if case .foregroundPlayback = waiting { return [] }
            if case .sleep = waiting { return [] }
            typedAhead.append(key)
            return []

        case (_, .playbackFinished):
            backgroundPlaying = false
            return []

        default:
            return []
        }
    }

    // MARK: Running rules

    private var context: IVRConfiguration.Context? {
        configuration.contexts.first { $0.context.id == contextID }
    }

    private var interDigitTimeout: Duration { .milliseconds(context?.context.settings.interDigitTimeout ?? 2000) }

    private mutating func enter(contextID: Int64, option: String) -> [Action] {
        guard configuration.contexts.contains(where: { $0.context.id == contextID }) else { return hangUp() }
        self.contextID = contextID
        program = rules(for: option)
        next = 0
        guard !program.isEmpty else { return hangUp() }
        return runRules()
    }

    /// The rules of `option` in the current context that apply to this caller.
    private func rules(for option: String) -> [IVRAction] {
        let all = (context?.rulesByOption[option] ?? []).sorted { $0.position < $1.position }
            .map(\.definition)
            .filter { callerIDMatches($0.callerIDFilter) }
        let byDID = all.filter { rule in rule.didFilter.map(didMatches) ?? false }
        return (byDID.isEmpty ? all.filter { $0.didFilter == nil } : byDID).map(\.action)
    }

    private mutating func runRules() -> [Action] {
        var actions: [Action] = []
        var executed = 0
        while next < program.count {
            executed += 1
            if executed > Self.maxRulesWithoutWaiting { return actions + hangUp() }
            let action = program[next]
            next += 1
            switch action {
            case .playSound(let sound, .foreground):
                backgroundPlaying = false
                waiting = .foregroundPlayback
                return actions + [.play(.uploaded(id: sound))]
            case .playSound(let sound, .background):
                backgroundPlaying = true
                actions.append(.play(.uploaded(id: sound)))
            case .hangup:
                return actions + hangUp()
            case .transfer(let destination):
                return actions + transfer(to: destination)
            case .jumpToContext(let target, let option):
                guard configuration.contexts.contains(where: { $0.context.id == target }) else { return actions + hangUp() }
                contextID = target
                program = rules(for: option)
                next = 0
                if program.isEmpty { return actions + hangUp() }
            case .setVariable(let name, let value):
                variables[name] = value
            case .recordDigits(let variable, let maxDigits, let sound):
                if sound != 0 {
                    backgroundPlaying = true
                    actions.append(.play(.uploaded(id: sound)))
                }
                return actions + awaitDigits(variable: variable, limit: Int(maxDigits))
            case .callInteractive(let url, let method):
                waiting = .interactive
                return actions + [.interactiveRequest(url: url, method: method, variables: variables)]
            case .qualityRate(let sound, let maxRate, let finishSound):
                backgroundPlaying = false
                var collector = RatingCollector(settings: .init(
                    prompt: .configured(sound, default: .ratingPrompt),
                    finish: finishSound.map { .configured($0, default: .ratingFinish) }, maxRate: Int(maxRate)))
                let started = collector.handle(.start)
                waiting = .rating(collector)
                return actions + translate(started)
            }
        }
        // The option's rules are done: the menu waits for the caller's choice.
        let limit = context?.context.settings.digitLength.map(Int.init)
        return actions + awaitDigits(variable: nil, limit: limit)
    }

    private mutating func awaitDigits(variable: String?, limit: Int?) -> [Action] {
        let typed = typedAhead
        typedAhead = ""
        if let limit, typed.count >= limit {
            return digitsComplete(variable: variable, input: String(typed.prefix(limit)))
        }
        waiting = .digits(variable: variable, collected: typed, limit: limit)
        if !typed.isEmpty { return [.startTimer(.nextKey, interDigitTimeout)] }
        return [.startTimer(.firstKey, .milliseconds(context?.context.settings.timeout ?? 5000))]
    }

    private mutating func digitsComplete(variable: String?, input: String) -> [Action] {
        waiting = .nothing
        if let variable {
            variables[variable] = input
            return runRules()
        }
        if input.isEmpty { return enter(contextID: contextID, option: "timeout") }
        let known = context?.rulesByOption[input].map { !$0.isEmpty } ?? false
        return enter(contextID: contextID, option: known ? input : "invalid")
    }

    private mutating func apply(_ commands: [InteractiveCommand]) -> [Action] {
        for command in commands {
            switch command {
            case .setVariable(let name, let value):
                variables[name] = value
            case .hangup:
                return hangUp()
            case .transfer(let destination):
                return transfer(to: destination)
            case .jump(let target, let option):
                let match = configuration.contexts.first {
                    String($0.context.id) == target || $0.context.settings.name == target
                }
                guard let match else { return hangUp() }
                return enter(contextID: match.context.id, option: option)
            }
        }
        return runRules()
    }

    // MARK: Rating

    private static func ratingEvent(_ event: Event) -> RatingCollector.Event? {
        switch event {
        case .key(let key): .key(key)
        case .playbackFinished: .playbackFinished
        case .timerFired(.ratingKey): .keyTimerFired
        case .ratingStored: .ratingStored
        case .ratingFailed: .ratingFailed
        default: nil
        }
    }

    private mutating func translate(_ actions: [RatingCollector.Action]) -> [Action] {
        var result: [Action] = []
        for action in actions {
            switch action {
            case .play(let sound): result.append(.play(sound))
            case .stopPlayback: result.append(.stopPlayback)
            case .startKeyTimer(let timeout): result.append(.startTimer(.ratingKey, timeout))
            case .cancelKeyTimer: result.append(.cancelTimer(.ratingKey))
            case .offerRating: result.append(.offerRating(agent: caller.attributedAgent))
            case .storeRating(let rate, let maxRate):
                result.append(.storeRating(rate: rate, maxRate: maxRate, agent: caller.attributedAgent))
            case .finished:
                // Rated or not, the menu goes on with the option's next rule (SPEC §2.2).
                waiting = .nothing
                result += runRules()
            }
        }
        return result
    }

    // MARK: Endings

    private mutating func hangUp() -> [Action] {
        waiting = .done
        return [.hangUp, .finished(.hungUp)]
    }

    private mutating func transfer(to destination: String) -> [Action] {
        waiting = .done
        return [.transfer(destination: destination, attributedAgent: caller.attributedAgent), .finished(.transferred(destination))]
    }

    private mutating func callerHungUp() -> [Action] {
        if case .rating(var collector) = waiting {
            // A rating already being stored still completes; the collector says so.
            _ = collector.handle(.callerHungUp)
        }
        waiting = .done
        return [.finished(.callerHungUp)]
    }

    private mutating func lifetimeExpired() -> [Action] {
        let options = configuration.options
        if options.lifetimeExpiryAction == .transfer, let destination = options.lifetimeExpiryTransferDestination {
            return [.stopPlayback] + transfer(to: destination)
        }
        return [.stopPlayback] + hangUp()
    }

    // MARK: Filters

    private func callerIDMatches(_ filter: CallerIDFilter) -> Bool {
        let callerID = caller.callerID ?? ""
        switch filter {
        case .any: return true
        case .anonymous: return callerID.isEmpty || callerID.lowercased() == "anonymous"
        case .matches(let pattern): return Self.search(pattern, in: callerID)
        case .notMatches(let pattern): return !Self.search(pattern, in: callerID)
        }
    }

    /// A DID filter is a number (equal) or a regular expression the whole DID matches.
    private func didMatches(_ filter: String) -> Bool {
        guard let did = caller.did else { return false }
        return filter == did || Self.search("^(?:\(filter))$", in: did)
    }

    private static func search(_ pattern: String, in text: String) -> Bool {
        guard let expression = try? NSRegularExpression(pattern: pattern) else { return false }
        return expression.firstMatch(in: text, range: NSRange(text.startIndex..., in: text)) != nil
    }
}
