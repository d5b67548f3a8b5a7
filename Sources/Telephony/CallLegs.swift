import CallFlow
import Domain
import Logging
import Media
import NIOCore
import SIP
import SIPTransport

/// The SIP legs of one call as a value — the caller's, and the phones it rings: offer/answer,
/// dialog state, route sets, who hung up, what to send. It takes one event at a time (a SIP
/// request or response of a leg, a key, the end of a prompt, what the call's runner asks) and
/// returns the actions to perform; it does no I/O and never waits, so each event's effect on
/// the legs is committed whole before the next (the way swift-nio-ssh splits
/// `SSHConnectionStateMachine` from `NIOSSHHandler`). `CallSession` performs the actions.
struct CallLegs {
    typealias LegID = Int

    struct Settings: Sendable {
        var telephony: TelephonySettings
        /// The client's domain: the realm of its phones, the host of the agents' To URIs.
        var domain: String
        /// Who the phones rung for this call see as calling.
        var presentedCaller: NameAddress
        /// The `o=` session id of the SDP this server sends on the call's legs.
        var sessionID: UInt64
        /// INVITEs one call may send to phones, all rounds together: a bound on what a flow that
        /// rings again and again (a queue whose agents all refuse, for hours) can send.
        var maximumInvites = 500
    }

    /// One way to a number outside the client: a trunk that carries it (issue 11).
    struct TrunkRoute: Sendable, Equatable {
        var trunk: Trunk
        var peer: SIPPeer
        /// The number as this trunk sends it (`Trunk.rewritten`).
        var number: String
        /// The client DID shown as caller ID (`From`, `P-Asserted-Identity`); nil = the account's.
        var callerID: String?
        var callerName: String?
    }

    enum Event: Sendable {
        // The far ends.
        /// The caller cancelled its INVITE before it was answered.
        case cancelled
        /// A request inside a leg's dialog: BYE, INFO, re-INVITE or ACK.
        case request(SIPMessage, leg: LegID)
        /// A response to a request this server sent on the leg.
        case response(SIPMessage, leg: LegID)
        /// This server's 2xx on the leg was never acknowledged (RFC 3261 §13.3.1.4).
        case notAcknowledged(leg: LegID)
        /// A key by RFC 4733 on the leg's media.
        case key(Character, leg: LegID)
        case playbackEnded(generation: Int)
        /// The audio `loadSound` asked for the leg (nil: the sound is missing).
        case soundLoaded([UInt8]?, generation: Int, leg: LegID)
        /// A media port for a leg that `openMedia` asked for (nil: none free).
        case mediaOpened(leg: LegID, localPort: Int?)
        // The call's runner (`TelephonyPort`).
        case answerCaller
        case play(SoundReference)
        /// Play to the caller and to the leg of `party` at once (a callback's `dst_announce_sound_id`).
        case announce(SoundReference, alsoTo: String)
        case stopPlayback
        /// Ring `agent` on its live devices (looked up in the registrar by the session).
        case ring(agent: String, devices: [PhoneRegistrations.Target])
        /// Call the outside `party` through the first of `routes`, then the next on failure.
        case dialOut(party: String, routes: [TrunkRoute])
        /// Whether the trunk `claimTrunk` asked for had room for one more call.
        case trunkClaimed(leg: LegID, trunkID: Int64, Bool)
        case cancelRinging([String])
        case bridge(agent: String)
        case promoteToCaller(String)
        case hangUpAgent(String)
        case hangUpCaller
        case refuseUnknownNumber
        case sendKeys(String, to: String)
        /// The call is over: whatever is still up is hung up.
        case finish
    }

    enum Action: Sendable, Equatable {
        /// A response through the server transaction of its request.
        case respond(SIPMessage)
        /// A request through a client transaction; its responses come back as `.response`.
        case send(SIPMessage, to: SIPPeer, leg: LegID)
        /// The ACK of a 2xx, which has no transaction.
        case acknowledge(SIPMessage, to: SIPPeer)
        case openMedia(leg: LegID)
        case configureMedia(leg: LegID, MediaFormat)
        case closeMedia(leg: LegID)
        case bridgeMedia(LegID, LegID)
        case unbridgeMedia(LegID)
        case stopMedia(leg: LegID)
        case loadSound(SoundReference, codec: G711Codec, generation: Int, leg: LegID)
        case playSound([UInt8], leg: LegID, generation: Int)
        /// Keys by RFC 4733 into the leg's RTP (a callback's `dst_dtmf`).
        case sendKeys(String, leg: LegID)
        case registerDialog(DialogTable.Key, leg: LegID)
        case forgetDialog(DialogTable.Key)
        /// The caller's INVITE, unanswered: where its CANCEL finds the call.
        case registerOffer(DialogTable.OfferKey, leg: LegID)
        case forgetOffer(DialogTable.OfferKey)
        /// An event for the call's runner, in order.
        case deliver(Call.Event)
        case log(Logger.Level, String, Logger.Metadata)
        /// Take one of the trunk's `max_calls` for the leg (answered by `trunkClaimed`).
        case claimTrunk(Trunk, leg: LegID)
        /// Give back the place `claimTrunk` took.
        case releaseTrunk(Int64, leg: LegID)
        /// The call is over for the call center (sent once, by `finish`).
        case callOver
    }

