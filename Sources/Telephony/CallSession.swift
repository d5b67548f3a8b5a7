import CallFlow
import CallRunner
import Domain
import Logging
import Media
import NIOCore
import SIP
import SIPTransport

/// What every call's session needs from the server around it.
struct SessionContext: Sendable {
    let endpoint: SIPEndpoint
    let media: MediaServer
    let registrations: PhoneRegistrations
    let sounds: SoundLibrary
    let dialogs: DialogTable
    let calls: CallCenter
    let settings: TelephonySettings
    /// Runs a piece of the call's work as a task of the server's group.
    let spawn: @Sendable (@escaping CallWork) -> Void
    let logger: Logger
}

/// The SIP and RTP legs of one call — the caller's, and the phones it rings — doing what the
/// call's `CallRunner` asks (`TelephonyPort`) and turning what the legs do (answers, hang-ups,
/// keys, the end of a prompt) into the runner's events, in the order they happened.
actor CallSession: TelephonyPort {
    typealias LegID = Int

    private enum LegState {
        /// An INVITE received, not answered yet.
        case offered(invite: SIPMessage)
        /// An INVITE sent, no final answer yet.
        case ringing(invite: SIPMessage)
        case answered(Dialog)
    }

    private struct Leg {
        var state: LegState
        var peer: SIPPeer
        var media: MediaLeg
        var codec: G711Codec
        /// The tag of this server in the leg's dialog.
        var localTag: String
        /// The SDP this server last sent on the leg, and its version (RFC 4566 `o=`).
        var localDescription: SessionDescription
        var descriptionVersion: UInt64 = 1
        /// This server gave up on a ringing leg (CANCEL sent); an answer that crosses it is hung up.
        var abandoned = false
        /// The INVITE (or re-INVITE) had no SDP, so the 200 carried this server's offer and the
        /// ACK brings the answer (RFC 3261 §13.2.1, §14.2).
        var awaitingAnswerInACK = false
        /// The agent (phone extension name) this leg rings or reached; nil for the caller's leg.
        var agent: String?
    }

    /// INVITEs one call may send to phones, all rounds together: a bound on what a flow that
    /// rings again and again (a queue whose agents all refuse, for hours) can send.
    static let maximumInvites = 500

    private let context: SessionContext
    let callUUID: CallUUID
    private let clientID: Int64
    private let domain: String
    /// Who the phones rung for this call see as calling.
    private let presentedCaller: NameAddress
    private var runner: CallRunner?
    private var legs: [LegID: Leg] = [:]
    private var nextLegID = 0
    private var callerLeg: LegID?
    /// The leg each agent answered on (of the devices rung, the first to answer).
    private var agentLegs: [String: LegID] = [:]
    private var invitesSent = 0
    /// Bumped by every `play` and `stopPlayback`, so the end of a replaced prompt is not reported.
    private var playback = 0
    /// The sound of the current playback, to play it again in the other law when a late answer
    /// picks the law the prompt was not read in.
    private var playing: (generation: Int, sound: SoundReference)?
    /// The `o=` session id of the SDP this server sends on the call's legs.
    private let sessionID = UInt64.random(in: 1...(1 << 62))
    private var isFinished = false
    private let events: AsyncStream<Call.Event>.Continuation
    private var logger: Logger

    init(context: SessionContext, callUUID: CallUUID, clientID: Int64, domain: String, presentedCaller: NameAddress) {
        self.context = context
        self.callUUID = callUUID
        self.clientID = clientID
        self.domain = domain
        self.presentedCaller = presentedCaller
        var logger = context.logger
        logger[metadataKey: "call_uuid"] = "\(callUUID)"
        self.logger = logger
        let (stream, continuation) = AsyncStream.makeStream(of: Call.Event.self)
        events = continuation
        context.spawn { await self.feedRunner(stream) }
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

    // MARK: The caller's INVITE

    /// Takes the INVITE of an arriving caller: opens its media leg and prepares the SDP sent with
    /// the 200 when the flow answers — the answer to the INVITE's offer, or, for an INVITE without
    /// a body (a late offer), this server's offer, answered in the ACK. Returns the response to
    /// send instead when the offer cannot be answered (488) or no media port is free (503).
    func offer(_ invite: SIPMessage, from peer: SIPPeer, localTag: String) async -> SIPMessage? {
        let id = newLegID()
        let media: MediaLeg
        do {
            media = try await context.media.openLeg(onKey: { [weak self] key in Task { await self?.keyPressed(key, on: id) } })
        } catch {
            logger.warning("no media port for a call", metadata: ["error": "\(error)"])
            return invite.response(status: 503, reason: "Service Unavailable (no media port)", toTag: localTag)
        }
        var leg = Leg(
            state: .offered(invite: invite), peer: peer, media: media, codec: .pcmu, localTag: localTag,
            localDescription: OfferAnswer.offer(localAddress: context.settings.advertisedHost, localPort: media.localPort))
        if let refusal = apply(OfferAnswer.reply(toBody: invite.body, localAddress: context.settings.advertisedHost, localPort: media.localPort),
                               to: &leg) {
            media.close()
            return invite.response(status: 488, reason: refusal, toTag: localTag)
        }
        legs[id] = leg
        callerLeg = id
        if let key = DialogTable.offerKey(of: invite) { await context.dialogs.addOffer(key, .init(session: self, leg: id)) }
        return nil
    }

    /// The caller cancelled its INVITE before it was answered.
    func cancelled(leg id: LegID) async {
        guard let leg = legs[id], case .offered(let invite) = leg.state else { return }
        await context.endpoint.respond(invite.response(status: 487, reason: "Request Terminated", toTag: leg.localTag))
        await end(id)
        if callerLeg == id {
            callerLeg = nil
            deliver(.callerHungUp)
        }
    }

    // MARK: Requests inside a dialog

    /// Records the CSeq of a request received in the leg's dialog; false when it is older than
    /// one already received (answer 500, RFC 3261 §12.2.2).
    func inOrder(_ request: SIPMessage, on id: LegID) -> Bool {
        guard case .answered(var dialog) = legs[id]?.state else { return true }
        defer { legs[id]?.state = .answered(dialog) }
        return dialog.receive(request) == .accepted
    }

    /// BYE from the leg's phone: answered 200 by the caller of this method.
    func hungUp(leg id: LegID) async {
        guard legs[id] != nil else { return }
        await end(id)
        partyLeft(on: id)
    }

    /// This server's 2xx on the leg was never acknowledged (RFC 3261 §13.3.1.4): the dialog is
    /// ended with a BYE, and the call goes on as with that party gone.
    func notAcknowledged(leg id: LegID) async {
        guard legs[id] != nil else { return }
        await hangUp(id)
        partyLeft(on: id)
    }

    /// Tells the flow that the party of a leg that has ended is gone.
    private func partyLeft(on id: LegID) {
        if callerLeg == id {
            callerLeg = nil
            deliver(.callerHungUp)
        } else if let agent = agentLegs.first(where: { $0.value == id })?.key {
            agentLegs.removeValue(forKey: agent)
            deliver(.agentHungUp(agent))
        }
    }

    /// A key sent as SIP INFO on a leg; only the caller's keys reach the flow.
    func keyPressed(_ key: Character, on id: LegID) {
        guard id == callerLeg else { return }
        deliver(.key(key))
    }

    /// A re-INVITE (hold, unhold, a new address or codec): the answer to send.
    func reoffer(_ request: SIPMessage, on id: LegID) -> SIPMessage {
        guard var leg = legs[id], case .answered = leg.state else {
            return request.response(status: 481, reason: "Call/Transaction Does Not Exist")
        }
        var response = request.response(status: 200, reason: "OK")
        if let refusal = apply(
            OfferAnswer.reply(toBody: request.body, localAddress: context.settings.advertisedHost, localPort: leg.media.localPort), to: &leg)
        {
            return request.response(status: 488, reason: refusal)
        }
        leg.descriptionVersion += 1
        legs[id] = leg
        response.headers.add("Contact", context.settings.contact(for: leg.peer.transport))
        response.headers.add("Content-Type", "application/sdp")
        response.body = leg.localDescription.serialized(sessionID: sessionID, version: leg.descriptionVersion)
        return response
    }

    /// What the body of an INVITE or re-INVITE means for its leg: the media and SDP to answer
    /// with, or the reason of a 488.
    private func apply(_ reply: OfferAnswer.Reply, to leg: inout Leg) -> String? {
        switch reply {
        case .answer(let answer, let audio):
            leg.media.configure(Self.format(audio, signalledFrom: leg.peer))
            leg.codec = Self.codec(audio)
            leg.localDescription = answer
        case .offer(let offer):
            leg.localDescription = offer
            leg.awaitingAnswerInACK = true
        case .notAcceptable(let reason):
            return reason
        }
        return nil
    }

    /// The ACK of this server's 2xx. When the 2xx carried an offer, the ACK carries the answer;
    /// without a usable one the leg cannot have media and is hung up (RFC 3261 §13.3.1.4).
    func acknowledged(_ ack: SIPMessage, on id: LegID) async {
        guard var leg = legs[id], leg.awaitingAnswerInACK else { return }
        leg.awaitingAnswerInACK = false
        legs[id] = leg
        guard let audio = OfferAnswer.accept(body: ack.body) else {
            logger.warning("no usable SDP answer in the ACK of a late offer: hanging up", metadata: ["leg": "\(id)"])
            await hangUp(id)
            partyLeft(on: id)
            return
        }
        let lawChanged = Self.codec(audio) != leg.codec
        let replay = lawChanged && id == callerLeg ? playing.flatMap { $0.generation == playback ? $0.sound : nil } : nil
        // The prompt started with the 200, read in the law offered first: not a frame of it may
        // go out in the other law; it starts again in the law the answer chose (a few
        // milliseconds of it have gone by).
        if lawChanged { leg.media.stopPlayback() }
        leg.media.configure(Self.format(audio, signalledFrom: leg.peer))
        leg.codec = Self.codec(audio)
        legs[id] = leg
        if let replay { await play(replay) }
    }

    // MARK: TelephonyPort

    func answerCaller() async {
        guard let id = callerLeg, let leg = legs[id], case .offered(let invite) = leg.state else { return }
        guard let dialog = Dialog(answering: invite, localTag: leg.localTag) else {
            await context.endpoint.respond(invite.response(status: 400, reason: "Bad Request (no Contact)", toTag: leg.localTag))
            await hungUp(leg: id)
            return
        }
        legs[id]?.state = .answered(dialog)
        if let key = DialogTable.offerKey(of: invite) { await context.dialogs.removeOffer(key) }
        await context.dialogs.add(.init(callID: dialog.id.callID, localTag: leg.localTag), .init(session: self, leg: id))
        var ok = invite.response(status: 200, reason: "OK", toTag: leg.localTag)
        ok.headers.add("Contact", context.settings.contact(for: leg.peer.transport))
        ok.headers.add("Allow", SIPMessage.allowedMethods)
        ok.headers.add("Content-Type", "application/sdp")
        ok.body = leg.localDescription.serialized(sessionID: sessionID, version: leg.descriptionVersion)
        await context.endpoint.respond(ok)
    }

    func play(_ sound: SoundReference) async {
        playback += 1
        let current = playback
        playing = (current, sound)
        guard let id = callerLeg, let leg = legs[id] else { return }
        guard let audio = await context.sounds.audio(of: sound, clientID: clientID, codec: leg.codec) else {
            logger.warning("sound missing, skipped", metadata: ["sound": "\(sound)"])
            deliver(.playbackFinished)
            return
        }
        // The caller may have changed while the sound was read.
        guard playback == current, callerLeg == id else { return }
        leg.media.play(audio) { [weak self] in Task { await self?.playbackEnded(current) } }
    }

    func stopPlayback() async {
        playback += 1
        if let id = callerLeg { legs[id]?.media.stopPlayback() }
    }

    /// Rings every live device of each agent at once; the first to answer is the agent's leg.
    /// An agent with an INVITE of this call still in flight (a CANCEL not yet answered), or a
    /// call past `maximumInvites`, counts as unreachable: never two INVITEs to one device.
    func ring(_ agents: [String]) async {
        guard !isFinished else { return }
        for agent in agents {
            let targets = await context.registrations.targets(clientID: clientID, name: agent)
            let inFlight = legs.values.contains { leg in
                guard leg.agent == agent, case .ringing = leg.state else { return false }
                return true
            }
            guard !targets.isEmpty, !inFlight, agentLegs[agent] == nil, invitesSent + targets.count <= Self.maximumInvites else {
                if invitesSent + targets.count > Self.maximumInvites {
                    logger.warning("a call reached its limit of INVITEs; not ringing", metadata: ["agent": "\(agent)"])
                }
                deliver(.agentUnreachable(agent))
                continue
            }
            var rung = false
            for target in targets where await ring(agent, at: target) { rung = true }
            if !rung { deliver(.agentUnreachable(agent)) }
        }
    }

    func cancelRinging(_ agents: [String]) async {
        for agent in agents {
            for id in ringingLegs(of: agent) { await abandon(id) }
        }
    }

    /// The agent's legs still ringing that this server has not given up on.
    private func ringingLegs(of agent: String) -> [LegID] {
        legs.filter { _, leg in
            guard leg.agent == agent, !leg.abandoned, case .ringing = leg.state else { return false }
            return true
        }.keys.sorted()
    }

    func bridge(agent: String) async {
        guard let callerID = callerLeg, let caller = legs[callerID], let agentID = agentLegs[agent], let agentLeg = legs[agentID] else { return }
        playback += 1
        Media.bridge(caller.media, agentLeg.media)
    }

    func promoteToCaller(_ name: String) async {
        guard let id = agentLegs.removeValue(forKey: name) else { return }
        if let previous = callerLeg, let leg = legs[previous] { Media.unbridge(leg.media) }
        playback += 1
        callerLeg = id
    }

    func hangUpAgent(_ agent: String) async {
        for id in ringingLegs(of: agent) { await abandon(id) }
        guard let id = agentLegs.removeValue(forKey: agent) else { return }
        await hangUp(id)
    }

    func hangUpCaller() async {
        guard let id = callerLeg else { return }
        callerLeg = nil
        playback += 1
        await hangUp(id)
    }

    // MARK: Ringing a phone

    /// Sends an INVITE to one device of an agent; false when no media port was free for it.
    private func ring(_ agent: String, at target: PhoneRegistrations.Target) async -> Bool {
        let id = newLegID()
        let media: MediaLeg
        do {
            media = try await context.media.openLeg(onKey: { [weak self] key in Task { await self?.keyPressed(key, on: id) } })
        } catch {
            logger.warning("no media port to ring a phone", metadata: ["agent": "\(agent)", "error": "\(error)"])
            return false
        }
        let offer = OfferAnswer.offer(localAddress: context.settings.advertisedHost, localPort: media.localPort)
        let localTag = Identifiers.tag()
        var from = presentedCaller
        from.parameters = SIPParameters([("tag", localTag)])
        let invite = SIPMessage.invite(
            target: target.contact, routes: target.routes, from: from, to: NameAddress(uri: SIPURI(user: agent, host: domain)),
            callID: Identifiers.callID(host: context.settings.advertisedHost), via: context.endpoint.newVia(transport: target.peer.transport),
            contact: context.settings.contact(for: target.peer.transport), offer: offer.serialized(sessionID: sessionID, version: 1))
        legs[id] = Leg(
            state: .ringing(invite: invite), peer: target.peer, media: media, codec: .pcmu, localTag: localTag, localDescription: offer,
            agent: agent)
        invitesSent += 1
        let responses = await context.endpoint.send(request: invite, to: target.peer)
        context.spawn {
            for await response in responses { await self.phoneAnswered(response, leg: id, agent: agent) }
        }
        return true
    }

    private func phoneAnswered(_ response: SIPMessage, leg id: LegID, agent: String) async {
        guard let status = response.status, status >= 200, var leg = legs[id] else { return }
        switch (leg.state, status) {
        case (.ringing(let invite), 200..<300):
            guard let dialog = Dialog(invite: invite, answer: response) else {
                logger.warning("an answer without a usable Contact or To tag", metadata: ["agent": "\(agent)"])
                await abandon(id)
                return
            }
            leg.state = .answered(dialog)
            if let audio = OfferAnswer.accept(body: response.body) {
                leg.media.configure(Self.format(audio, signalledFrom: leg.peer))
                leg.codec = Self.codec(audio)
            }
            // The first device to answer is the agent's; one answering after it, or after this
            // server gave up ringing, is acknowledged and hung up.
            let wins = !leg.abandoned && agentLegs[agent] == nil
            legs[id] = leg
            if wins { agentLegs[agent] = id }
            let key = DialogTable.Key(callID: dialog.id.callID, localTag: leg.localTag)
            await context.dialogs.add(key, .init(session: self, leg: id))
            await acknowledge(dialog, on: leg)
            guard legs[id] != nil else {
                // The call finished while the ACK went out: its legs are hung up already.
                await context.dialogs.remove(key)
                return
            }
            if wins {
                for other in ringingLegs(of: agent) { await abandon(other) }
                deliver(.agentAnswered(agent))
            } else {
                await hangUp(id)
            }
        case (.answered(let dialog), 200..<300):
            // A retransmitted 2xx: our ACK was lost.
            await acknowledge(dialog, on: leg)
        case (.ringing, _):
            await end(id)
            // Unreachable once no device of the agent is left ringing and none answered.
            if !leg.abandoned, agentLegs[agent] == nil, ringingLegs(of: agent).isEmpty {
                deliver(.agentUnreachable(agent))
            }
        default:
            break
        }
    }

    /// The ACK of a phone's 2xx, along the dialog's route set (RFC 3261 §13.2.2.4).
    private func acknowledge(_ dialog: Dialog, on leg: Leg) async {
        let ack = dialog.acknowledgement(via: context.endpoint.newVia(transport: leg.peer.transport))
        await context.endpoint.sendWithoutTransaction(ack, to: SIPPeer.destination(of: dialog, otherwise: leg.peer))
    }

    // MARK: Ending legs

    /// Ends a leg from this side: BYE when answered, CANCEL when ringing, 480 when offered.
    private func hangUp(_ id: LegID) async {
        guard let leg = legs[id] else { return }
        switch leg.state {
        case .answered(var dialog):
            let bye = dialog.request("BYE", via: context.endpoint.newVia(transport: leg.peer.transport))
            legs[id]?.state = .answered(dialog)
            let responses = await context.endpoint.send(request: bye, to: SIPPeer.destination(of: dialog, otherwise: leg.peer))
            context.spawn { for await _ in responses {} }
            await end(id)
        case .ringing:
            await abandon(id)
        case .offered(let invite):
            await context.endpoint.respond(invite.response(status: 480, reason: "Temporarily Unavailable", toTag: leg.localTag))
            await end(id)
        }
    }

    /// Gives up on a ringing leg: CANCEL it, keep it until its final answer (487, or a 2xx that
    /// crossed the CANCEL and is then hung up).
    private func abandon(_ id: LegID) async {
        guard let leg = legs[id], case .ringing(let invite) = leg.state, !leg.abandoned else { return }
        legs[id]?.abandoned = true
        Media.unbridge(leg.media)
        leg.media.stopPlayback()
        if let cancel = invite.cancelling() {
            let responses = await context.endpoint.send(request: cancel, to: leg.peer)
            context.spawn { for await _ in responses {} }
        }
    }

    private func end(_ id: LegID) async {
        guard let leg = legs[id] else { return }
        Media.unbridge(leg.media)
        leg.media.close()
        switch leg.state {
        case .answered(let dialog):
            await context.dialogs.remove(.init(callID: dialog.id.callID, localTag: leg.localTag))
        case .offered(let invite):
            if let key = DialogTable.offerKey(of: invite) { await context.dialogs.removeOffer(key) }
        case .ringing:
            break
        }
        legs.removeValue(forKey: id)
    }

    // MARK: Events to the runner

    private func deliver(_ event: Call.Event) {
        events.yield(event)
    }

    private func playbackEnded(_ generation: Int) {
        guard generation == playback else { return }
        deliver(.playbackFinished)
    }

    /// Hands the events to the runner one at a time, in order, until the call is finished.
    private func feedRunner(_ stream: AsyncStream<Call.Event>) async {
        for await event in stream {
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

    /// The call is over: nothing more reaches the runner; legs the flow left up are hung up.
    func finish() async {
        guard !isFinished else { return }
        isFinished = true
        events.finish()
        for id in legs.keys.sorted() { await hangUp(id) }
        callerLeg = nil
        agentLegs.removeAll()
        await context.calls.finished(callUUID)
    }


    private func newLegID() -> LegID {
        nextLegID += 1
        return nextLegID
    }

    private static func codec(_ audio: NegotiatedAudio) -> G711Codec { audio.codec == .pcmu ? .pcmu : .pcma }

    /// The leg's media format; RTP from the host its SIP came from may move where it is sent
    /// (symmetric RTP, for phones behind NAT: docs/SIP.md).
    private static func format(_ audio: NegotiatedAudio, signalledFrom peer: SIPPeer) -> MediaFormat {
        let remote: SocketAddress? =
            audio.peerReceives && audio.remotePort > 0 ? try? SocketAddress(ipAddress: audio.remoteAddress, port: audio.remotePort) : nil
        return MediaFormat(
            remote: remote, codec: codec(audio), payloadType: UInt8(truncatingIfNeeded: audio.payloadType),
            telephoneEventPayloadType: audio.telephoneEventPayloadType.map { UInt8(truncatingIfNeeded: $0) },
            symmetricHost: peer.address.ipAddress)
    }
}
