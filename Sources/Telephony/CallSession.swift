import CallFlow
import CallRunner
import Domain
import Logging
import Media
import Metrics
import RTP
import SIP
import SIPTransport
import Synchronization

/// What every call's session needs from the server around it.
struct SessionContext: Sendable {
    let endpoint: SIPEndpoint
    let media: MediaServer
    let registrations: PhoneRegistrations
    let trunks: OutboundTrunks
    let sounds: SoundLibrary
    let dialogs: DialogTable
    let calls: CallCenter
    let settings: TelephonySettings
    /// Where the call holds its place among the server's concurrent calls, until its loop ends.
    let gate: CallGate
    /// Runs a piece of the call's work as a task of the server's group.
    let spawn: @Sendable (@escaping CallTasks.Job) -> Void
    let logger: Logger
}

/// The caller ID numbers outside the client see (issue 11): a callback's `src_ani` for its
/// sources, `dst_ani` for the others, else each trunk's `caller_id`; and the name with it.
struct OutsidePresentation: Sendable {
    var sources: Set<String> = []
    var sourceCallerID: String?
    var destinationCallerID: String?
    var callerName: String?

    func callerID(for party: String) -> String? {
        sources.contains(party) ? sourceCallerID : destinationCallerID
    }
}

/// The I/O around one call's `CallLegs`: everything that happens to the call — SIP requests and
/// responses of its legs, keys and prompt ends from its media, what its `CallRunner` asks
/// (`TelephonyPort`) — goes into one ordered stream, and one loop hands each to the legs' value
/// and performs the actions it returns (SIP through the endpoint, RTP through the media legs,
/// events to the runner) before taking the next. Nothing else changes the legs, so no answer,
/// hang-up or key can be lost between a read and a write.
actor CallSession: TelephonyPort {
    typealias LegID = CallLegs.LegID

    private enum Input: Sendable {
        case legs(CallLegs.Event)
        /// The runner's `ring`: the agents' devices are looked up in the registrar first.
        case ring([String])
    }

    private let context: SessionContext
    let callUUID: CallUUID
    private let clientID: Int64
    private var legs: CallLegs
    private var media: [LegID: MediaLeg] = [:]
    private var runner: CallRunner?
    private let inputs: AsyncStream<Input>.Continuation
    private let runnerEvents: AsyncStream<Call.Event>.Continuation
    /// Keys read from RTP and not yet handled: a stream of RFC 4733 events is a flood a phone
    /// (or an attacker) can send, so past `maximumWaitingKeys` they are dropped and counted.
    private let waitingKeys = WaitingKeys()
    private var finishWaiters: [CheckedContinuation<Void, Never>] = []
    private var isOver = false
    private var logger: Logger

    static let maximumWaitingKeys = 64
    private static let keysDropped = Counter(label: "qualityrate_call_keys_dropped_total")

    private final class WaitingKeys: Sendable {
        let count = Atomic<Int>(0)
    }

    private let outsidePresentation: OutsidePresentation

    init(
        context: SessionContext, callUUID: CallUUID, clientID: Int64, domain: String, presentedCaller: NameAddress,
        outsidePresentation: OutsidePresentation = OutsidePresentation()
    ) {
        self.context = context
        self.outsidePresentation = outsidePresentation
        self.callUUID = callUUID
        self.clientID = clientID
        legs = CallLegs(settings: .init(
            telephony: context.settings, domain: domain, presentedCaller: presentedCaller, sessionID: UInt64.random(in: 1...(1 << 62))))
        var logger = context.logger
        logger[metadataKey: "call_uuid"] = "\(callUUID)"
        self.logger = logger
        let (inputStream, inputs) = AsyncStream.makeStream(of: Input.self)
        self.inputs = inputs
        let (events, runnerEvents) = AsyncStream.makeStream(of: Call.Event.self)
        self.runnerEvents = runnerEvents
        context.spawn { await self.run(inputStream) }
        context.spawn { await self.feedRunner(events) }
    }

    func attach(_ runner: CallRunner) {
        self.runner = runner
        watch(runner)
    }

    /// When the call is over, hangs up whatever the flow left up and lets the call go.
    private func watch(_ runner: CallRunner) {
        context.spawn {
            await runner.waitUntilOver()
            await self.finish()
        }
    }

    // MARK: From the SIP side (TelephonyServer)

    /// Takes the INVITE of an arriving caller, before the call runs: opens its media leg and
    /// prepares the answer (`CallLegs.offer`). Returns the response to send instead when the
    /// offer cannot be answered (488) or no media port is free (503).
    func offer(_ invite: SIPMessage, from peer: SIPPeer, localTag: String) async -> SIPMessage? {
        let id = legs.newLegID()
        let mediaLeg: MediaLeg
        do {
            mediaLeg = try await context.media.openLeg(onKey: keyHandler(for: id))
        } catch {
            logger.warning("no media port for a call", metadata: ["error": "\(error)"])
            return invite.response(status: 503, reason: "Service Unavailable (no media port)", toTag: localTag)
        }
        media[id] = mediaLeg
        let (actions, refusal) = legs.offer(invite, from: peer, localTag: localTag, leg: id, localPort: mediaLeg.localPort)
        await perform(actions)
        return refusal
    }

    func cancelled() { inputs.yield(.legs(.cancelled)) }

    /// A request inside one of the call's dialogs: answered by the legs, in order.
    func received(_ request: SIPMessage, on leg: LegID) { inputs.yield(.legs(.request(request, leg: leg))) }

    func notAcknowledged(leg: LegID) { inputs.yield(.legs(.notAcknowledged(leg: leg))) }

    /// The call is over: legs still up are hung up. Returns once that is done.
    func finish() async {
        guard !isOver else { return }
        inputs.yield(.legs(.finish))
        await withCheckedContinuation { finishWaiters.append($0) }
    }

    // MARK: TelephonyPort

    func answerCaller() { inputs.yield(.legs(.answerCaller)) }
    func play(_ sound: SoundReference) { inputs.yield(.legs(.play(sound))) }
    func announce(_ sound: SoundReference, alsoTo party: String) { inputs.yield(.legs(.announce(sound, alsoTo: party))) }
    func stopPlayback() { inputs.yield(.legs(.stopPlayback)) }
    func ring(_ agents: [String]) { inputs.yield(.ring(agents)) }
    func cancelRinging(_ agents: [String]) { inputs.yield(.legs(.cancelRinging(agents))) }
    func bridge(agent: String) { inputs.yield(.legs(.bridge(agent: agent))) }
    func promoteToCaller(_ name: String) { inputs.yield(.legs(.promoteToCaller(name))) }
    func hangUpAgent(_ agent: String) { inputs.yield(.legs(.hangUpAgent(agent))) }
    func hangUpCaller() { inputs.yield(.legs(.hangUpCaller)) }
    func refuseUnknownNumber() { inputs.yield(.legs(.refuseUnknownNumber)) }
    func sendKeys(_ keys: String, to party: String) { inputs.yield(.legs(.sendKeys(keys, to: party))) }

    // MARK: The loop

    /// The call's one loop: until the call is over and every leg has ended.
    private func run(_ inputStream: AsyncStream<Input>) async {
        for await input in inputStream {
            switch input {
            case .legs(let event):
                if case .key = event { waitingKeys.count.subtract(1, ordering: .relaxed) }
                await perform(legs.handle(event))
            case .ring(let agents):
                for agent in agents {
                    if let number = OutsideParty.number(of: agent) {
                        let routes = await context.trunks.routes(
                            clientID: clientID, number: number, callerID: outsidePresentation.callerID(for: agent),
                            callerName: outsidePresentation.callerName)
                        await perform(legs.handle(.dialOut(party: agent, routes: routes)))
                        continue
                    }
                    let devices = await context.registrations.targets(clientID: clientID, name: agent)
                    await perform(legs.handle(.ring(agent: agent, devices: devices)))
                }
            }
            if legs.isDone { break }
        }
        inputs.finish()
        for mediaLeg in media.values { mediaLeg.close() }
        media.removeAll()
        context.gate.ended()
    }

    /// Who holds a place on a trunk: one leg of this call.
    private func trunkHolder(_ leg: LegID) -> String { "\(callUUID) \(leg)" }

    private func perform(_ actions: [CallLegs.Action]) async {
        for action in actions { await perform(action) }
    }

    private func perform(_ action: CallLegs.Action) async {
        switch action {
        case .respond(let response):
            await context.endpoint.respond(response)
        case .send(let request, let peer, let leg):
            let inputs = inputs
            await context.endpoint.send(request: request, to: peer) { inputs.yield(.legs(.response($0, leg: leg))) }
        case .acknowledge(let ack, let peer):
            await context.endpoint.sendWithoutTransaction(ack, to: peer)
        case .openMedia(let leg):
            var port: Int?
            do {
                let mediaLeg = try await context.media.openLeg(onKey: keyHandler(for: leg))
                media[leg] = mediaLeg
                port = mediaLeg.localPort
            } catch {
                logger.warning("no media port", metadata: ["leg": "\(leg)", "error": "\(error)"])
            }
            await perform(legs.handle(.mediaOpened(leg: leg, localPort: port)))
        case .configureMedia(let leg, let format):
            media[leg]?.configure(format)
        case .closeMedia(let leg):
            media.removeValue(forKey: leg)?.close()
        case .bridgeMedia(let a, let b):
            if let a = media[a], let b = media[b] { Media.bridge(a, b) }
        case .unbridgeMedia(let leg):
            if let mediaLeg = media[leg] { Media.unbridge(mediaLeg) }
        case .stopMedia(let leg):
            media[leg]?.stopPlayback()
        case .loadSound(let sound, let codec, let generation, let leg):
            let audio = await context.sounds.audio(of: sound, clientID: clientID, codec: codec)
            await perform(legs.handle(.soundLoaded(audio, generation: generation, leg: leg)))
        case .playSound(let audio, let leg, let generation):
            let inputs = inputs
            media[leg]?.play(audio) { inputs.yield(.legs(.playbackEnded(generation: generation))) }
        case .registerDialog(let key, let leg):
            await context.dialogs.add(key, .init(session: self, leg: leg))
        case .forgetDialog(let key):
            await context.dialogs.remove(key)
        case .registerOffer(let key, let leg):
            await context.dialogs.addOffer(key, .init(session: self, leg: leg))
        case .forgetOffer(let key):
            await context.dialogs.removeOffer(key)
        case .deliver(let event):
            runnerEvents.yield(event)
        case .log(let level, let message, let metadata):
            logger.log(level: level, "\(message)", metadata: metadata)
        case .claimTrunk(let trunk, let leg):
            let granted = await context.trunks.claim(trunk, holder: trunkHolder(leg))
            await perform(legs.handle(.trunkClaimed(leg: leg, trunkID: trunk.id, granted)))
        case .releaseTrunk(let trunkID, let leg):
            await context.trunks.release(trunkID, holder: trunkHolder(leg))
        case .sendKeys(let keys, let leg):
            guard let sequence = KeySequence(keys), let mediaLeg = media[leg] else {
                logger.warning("keys not sent: not a key sequence, or the leg has no media", metadata: ["leg": "\(leg)"])
                return
            }
            let logger = logger
            mediaLeg.sendKeys(sequence) { sent in
                // The far end negotiated no telephone-event, or the leg went on hold or away.
                if !sent { logger.notice("keys not (all) sent: the leg has no telephone-event, or ended", metadata: ["leg": "\(leg)"]) }
            }
        case .callOver:
            isOver = true
            runnerEvents.finish()
            await context.calls.finished(callUUID)
            for waiter in finishWaiters { waiter.resume() }
            finishWaiters.removeAll()
        }
    }

    /// Keys by RFC 4733 from a leg's media, into the call's stream (bounded: see `waitingKeys`).
    private func keyHandler(for leg: LegID) -> @Sendable (Character) -> Void {
        let inputs = inputs
        let waiting = waitingKeys
        return { key in
            guard waiting.count.add(1, ordering: .relaxed).newValue <= Self.maximumWaitingKeys else {
                waiting.count.subtract(1, ordering: .relaxed)
                Self.keysDropped.increment()
                return
            }
            inputs.yield(.legs(.key(key, leg: leg)))
        }
    }

    // MARK: Events to the runner

    /// Hands the events to the runner one at a time, in order, until the call is over.
    private func feedRunner(_ events: AsyncStream<Call.Event>) async {
        for await event in events {
            guard let runner = await currentRunner() else {
                logger.error("no runner for the call's events")
                await finish()
                return
            }
            await runner.deliver(event)
        }
    }

    /// The runner of a callback is registered by the call center after this session was made:
    /// it is found when the first event comes.
    private func currentRunner() async -> CallRunner? {
        if let runner { return runner }
        guard let found = await context.calls.runner(for: callUUID) else { return nil }
        attach(found)
        return found
    }
}