    private enum LegState: Sendable {
        /// An INVITE received, not answered yet.
        case offered(invite: SIPMessage)
        /// A device to ring, or an outside number to call, waiting for its media port (and, for a
        /// trunk, a place among its `max_calls`).
        case preparing(Target)
        /// An INVITE sent, no final answer yet.
        case ringing(invite: SIPMessage)
        case answered(Dialog)
    }

    private enum Target: Sendable {
        case device(PhoneRegistrations.Target)
        /// The routes not tried yet, the current one first.
        case outside([TrunkRoute])
    }

    /// What a leg to an outside number keeps while it is tried.
    private struct OutsideAttempt: Sendable {
        /// The route of the INVITE in flight, and those left to fail over to.
        var route: TrunkRoute
        var remaining: [TrunkRoute]
        /// Answers the provider's 401/407 (RFC 3261 §22.2).
        var digest: DigestClient
        /// The trunk's place among its `max_calls` is held.
        var claimed = false
    }

    private struct Leg: Sendable {
        var state: LegState
        var peer: SIPPeer
        var codec: G711Codec = .pcmu
        /// The tag of this server in the leg's dialog.
        var localTag: String
        var localPort: Int
        /// The SDP this server last sent on the leg, and its version (RFC 4566 `o=`).
        var localDescription: SessionDescription?
        var descriptionVersion: UInt64 = 1
        /// This server gave up on a ringing leg (CANCEL sent); an answer that crosses it is hung up.
        var abandoned = false
        /// The INVITE (or re-INVITE) had no SDP, so the 200 carried this server's offer and the
        /// ACK brings the answer (RFC 3261 §13.2.1, §14.2).
        var awaitingAnswerInACK = false
        /// The agent (phone extension name) this leg rings or reached; nil for the caller's leg.
        var agent: String?
        /// This server's SRTP master key and salt for the leg, sent in its SDP when the leg is
        /// `RTP/SAVP` (RFC 4568); fresh for every leg.
        var srtpKeySalt = Identifiers.srtpKeySalt()
        /// Set for a leg to an outside number.
        var outside: OutsideAttempt?
    }

    let settings: Settings
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
    /// The playback whose end was reported.
    private var finishedPlayback = 0
    private(set) var isFinished = false

    init(settings: Settings) { self.settings = settings }

    /// Finished, and every leg has ended (a cancelled phone may still answer after `finish`).
    var isDone: Bool { isFinished && legs.isEmpty }

    mutating func newLegID() -> LegID {
        nextLegID += 1
        return nextLegID
    }

    // MARK: The caller's INVITE

    /// Takes the INVITE of an arriving caller, its media on `localPort`: prepares the SDP sent
    /// with the 200 when the flow answers — the answer to the INVITE's offer, or, for an INVITE
    /// without a body (a late offer), this server's offer, answered in the ACK. Returns the
    /// refusal (488) instead when the offer cannot be answered.
    mutating func offer(_ invite: SIPMessage, from peer: SIPPeer, localTag: String, leg id: LegID, localPort: Int) -> ([Action], refusal: SIPMessage?) {
        var leg = Leg(state: .offered(invite: invite), peer: peer, localTag: localTag, localPort: localPort)
        let reply = OfferAnswer.reply(
            toBody: invite.body, localAddress: settings.telephony.advertisedHost, localPort: localPort, srtpKeySalt: leg.srtpKeySalt,
            offersSRTP: Self.offersSRTP(over: peer))
        var actions: [Action] = []
        if let refusal = apply(reply, to: &leg, id: id, actions: &actions) {
            return ([.closeMedia(leg: id)], invite.response(status: 488, reason: refusal, toTag: localTag))
        }
        legs[id] = leg
        callerLeg = id
        if let key = DialogTable.offerKey(of: invite) { actions.append(.registerOffer(key, leg: id)) }
        return (actions, nil)
    }

    // MARK: Events

