/// Collects one rating key from a caller (SPEC §2.1 "Key handling"), as a value that takes
/// events and returns what to do.
///
/// - The prompt plays; a key may interrupt it. After it ends the caller has `keyTimeout` to press.
/// - A key outside `1…maxRate` (including `*`, `#`, `0`) plays the invalid-key prompt and then
///   the rating prompt again; so does silence until the timeout. Each prompt is one try; after
///   `maxTries` tries without a valid key the collection ends without a rating.
/// - The first valid key wins; keys after it are ignored.
/// - The rating is stored, and only once storage confirms it is durable does the finish sound
///   start: a caller who hangs up during the finish sound has still rated.
public struct RatingCollector: Sendable {
    public struct Settings: Sendable, Equatable {
        public var prompt: SoundReference
        /// nil = nothing is played after the rating.
        public var finish: SoundReference?
        public var maxRate: Int
        public var keyTimeout: Duration
        public var maxTries: Int

        public init(
            prompt: SoundReference, finish: SoundReference?, maxRate: Int, keyTimeout: Duration = .seconds(5), maxTries: Int = 3
        ) {
            self.prompt = prompt
            self.finish = finish
            self.maxRate = maxRate
            self.keyTimeout = keyTimeout
            self.maxTries = maxTries
        }
    }

    public enum Event: Sendable, Equatable {
        case start
        case key(Character)
        case playbackFinished
        case keyTimerFired
        /// Storage confirmed the rating is durable.
        case ratingStored
        /// Storage failed: the caller is not told they rated.
        case ratingFailed
        case callerHungUp
    }

    public enum Action: Sendable, Equatable {
        case play(SoundReference)
        case stopPlayback
        case startKeyTimer(Duration)
        case cancelKeyTimer
        /// The caller is asked to rate for the first time: the call counts as offered a rating
        /// (issue 10: the response rate is rated offers over offers).
        case offerRating
        case storeRating(rate: Int, maxRate: Int)
        /// The collection is over; the enclosing flow decides what follows.
        case finished(Outcome)
    }

    public enum Outcome: Sendable, Equatable {
        case rated(Int)
        /// `maxTries` prompts without a valid key.
        case noValidKey
        case callerHungUp(ratedBefore: Int?)
        case storageFailed
    }

    private enum State: Sendable, Equatable {
        case idle
        /// Playing the invalid-key prompt, to be followed by the rating prompt of try `nextTry`.
        case sayingInvalid(nextTry: Int)
        case prompting(try: Int)
        case waitingForKey(try: Int)
        case storing(rate: Int)
        case finishing(rate: Int)
        case done
    }

    public let settings: Settings
    private var state: State = .idle

    public init(settings: Settings) { self.settings = settings }

    public var isDone: Bool { state == .done }

    public mutating func handle(_ event: Event) -> [Action] {
        switch (state, event) {
        case (.idle, .start):
            state = .prompting(try: 1)
            return [.play(settings.prompt), .offerRating]

        case (.done, _), (.idle, _):
            return []

        case (_, .callerHungUp):
            return hangUp()

        case (.prompting(let attempt), .key(let key)), (.sayingInvalid(let attempt), .key(let key)):
            return keyPressed(key, attempt: attempt, interruptsPlayback: true)
        case (.waitingForKey(let attempt), .key(let key)):
            return [.cancelKeyTimer] + keyPressed(key, attempt: attempt, interruptsPlayback: false)

        case (.prompting(let attempt), .playbackFinished):
            state = .waitingForKey(try: attempt)
            return [.startKeyTimer(settings.keyTimeout)]
        case (.sayingInvalid(let nextTry), .playbackFinished):
            state = .prompting(try: nextTry)
            return [.play(settings.prompt)]
        case (.waitingForKey(let attempt), .keyTimerFired):
            return retry(after: attempt, sayInvalid: false)

        case (.storing(let rate), .ratingStored):
            guard let finish = settings.finish else { return complete(.rated(rate)) }
            state = .finishing(rate: rate)
            return [.play(finish)]
        case (.storing, .ratingFailed):
            return complete(.storageFailed)
        case (.finishing(let rate), .playbackFinished):
            return complete(.rated(rate))

        default:
            // Keys after the first valid one, and events that belong to an earlier phase
            // (a timer that fired as a key arrived), change nothing.
            return []
        }
    }

    private mutating func keyPressed(_ key: Character, attempt: Int, interruptsPlayback: Bool) -> [Action] {
        let stop: [Action] = interruptsPlayback ? [.stopPlayback] : []
        if let rate = key.wholeNumberValue, (1...settings.maxRate).contains(rate) {
            state = .storing(rate: rate)
            return stop + [.storeRating(rate: rate, maxRate: settings.maxRate)]
        }
        return stop + retry(after: attempt, sayInvalid: true)
    }

    private mutating func retry(after attempt: Int, sayInvalid: Bool) -> [Action] {
        guard attempt < settings.maxTries else { return complete(.noValidKey) }
        if sayInvalid {
            state = .sayingInvalid(nextTry: attempt + 1)
            return [.play(.builtIn(.invalidKey))]
        }
        state = .prompting(try: attempt + 1)
        return [.play(settings.prompt)]
    }

    private mutating func hangUp() -> [Action] {
        let previous = state
        state = .done
        switch previous {
        case .finishing(let rate): return [.finished(.callerHungUp(ratedBefore: rate))]
        // A key was pressed and is being stored: the rating stands once storage confirms it,
        // which the enclosing flow still waits for.
        case .storing(let rate): return [.finished(.callerHungUp(ratedBefore: rate))]
        case .waitingForKey: return [.cancelKeyTimer, .finished(.callerHungUp(ratedBefore: nil))]
        default: return [.finished(.callerHungUp(ratedBefore: nil))]
        }
    }

    private mutating func complete(_ outcome: Outcome) -> [Action] {
        state = .done
        return [.finished(outcome)]
    }
}
