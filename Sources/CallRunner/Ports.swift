public import CallFlow
public import Domain

/// The signalling and media side of one call: what the SIP/RTP layer does for a call, or what
/// the simulation records. Outcomes (an agent answering, a sound ending, a key) come back to the
/// call's `CallRunner` as events.
///
/// Contract (see docs/CALL-FLOWS.md): `play` replaces what the caller hears; a replaced or
/// stopped sound reports nothing; a sound that plays to its end reports `playbackFinished` once.
public protocol TelephonyPort: Sendable {
    func answerCaller() async
    func play(_ sound: SoundReference) async
    /// Plays `sound` to the caller and to the party rung as `party` at once (a callback's
    /// `dst_announce_sound_id`); `playbackFinished` once, when it ended.
    func announce(_ sound: SoundReference, alsoTo party: String) async
    func stopPlayback() async
    func ring(_ agents: [String]) async
    func cancelRinging(_ agents: [String]) async
    func bridge(agent: String) async
    /// The leg rung as `name` is the caller from now on (see `Call.Action.promoteToCaller`).
    func promoteToCaller(_ name: String) async
    func hangUpAgent(_ agent: String) async
    func hangUpCaller() async
    /// The caller, not answered, dialled a number that reaches nothing: refused (SIP 404).
    func refuseUnknownNumber() async
    /// Sends `keys` (a callback's `dst_dtmf`: digits, `W` and `w` pauses) by RFC 4733 to the
    /// party rung as `party`.
    func sendKeys(_ keys: String, to party: String) async
}

/// What numbers reach, from the client's configuration.
public protocol CallDirectory: Sendable {
    /// What `number` dialled inside `clientID` reaches (SPEC §2: an extension name, else a DID).
    func destination(clientID: Int64, number: String) async throws -> Call.Destination
    /// The queue's strategy and its agents' extension names in their configured order.
    func queueAgents(clientID: Int64, queueID: Int64) async throws -> (strategy: QueueStrategy, agents: [String])
}

/// Whether an agent's phone can be rung at all (registered, for SIP).
public protocol AgentReachability: Sendable {
    func isReachable(clientID: Int64, agent: String) async -> Bool
}

/// `call_interactive` (SPEC §4.2): one HTTP request, its reply read as commands; nil when the
/// request failed, timed out or the reply could not be read.
public protocol InteractiveClient: Sendable {
    func request(url: String, method: IVRAction.HTTPMethod, parameters: [String: String]) async -> [VoiceMenuCall.InteractiveCommand]?
}

/// Where a call's work that outlives the event at hand runs: its timers, its `call_interactive`
/// requests, the start of a callback.
public protocol TimerScheduler: Sendable {
    /// Runs `fire` after a delay unless cancelled first.
    func schedule(after delay: Duration, _ fire: @escaping @Sendable () async -> Void) -> any ScheduledTimer
    /// Runs `job` now, in the background.
    func spawn(_ job: @escaping @Sendable () async -> Void)
}

public protocol ScheduledTimer: Sendable {
    func cancel()
}