    mutating func handle(_ event: Event) -> [Action] {
        switch event {
        case .cancelled: return cancelled()
        case .request(let request, let id): return received(request, on: id)
        case .response(let response, let id): return answered(response, on: id)
        case .notAcknowledged(let id):
            guard legs[id] != nil else { return [] }
            return [.log(.warning, "a 2xx was never acknowledged; hanging up", ["leg": "\(id)"])] + hangUp(id) + partyLeft(on: id)
        case .key(let key, let id):
            return id == callerLeg ? deliver(.key(key)) : []
        case .playbackEnded(let generation):
            // Played to two legs (`announce`), the sound ends twice: the first end counts.
            guard generation == playback, finishedPlayback != generation else { return [] }
            finishedPlayback = generation
            return deliver(.playbackFinished)
        case .soundLoaded(let audio, let generation, let leg):
            return soundLoaded(audio, generation: generation, leg: leg)
        case .mediaOpened(let id, let port):
            return mediaOpened(id, port: port)
        case .answerCaller: return answerCaller()
        case .play(let sound): return play(sound)
        case .announce(let sound, let party): return play(sound, alsoTo: agentLegs[party])
        case .stopPlayback:
            playback += 1
            return callerLeg.map { [.stopMedia(leg: $0)] } ?? []
        case .ring(let agent, let devices): return ring(agent, devices: devices)
        case .dialOut(let party, let routes): return dialOut(party, routes: routes)
        case .trunkClaimed(let id, let trunkID, let granted): return trunkClaimed(id, trunkID: trunkID, granted: granted)
        case .cancelRinging(let agents): return agents.flatMap { ringingLegs(of: $0).flatMap { abandon($0) } }
        case .bridge(let agent):
            guard let caller = callerLeg, legs[caller] != nil, let agentLeg = agentLegs[agent], legs[agentLeg] != nil else { return [] }
            playback += 1
            return [.bridgeMedia(caller, agentLeg)]
        case .promoteToCaller(let name):
            guard let id = agentLegs.removeValue(forKey: name) else { return [] }
            let previous = callerLeg.flatMap { legs[$0] != nil ? $0 : nil }
            playback += 1
            callerLeg = id
            return previous.map { [.unbridgeMedia($0)] } ?? []
        case .hangUpAgent(let agent):
            var actions = ringingLegs(of: agent).flatMap { abandon($0) }
            if let id = agentLegs.removeValue(forKey: agent) { actions += hangUp(id) }
            return actions
        case .hangUpCaller:
            guard let id = callerLeg else { return [] }
            callerLeg = nil
            playback += 1
            return hangUp(id)
        case .refuseUnknownNumber:
            guard let id = callerLeg, let leg = legs[id], case .offered(let invite) = leg.state else { return handle(.hangUpCaller) }
            callerLeg = nil
            return [.respond(invite.response(status: 404, reason: "Not Found", toTag: leg.localTag))] + end(id)
        case .finish: return finish()
        case .sendKeys(let keys, let party):
            guard let id = agentLegs[party], legs[id] != nil else { return [] }
            return [.sendKeys(keys, leg: id)]
        }
    }

    private mutating func cancelled() -> [Action] {
        guard let id = callerLeg, let leg = legs[id], case .offered(let invite) = leg.state else { return [] }
        callerLeg = nil
        return [.respond(invite.response(status: 487, reason: "Request Terminated", toTag: leg.localTag))] + end(id) + deliver(.callerHungUp)
    }

    // MARK: Requests inside a dialog

    private mutating func received(_ request: SIPMessage, on id: LegID) -> [Action] {
        guard var leg = legs[id], case .answered(var dialog) = leg.state else {
            return request.method == "ACK" ? [] : [.respond(request.response(status: 481, reason: "Call/Transaction Does Not Exist"))]
        }
        // RFC 3261 §12.2.2: a CSeq lower than one already received is answered 500.
        guard dialog.receive(request) == .accepted else {
            return request.method == "ACK" ? [] : [.respond(request.response(status: 500, reason: "Server Internal Error (CSeq out of order)"))]
        }
        leg.state = .answered(dialog)
        legs[id] = leg
        switch request.method {
        case "BYE":
            return [.respond(request.response(status: 200, reason: "OK"))] + end(id) + partyLeft(on: id)
        case "INFO":
            if let key = DTMFInfo.key(in: request) {
                return [.respond(request.response(status: 200, reason: "OK"))] + (id == callerLeg ? deliver(.key(key)) : [])
            }
            // An empty INFO is a keep-alive (RFC 6086 §4.2.2).
            if request.body.isEmpty { return [.respond(request.response(status: 200, reason: "OK"))] }
            var refused = request.response(status: 415, reason: "Unsupported Media Type")
            refused.headers.add("Accept", "application/dtmf-relay, application/dtmf")
            return [.respond(refused)]
        case "INVITE":
            return reoffer(request, on: id)
        case "ACK":
            return acknowledged(request, on: id)
        default:
            return []
        }
    }

    /// A re-INVITE (hold, unhold, a new address or codec): answered with this leg's SDP.
    private mutating func reoffer(_ request: SIPMessage, on id: LegID) -> [Action] {
        guard var leg = legs[id] else { return [] }
        var actions: [Action] = []
        let reply = OfferAnswer.reply(
            toBody: request.body, localAddress: settings.telephony.advertisedHost, localPort: leg.localPort, srtpKeySalt: leg.srtpKeySalt,
            offersSRTP: Self.offersSRTP(over: leg.peer))
        if let refusal = apply(reply, to: &leg, id: id, actions: &actions) {
            return [.respond(request.response(status: 488, reason: refusal))]
        }
        leg.descriptionVersion += 1
        legs[id] = leg
        var ok = request.response(status: 200, reason: "OK")
        ok.headers.add("Contact", settings.telephony.contact(for: leg.peer.transport))
        ok.headers.add("Content-Type", "application/sdp")
        ok.body = leg.localDescription?.serialized(sessionID: settings.sessionID, version: leg.descriptionVersion) ?? []
        return actions + [.respond(ok)]
    }

    /// The ACK of this server's 2xx. When the 2xx carried an offer, the ACK carries the answer;
    /// without a usable one the leg cannot have media and is hung up (RFC 3261 §13.3.1.4).
    private mutating func acknowledged(_ ack: SIPMessage, on id: LegID) -> [Action] {
        guard var leg = legs[id], leg.awaitingAnswerInACK else { return [] }
        leg.awaitingAnswerInACK = false
        legs[id] = leg
        guard let audio = OfferAnswer.accept(body: ack.body, offer: leg.localDescription) else {
            return [.log(.warning, "no usable SDP answer in the ACK of a late offer: hanging up", ["leg": "\(id)"])] + hangUp(id) + partyLeft(on: id)
        }
        var actions: [Action] = []
        let lawChanged = Self.codec(audio) != leg.codec
        // The prompt started with the 200, read in the law offered first: not a frame of it may
        // go out in the other law; it starts again in the law the answer chose (a few
        // milliseconds of it have gone by).
        if lawChanged { actions.append(.stopMedia(leg: id)) }
        leg.codec = Self.codec(audio)
        legs[id] = leg
        actions.append(.configureMedia(leg: id, Self.format(audio, signalledFrom: leg.peer)))
        if lawChanged, id == callerLeg, let current = playing, current.generation == playback { actions += play(current.sound) }
        return actions
    }

    /// What the body of an INVITE or re-INVITE means for its leg: the media and SDP to answer
    /// with, or the reason of a 488.
    private func apply(_ reply: OfferAnswer.Reply, to leg: inout Leg, id: LegID, actions: inout [Action]) -> String? {
        switch reply {
        case .answer(let answer, let audio):
            actions.append(.configureMedia(leg: id, Self.format(audio, signalledFrom: leg.peer)))
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

    // MARK: The caller

    private mutating func answerCaller() -> [Action] {
        guard let id = callerLeg, var leg = legs[id], case .offered(let invite) = leg.state else { return [] }
        guard let dialog = Dialog(answering: invite, localTag: leg.localTag) else {
            return [.respond(invite.response(status: 400, reason: "Bad Request (no Contact)", toTag: leg.localTag))] + end(id) + partyLeft(on: id)
        }
        leg.state = .answered(dialog)
        legs[id] = leg
        // The 200 copies the INVITE's Record-Route (`SIPMessage.response`, RFC 3261 §12.1.1).
        var ok = invite.response(status: 200, reason: "OK", toTag: leg.localTag)
        ok.headers.add("Contact", settings.telephony.contact(for: leg.peer.transport))
        ok.headers.add("Allow", SIPMessage.allowedMethods)
        ok.headers.add("Content-Type", "application/sdp")
        ok.body = leg.localDescription?.serialized(sessionID: settings.sessionID, version: leg.descriptionVersion) ?? []
        var actions: [Action] = []
        if let key = DialogTable.offerKey(of: invite) { actions.append(.forgetOffer(key)) }
        return actions + [.registerDialog(.init(callID: dialog.id.callID, localTag: leg.localTag), leg: id), .respond(ok)]
    }

    /// Plays to the caller, and to `other` too when given: each leg gets the sound in its own law.
    private mutating func play(_ sound: SoundReference, alsoTo other: LegID? = nil) -> [Action] {
        playback += 1
        playing = (playback, sound)
        guard let id = callerLeg, let leg = legs[id] else { return [] }
        var actions: [Action] = [.loadSound(sound, codec: leg.codec, generation: playback, leg: id)]
        if let other, other != id, let otherLeg = legs[other] {
            actions.append(.loadSound(sound, codec: otherLeg.codec, generation: playback, leg: other))
        }
        return actions
    }

    private mutating func soundLoaded(_ audio: [UInt8]?, generation: Int, leg id: LegID) -> [Action] {
        // Replaced or stopped while it was read, or the leg ended.
        guard generation == playback, legs[id] != nil else { return [] }
        guard let audio else {
            guard id == callerLeg else { return [] }
            return [.log(.warning, "sound missing, skipped", ["sound": "\(playing.map { "\($0.sound)" } ?? "?")"])] + deliver(.playbackFinished)
        }
        return [.playSound(audio, leg: id, generation: generation)]
    }

    // MARK: Ringing phones

    /// Rings every live device of the agent at once; the first to answer is the agent's leg.
    /// An agent with an INVITE of this call still in flight (a CANCEL not yet answered), or a
    /// call past `maximumInvites`, counts as unreachable: never two INVITEs to one device.
    private mutating func ring(_ agent: String, devices: [PhoneRegistrations.Target]) -> [Action] {
        guard !isFinished else { return [] }
        let inFlight = legs.values.contains { leg in
            guard leg.agent == agent else { return false }
            switch leg.state {
            case .preparing, .ringing: return true
            case .offered, .answered: return false
            }
        }
        if invitesSent + devices.count > settings.maximumInvites {
            return [.log(.warning, "a call reached its limit of INVITEs; not ringing", ["agent": "\(agent)"])] + deliver(.agentUnreachable(agent))
        }
        guard !devices.isEmpty, !inFlight, agentLegs[agent] == nil else { return deliver(.agentUnreachable(agent)) }
        var actions: [Action] = []
        for device in devices {
            let id = newLegID()
            legs[id] = Leg(state: .preparing(.device(device)), peer: device.peer, localTag: Identifiers.tag(), localPort: 0, agent: agent)
            invitesSent += 1
            actions.append(.openMedia(leg: id))
        }
        return actions
    }

    /// The media port of a device to ring: the INVITE goes out (with the binding's Path as its
    /// Route, RFC 3327 §5.3). Without a port the device is not rung.
    private mutating func mediaOpened(_ id: LegID, port: Int?) -> [Action] {
        guard var leg = legs[id], case .preparing(let target) = leg.state, let agent = leg.agent else {
            // Hung up while the port was being opened.
            return port == nil ? [] : [.closeMedia(leg: id)]
        }
        guard let port else {
            legs[id] = nil
            return [.log(.warning, "no media port to ring a phone", ["agent": "\(agent)"])] + unreachableIfLast(agent)
        }
        leg.localPort = port
        legs[id] = leg
        let device: PhoneRegistrations.Target
        switch target {
        case .device(let found): device = found
        case .outside(let routes):
            guard let first = routes.first else { return end(id) + unreachableIfLast(agent) }
            return [.claimTrunk(first.trunk, leg: id)]
        }
        let offer = OfferAnswer.offer(
            localAddress: settings.telephony.advertisedHost, localPort: port, srtpKeySalt: Self.offersSRTP(over: device.peer) ? leg.srtpKeySalt : nil)
        var from = settings.presentedCaller
        from.parameters = SIPParameters([("tag", leg.localTag)])
        let invite = SIPMessage.invite(
            target: device.contact, routes: device.routes, from: from, to: NameAddress(uri: SIPURI(user: agent, host: settings.domain)),
            callID: Identifiers.callID(host: settings.telephony.advertisedHost), via: settings.telephony.via(transport: device.peer.transport),
            contact: settings.telephony.contact(for: device.peer.transport),
            offer: offer.serialized(sessionID: settings.sessionID, version: 1))
        leg.state = .ringing(invite: invite)
        leg.localPort = port
        leg.localDescription = offer
        legs[id] = leg
        return [.send(invite, to: device.peer, leg: id)]
    }

    // MARK: Outside numbers (issue 11)

    /// Calls an outside number through the trunks that carry it, in order: a media port first,
    /// then a place on the trunk (`max_calls`), then the INVITE. Never two legs to one party.
    private mutating func dialOut(_ party: String, routes: [TrunkRoute]) -> [Action] {
        guard !isFinished else { return [] }
        let inFlight = legs.values.contains { leg in
            guard leg.agent == party else { return false }
            if case .preparing = leg.state { return true }
            if case .ringing = leg.state { return true }
            return false
        }
        guard !routes.isEmpty, !inFlight, agentLegs[party] == nil, invitesSent < settings.maximumInvites else {
            if routes.isEmpty { return [.log(.notice, "no trunk carries the number", ["party": "\(party)"])] + deliver(.agentUnreachable(party)) }
            return deliver(.agentUnreachable(party))
        }
        let id = newLegID()
        legs[id] = Leg(state: .preparing(.outside(routes)), peer: routes[0].peer, localTag: Identifiers.tag(), localPort: 0, agent: party)
        return [.openMedia(leg: id)]
    }

    /// The trunk of the leg's current route had room (send the INVITE) or not (the next route).
    private mutating func trunkClaimed(_ id: LegID, trunkID: Int64, granted: Bool) -> [Action] {
        guard var leg = legs[id], case .preparing(.outside(let routes)) = leg.state, let party = leg.agent, let route = routes.first,
            route.trunk.id == trunkID
        else {
            // Hung up meanwhile: the place goes back.
            return granted ? [.releaseTrunk(trunkID, leg: id)] : []
        }
        let remaining = Array(routes.dropFirst())
        guard granted else {
            legs[id] = leg
            let log: Action = .log(.notice, "trunk at its max_calls; trying the next", ["trunk_id": "\(route.trunk.id)", "party": "\(party)"])
            guard !remaining.isEmpty else { return [log] + end(id) + unreachableIfLast(party) }
            leg.state = .preparing(.outside(remaining))
            legs[id] = leg
            return [log, .claimTrunk(remaining[0].trunk, leg: id)]
        }
        leg.outside = OutsideAttempt(
            route: route, remaining: remaining, digest: DigestClient(username: route.trunk.username, password: route.trunk.password),
            claimed: true)
        leg.peer = route.peer
        let invite = outsideInvite(for: route, leg: leg)
        leg.state = .ringing(invite: invite)
        leg.localDescription = OfferAnswer.offer(localAddress: settings.telephony.advertisedHost, localPort: leg.localPort, srtpKeySalt: nil)
        legs[id] = leg
        invitesSent += 1
        return [.send(invite, to: route.peer, leg: id)]
    }

    /// The INVITE to an outside number through a trunk: to `sip:number@host`, the caller ID in
    /// `From` and `P-Asserted-Identity` (RFC 3325: the provider, a trusted network, decides
    /// what the called party sees), plain RTP (SDES keys only travel over TLS, RFC 4568 §8.3).
    private func outsideInvite(for route: TrunkRoute, leg: Leg) -> SIPMessage {
        let trunk = route.trunk
        let transport = route.peer.transport == .udp ? "" : ";transport=\(route.peer.transport.rawValue.lowercased())"
        let callerUser = route.callerID ?? (trunk.username.isEmpty ? "anonymous" : trunk.username)
        let caller = SIPURI(user: callerUser, host: trunk.callerDomain)
        let from = NameAddress(
            displayName: route.callerName.map(NameAddress.displayable), uri: caller,
            parameters: SIPParameters([("tag", leg.localTag)]))
        let offer = OfferAnswer.offer(localAddress: settings.telephony.advertisedHost, localPort: leg.localPort, srtpKeySalt: nil)
        var invite = SIPMessage.invite(
            target: "sip:\(route.number)@\(trunk.uriHostPort)\(transport)", from: from,
            to: NameAddress(uri: SIPURI(user: route.number, host: trunk.uriHost)),
            callID: Identifiers.callID(host: settings.telephony.advertisedHost), via: settings.telephony.via(transport: route.peer.transport),
            contact: settings.telephony.contact(for: route.peer.transport),
            offer: offer.serialized(sessionID: settings.sessionID, version: 1))
        if route.callerID != nil { invite.headers.add("P-Asserted-Identity", "<\(caller)>") }
        return invite
    }

    /// A final response to the INVITE of a leg to an outside number, other than a 2xx: a
    /// challenge is answered; 5xx, 408 (no answer: timer B) and a challenge it cannot answer
    /// (the trunk's account is wrong) fail over to the next trunk; anything else (486 busy,
    /// 404, 603…) is the number's answer, and no other trunk is asked.
    private mutating func outsideRefused(_ response: SIPMessage, status: Int, on id: LegID) -> [Action]? {
        guard var leg = legs[id], var attempt = leg.outside, case .ringing(let invite) = leg.state, let party = leg.agent, !leg.abandoned
        else { return nil }
        if status == 401 || status == 407, case .request(_, let uri) = invite.startLine {
            switch attempt.digest.answer(response, method: "INVITE", uri: uri, clientNonce: Identifiers.tag()) {
            case .answer(let header, let value):
                var again = invite
                let cseq = invite.headers["CSeq"].flatMap(CSeq.init)?.number ?? 1
                again.headers.set("CSeq", "\(cseq + 1) INVITE")
                again.headers.set("Via", settings.telephony.via(transport: leg.peer.transport))
                again.headers.remove(header)
                again.headers.add(header, value)
                leg.outside = attempt
                leg.state = .ringing(invite: again)
                legs[id] = leg
                return [.send(again, to: leg.peer, leg: id)]
            case .refused, .unanswerable:
                break
            }
        }
        let failsOver = (500..<600).contains(status) || status == 408 || status == 401 || status == 407
        var actions: [Action] = [
            .releaseTrunk(attempt.route.trunk.id, leg: id), deliverAttempt(party: party, route: attempt.route, status: status),
        ]
        attempt.claimed = false
        guard failsOver, let next = attempt.remaining.first else {
            leg.outside = attempt
            legs[id] = leg
            return actions + end(id) + unreachableIfLast(party)
        }
        actions.append(.log(.notice, "trunk failed; trying the next", [
            "trunk_id": "\(attempt.route.trunk.id)", "status": "\(status)", "next_trunk_id": "\(next.trunk.id)",
        ]))
        leg.outside = nil
        leg.state = .preparing(.outside(attempt.remaining))
        legs[id] = leg
        return actions + [.claimTrunk(next.trunk, leg: id)]
    }

    private func deliverAttempt(party: String, route: TrunkRoute, status: Int?) -> Action {
        .deliver(.trunkAttempt(TrunkAttempt(
            party: party, number: route.number, trunkID: route.trunk.id, trunkName: route.trunk.name, sipStatus: status)))
    }

    /// A response to a request this server sent on the leg. Only an INVITE's final responses
    /// change anything: those of BYE and CANCEL are the end of legs already ended.
    private mutating func answered(_ response: SIPMessage, on id: LegID) -> [Action] {
        guard let status = response.status, status >= 200, let cseq = response.headers["CSeq"].flatMap(CSeq.init), cseq.method == "INVITE",
            var leg = legs[id], let agent = leg.agent
        else { return [] }
        // Only the INVITE in flight counts: a response to one answered by a newer (a challenge
        // answered, a trunk failed over) was already taken.
        if case .ringing(let invite) = leg.state,
            invite.headers["Call-ID"] != response.headers["Call-ID"] || invite.headers["CSeq"].flatMap(CSeq.init)?.number != cseq.number
        {
            return []
        }
        if leg.outside != nil, case .ringing = leg.state, status >= 300, let actions = outsideRefused(response, status: status, on: id) {
            return actions
        }
        switch (leg.state, status) {
        case (.ringing(let invite), 200..<300):
            guard let dialog = Dialog(invite: invite, answer: response) else {
                return [.log(.warning, "an answer without a usable Contact or To tag", ["agent": "\(agent)"])] + abandon(id)
            }
            leg.state = .answered(dialog)
            var actions: [Action] = [
                .registerDialog(.init(callID: dialog.id.callID, localTag: leg.localTag), leg: id), acknowledgement(of: dialog, on: leg),
            ]
            if let audio = OfferAnswer.accept(body: response.body, offer: leg.localDescription) {
                actions.append(.configureMedia(leg: id, Self.format(audio, signalledFrom: leg.peer)))
                leg.codec = Self.codec(audio)
            } else {
                // No G.711 in it, or plain RTP (or no key of ours) to an RTP/SAVP offer: the leg
                // sends and reads nothing (RFC 3264 §6: an answer keeps the offer's transport).
                actions.append(.log(.warning, "a phone's answer has no usable SDP: its leg has no media", [
                    "agent": "\(agent)", "srtp_offered": "\(leg.localDescription?.isSecure ?? false)",
                ]))
            }
            if let attempt = leg.outside, !leg.abandoned { actions.append(deliverAttempt(party: agent, route: attempt.route, status: nil)) }
            legs[id] = leg
            // The first device to answer is the agent's; one answering after it, or after this
            // server gave up ringing, is acknowledged and hung up.
            guard !leg.abandoned, agentLegs[agent] == nil, !isFinished else { return actions + hangUp(id) }
            agentLegs[agent] = id
            return actions + ringingLegs(of: agent).flatMap { abandon($0) } + deliver(.agentAnswered(agent))
        case (.answered(let dialog), 200..<300):
            // A retransmitted 2xx: our ACK was lost.
            return [acknowledgement(of: dialog, on: leg)]
        case (.ringing, _):
            // Busy, declined, unreachable, or the 487 of a CANCEL.
            return end(id) + (leg.abandoned ? [] : unreachableIfLast(agent))
        default:
            return []
        }
    }

    /// Unreachable once no device of the agent is left ringing (or about to) and none answered.
    private func unreachableIfLast(_ agent: String) -> [Action] {
        let stillRinging = legs.values.contains { leg in
            guard leg.agent == agent, !leg.abandoned else { return false }
            switch leg.state {
            case .preparing, .ringing: return true
            case .offered, .answered: return false
            }
        }
        return stillRinging || agentLegs[agent] != nil ? [] : deliver(.agentUnreachable(agent))
    }

    /// The agent's legs still ringing (or about to) that this server has not given up on.
    private func ringingLegs(of agent: String) -> [LegID] {
        legs.filter { _, leg in
            guard leg.agent == agent, !leg.abandoned else { return false }
            switch leg.state {
            case .preparing, .ringing: return true
            case .offered, .answered: return false
            }
        }.keys.sorted()
    }

    /// The ACK of a phone's 2xx, along the dialog's route set (RFC 3261 §13.2.2.4).
    private func acknowledgement(of dialog: Dialog, on leg: Leg) -> Action {
        .acknowledge(
            dialog.acknowledgement(via: settings.telephony.via(transport: leg.peer.transport)),
            to: SIPPeer.destination(of: dialog, otherwise: leg.peer))
    }

    // MARK: Ending legs

    /// Tells the flow that the party of a leg that has ended is gone.
    private mutating func partyLeft(on id: LegID) -> [Action] {
        if callerLeg == id {
            callerLeg = nil
            return deliver(.callerHungUp)
        }
        if let agent = agentLegs.first(where: { $0.value == id })?.key {
            agentLegs.removeValue(forKey: agent)
            return deliver(.agentHungUp(agent))
        }
        return []
    }

    /// Ends a leg from this side: BYE when answered (along its route set), CANCEL when ringing,
    /// 480 when offered.
    private mutating func hangUp(_ id: LegID) -> [Action] {
        guard var leg = legs[id] else { return [] }
        switch leg.state {
        case .answered(var dialog):
            let bye = dialog.request("BYE", via: settings.telephony.via(transport: leg.peer.transport))
            leg.state = .answered(dialog)
            legs[id] = leg
            return [.send(bye, to: SIPPeer.destination(of: dialog, otherwise: leg.peer), leg: id)] + end(id)
        case .ringing:
            return abandon(id)
        case .preparing:
            return end(id)
        case .offered(let invite):
            return [.respond(invite.response(status: 480, reason: "Temporarily Unavailable", toTag: leg.localTag))] + end(id)
        }
    }

    /// Gives up on a ringing leg: CANCEL it, keep it until its final answer (487, or a 2xx that
    /// crossed the CANCEL and is then hung up).
    private mutating func abandon(_ id: LegID) -> [Action] {
        guard var leg = legs[id], !leg.abandoned else { return [] }
        switch leg.state {
        case .preparing: return end(id)
        case .ringing(let invite):
            leg.abandoned = true
            legs[id] = leg
            var actions: [Action] = [.unbridgeMedia(id), .stopMedia(leg: id)]
            if let cancel = invite.cancelling() { actions.append(.send(cancel, to: leg.peer, leg: id)) }
            return actions
        case .offered, .answered:
            return []
        }
    }

    private mutating func end(_ id: LegID) -> [Action] {
        guard let leg = legs.removeValue(forKey: id) else { return [] }
        var actions: [Action] = [.unbridgeMedia(id), .closeMedia(leg: id)]
        if let attempt = leg.outside, attempt.claimed { actions.append(.releaseTrunk(attempt.route.trunk.id, leg: id)) }
        switch leg.state {
        case .answered(let dialog):
            actions.append(.forgetDialog(.init(callID: dialog.id.callID, localTag: leg.localTag)))
        case .offered(let invite):
            if let key = DialogTable.offerKey(of: invite) { actions.append(.forgetOffer(key)) }
        case .ringing, .preparing:
            break
        }
        return actions
    }

    /// The call is over: nothing more reaches the runner; legs the flow left up are hung up.
    private mutating func finish() -> [Action] {
        guard !isFinished else { return [] }
        isFinished = true
        let actions = legs.keys.sorted().flatMap { hangUp($0) }
        callerLeg = nil
        agentLegs.removeAll()
        return actions + [.callOver]
    }

    private func deliver(_ event: Call.Event) -> [Action] {
        isFinished ? [] : [.deliver(event)]
    }

    /// Whether this server's own offers on a leg are `RTP/SAVP`: SDES keys travel only in SIP
    /// that TLS protects (RFC 4568 §8.3), so over TLS, and plain RTP elsewhere.
    private static func offersSRTP(over peer: SIPPeer) -> Bool { peer.transport == .tls }

    private static func codec(_ audio: NegotiatedAudio) -> G711Codec { audio.codec == .pcmu ? .pcmu : .pcma }

    /// The leg's media format; RTP from the host its SIP came from may move where it is sent
    /// (symmetric RTP, for phones behind NAT: docs/SIP.md).
    private static func format(_ audio: NegotiatedAudio, signalledFrom peer: SIPPeer) -> MediaFormat {
        let remote: SocketAddress? =
            audio.peerReceives && audio.remotePort > 0 ? try? SocketAddress(ipAddress: audio.remoteAddress, port: audio.remotePort) : nil
        return MediaFormat(
            remote: remote, codec: codec(audio), payloadType: UInt8(truncatingIfNeeded: audio.payloadType),
            telephoneEventPayloadType: audio.telephoneEventPayloadType.map { UInt8(truncatingIfNeeded: $0) },
            symmetricHost: peer.address.ipAddress,
            srtp: audio.srtp.flatMap { MediaFormat.SRTPKeys(sendKeySalt: $0.localKeySalt, receiveKeySalt: $0.remoteKeySalt) })
    }
}
