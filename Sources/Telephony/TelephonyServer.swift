public import CallFlow
public import CallRunner
public import Domain
public import Logging
public import Media
import Metrics
public import SIP
public import SIPTransport
public import Storage

/// The server's SIP user agent: answers what reaches the SIP endpoint — REGISTER through the
/// registrar, INVITEs from trunks (to DIDs) and from registered phones (to extensions), requests
/// inside dialogs — and places the calls the API starts (`TelephonyProvider`). Each call's legs
/// are a `CallSession`, whose flow a `CallRunner` in the `CallCenter` runs.
public actor TelephonyServer: SIPTransactionUser, TelephonyProvider {
    private let endpoint: SIPEndpoint
    private let media: MediaServer
    private let registrations: PhoneRegistrations
    private let store: any Store
    private var settings: TelephonySettings
    private let dialogs = DialogTable()
    /// The limits on concurrent and new calls (`--max-calls`, `--max-call-rate…`).
    private let gate: CallGate
    private let logger: Logger
    private var calls: CallCenter?
    /// SIGTERM came (issue 9): new INVITEs and OPTIONS are answered 503 while the calls up finish.
    private var isDraining = false
    /// Where the calls' own work runs (a session's event loop, a call's start): the group the
    /// service group runs, shared with the calls' timers.
    private let tasks: CallTasks
    /// Calls to numbers outside the clients (issue 11), and the trunks registered at providers.
    private let outbound: OutboundTrunks
    private var registrar: TrunkRegistrar?
    private let registeredTrunks = RegisteredTrunkSources()
    private let callsFromTrunks = Counter(label: "qualityrate_sip_calls_total", dimensions: [("origin", "trunk")])
    private let callsFromPhones = Counter(label: "qualityrate_sip_calls_total", dimensions: [("origin", "phone")])

    public init(
        endpoint: SIPEndpoint, media: MediaServer, registrations: PhoneRegistrations, store: any Store, settings: TelephonySettings,
        gate: CallGate, tasks: CallTasks, logger: Logger
    ) {
        self.gate = gate
        self.tasks = tasks
        self.endpoint = endpoint
        self.media = media
        self.registrations = registrations
        self.store = store
        self.settings = settings
        self.logger = logger
        outbound = OutboundTrunks(store: store, addresses: TrunkAddresses(allowed: settings.providerAddresses), logger: logger)
    }

    /// Where SIP is answered (after `start`).
    public var sipPort: Int { settings.sipPort }

    /// Binds the SIP sockets; calls will run in `calls` (which was given this server as its
    /// telephony). Nothing is answered until `run()` runs.
    public func start(calls: CallCenter) async throws {
        self.calls = calls
        try await endpoint.start(user: self)
        // `--sip HOST:0` (tests) binds any free port: Contact headers must name the real one.
        if let port = await endpoint.localAddress.port { settings.sipPort = port }
        if let port = await endpoint.tlsLocalAddress?.port { settings.sipTLSPort = port }
        registrar = TrunkRegistrar(
            store: store, endpoint: endpoint, settings: settings, addresses: outbound.addresses, sources: registeredTrunks, tasks: tasks,
            logger: logger)
    }

    /// The SIP endpoint's work and the trunks' registrations, in the caller's task (the service
    /// group's); returns once `stop()` has closed the sockets. The calls' work runs in `tasks`.
    public nonisolated func run() async {
        let registrar = await self.registrar
        await withDiscardingTaskGroup { group in
            if let registrar { group.addTask { await registrar.run() } }
            await endpoint.run()
        }
    }

    // MARK: SIPTransactionUser

    public func received(request: SIPMessage, from peer: SIPPeer) async {
        switch request.method ?? "" {
        case "REGISTER":
            let answer: SIPMessage
            do {
                answer = try await registrations.register(request, from: peer, source: settings.originatingAddress(of: request, from: peer))
            } catch {
                answer = storageUnavailable(request, toTag: Registrar<SIPPeer>.tag(request), error: error)
            }
            Counter(label: "qualityrate_sip_registers_total", dimensions: [("status", String(answer.status ?? 0))]).increment()
            await endpoint.respond(answer)
        case "OPTIONS":
            // A load balancer probing with OPTIONS (Kamailio's dispatcher) stops sending calls to
            // a server that is stopping or cannot store what calls leave (issue 9).
            if let unavailable = unavailability() {
                await endpoint.respond(serviceUnavailable(request, toTag: Identifiers.tag(), because: unavailable))
                return
            }
            var ok = request.response(status: 200, reason: "OK", toTag: Identifiers.tag())
            ok.headers.add("Allow", SIPMessage.allowedMethods)
            ok.headers.add("Accept", "application/sdp, application/dtmf-relay, application/dtmf")
            await endpoint.respond(ok)
        case "INVITE" where DialogTable.key(ofReceived: request) == nil:
            // Stopping, or the database takes no writes (its rating and call history would be
            // lost): a trunk tries another server (RFC 3261 §21.5.4).
            if let unavailable = unavailability() {
                await refuse(serviceUnavailable(request, toTag: Identifiers.tag(), because: unavailable))
                return
            }
            // Admission next, before anything is looked up: under a flood the refusals must
            // stay cheap, and OPTIONS, REGISTER and calls in progress must still be answered.
            // Behind a proxy of ours the source is the trunk or phone behind it, so one trunk's
            // burst through Kamailio is held to its own rate, not everyone's.
            switch gate.admit(from: settings.originatingAddress(of: request, from: peer)) {
            case .admitted:
                await arriving(request, from: peer)
            case .refused(let refusal, let retryAfter):
                var response = request.response(status: 503, reason: refusal.reason, toTag: Identifiers.tag())
                response.headers.add("Retry-After", String(retryAfter))
                await refuse(response)
            }
        case "INVITE", "BYE", "INFO", "ACK":
            await inDialog(request)
        case "SUBSCRIBE", "NOTIFY", "MESSAGE", "PUBLISH", "REFER", "UPDATE", "PRACK":
            var refused = request.response(status: 405, reason: "Method Not Allowed", toTag: Identifiers.tag())
            refused.headers.add("Allow", SIPMessage.allowedMethods)
            await endpoint.respond(refused)
        default:
            var refused = request.response(status: 501, reason: "Not Implemented", toTag: Identifiers.tag())
            refused.headers.add("Allow", SIPMessage.allowedMethods)
            await endpoint.respond(refused)
        }
    }

    public func cancelled(invite: SIPMessage) async {
        guard let key = DialogTable.offerKey(of: invite), let entry = await dialogs.offer(for: key) else {
            // Answered or refused already: the INVITE's transaction has its final response.
            return
        }
        await entry.session.cancelled()
    }

    public func answerNotAcknowledged(_ response: SIPMessage) async {
        guard let callID = response.headers["Call-ID"], let tag = response.headers["To"].flatMap(NameAddress.init)?.tag,
            let entry = await dialogs.entry(for: .init(callID: callID, localTag: tag))
        else { return }
        logger.warning("a caller never acknowledged the answer; hanging up", metadata: ["sip_call_id": "\(callID)"])
        await entry.session.notAcknowledged(leg: entry.leg)
    }

    // MARK: TelephonyProvider

    /// A call the API starts takes a place among the concurrent calls like an arriving one.
    public func makePort(for callUUID: CallUUID, clientID: Int64, callback: Call.CallbackPlan) async throws -> any TelephonyPort {
        guard let calls else { throw CallCenterError.telephonyUnavailable }
        guard case .admitted = gate.admit(from: "api") else { throw CallCenterError.telephonyUnavailable }
        let client: Client
        do {
            guard let found = try await store.client(id: clientID) else { throw CallCenterError.telephonyUnavailable }
            client = found
        } catch {
            gate.ended()
            throw error
        }
        let shown = callback.presentation
        return CallSession(
            context: context(calls), callUUID: callUUID, clientID: clientID, domain: client.domain,
            presentedCaller: NameAddress(
                displayName: NameAddress.displayable(shown.callerName ?? "Callback"),
                uri: SIPURI(user: shown.callerNumber ?? "callback", host: client.domain)),
            outsidePresentation: OutsidePresentation(
                sources: Set(callback.sources), sourceCallerID: shown.sourceCallerID, destinationCallerID: shown.destinationCallerID,
                callerName: shown.callerName))
    }

    // MARK: New calls

    private enum Origin {
        case phone(Client, user: String)
        case trunk(DID, Client)
    }

    /// An INVITE outside a dialog, admitted by the gate: a call from a phone of a client (its
    /// From domain is the client's; digest-authenticated), or from a trunk to a DID; else 403.
    /// The admitted place passes to the call's session, or is given back here when none starts.
    private func arriving(_ invite: SIPMessage, from peer: SIPPeer) async {
        let localTag = Identifiers.tag()
        guard let calls, let uri = Self.requestURI(of: invite), let dialled = uri.user,
            let from = invite.headers["From"].flatMap(NameAddress.init)
        else {
            gate.ended()
            await refuse(invite.response(status: 400, reason: "Bad Request (Request-URI or From)", toTag: localTag))
            return
        }
        let origin: Origin
        do {
            guard let found = try await self.origin(of: invite, dialled: dialled, from: from, peer: peer, localTag: localTag) else {
                gate.ended()
                return
            }
            origin = found
        } catch {
            gate.ended()
            await refuse(storageUnavailable(invite, toTag: localTag, error: error))
            return
        }

        let arrival: Call.Arrival
        let client: Client
        switch origin {
        case .phone(let phoneClient, let user):
            callsFromPhones.increment()
            client = phoneClient
            arrival = Call.Arrival(
                callUUID: .random(), clientID: client.id, dialled: dialled, did: nil,
                caller: .init(username: user, screenName: from.displayName.map(Self.unquoted), domain: client.domain))
        case .trunk(let did, let trunkClient):
            callsFromTrunks.increment()
            client = trunkClient
            arrival = Call.Arrival(
                callUUID: .random(), clientID: client.id, dialled: did.number, did: (did.number, client.domain),
                caller: .init(username: from.uri.user, screenName: from.displayName.map(Self.unquoted), domain: from.uri.host))
        }
        let session = CallSession(
            context: context(calls), callUUID: arrival.callUUID, clientID: client.id, domain: client.domain,
            presentedCaller: NameAddress(displayName: from.displayName, uri: SIPURI(user: from.uri.user, host: client.domain)))
        if let refusal = await session.offer(invite, from: peer, localTag: localTag) {
            await refuse(refusal)
            await session.finish()
            return
        }
        guard let runner = await calls.admit(arrival, port: session) else {
            // The server began stopping while this INVITE was looked up: the offer is refused
            // (480) as the session finishes.
            await session.finish()
            return
        }
        await session.attach(runner)
        spawn { await runner.start() }
    }

    /// Who an INVITE outside a dialog comes from; nil when it was refused (answered here).
    /// Throws when storage cannot be read: not knowing a DID or a phone is no "404".
    private func origin(of invite: SIPMessage, dialled: String, from: NameAddress, peer: SIPPeer, localTag: String) async throws -> Origin? {
        let source = settings.originatingAddress(of: invite, from: peer)
        let user = from.uri.user ?? ""
        if let client = try await registrations.client(domain: from.uri.host) {
            if let refusal = try await registrations.refusal(
                of: invite, user: user, domain: from.uri.host, client: client, source: source, toTag: localTag)
            {
                await refuse(refusal)
                return nil
            }
            guard await registrations.isReachable(clientID: client.id, agent: user) else {
                await refuse(invite.response(status: 403, reason: "Forbidden (phone not registered)", toTag: localTag))
                return nil
            }
            return .phone(client, user: user)
        }
        let address = peer.address.ipAddress ?? ""
        let inTrunkRange = settings.isTrunk(address)
        guard let trunk = TrunkSource(inTrunkRange: inTrunkRange, registeredFor: inTrunkRange ? [] : registeredTrunks.clients(at: address))
        else {
            // Neither a trunk nor a client's phone: challenged and refused exactly like a phone
            // with a wrong password (407, then 403), so a scan cannot tell which domains and
            // phones exist. The credentials cannot be right: there are no secrets to match.
            let refusal = try await registrations.refusal(
                of: invite, user: user, domain: from.uri.host, client: nil, source: source, toTag: localTag)
            if refusal?.status == 403 {
                logger.info("INVITE refused: not from a trunk nor a phone of a client", metadata: ["source": "\(source)"])
            }
            await refuse(refusal ?? invite.response(status: 403, reason: "Forbidden", toTag: localTag))
            return nil
        }
        var found: DID?
        for number in trunk.didNumbers(requestUser: dialled, toUser: invite.headers["To"].flatMap(NameAddress.init)?.uri.user)
        where found == nil {
            found = try await store.did(number: number)
        }
        guard let did = found, trunk.reaches(clientID: did.clientID), let client = try await store.client(id: did.clientID)
        else {
            await refuse(invite.response(status: 404, reason: "Not Found (no such DID)", toTag: localTag))
            return nil
        }
        return .trunk(did, client)
    }

    /// The answer when storage fails under a request: 503 with Retry-After (RFC 3261 §21.5.4),
    /// so a phone registers again and a trunk tries again or elsewhere, instead of a 404 that
    /// tells it the DID or the phone does not exist. The cause goes to the log.
    private func storageUnavailable(_ request: SIPMessage, toTag: String, error: any Error) -> SIPMessage {
        logger.error(
            "storage failed while answering a SIP request; answered 503",
            metadata: ["sip.method": "\(request.method ?? "")", "error": "\(error)"])
        return serviceUnavailable(request, toTag: toTag, because: "storage")
    }

    /// Why this server should get no new calls now, if it should not: it is stopping, or its
    /// database does not take writes (the last probe's reason).
    private func unavailability() -> String? {
        if isDraining { return "shutting down" }
        if case .failing(let reason) = store.writeHealth { return reason }
        return nil
    }

    /// 503 with Retry-After (RFC 3261 §21.5.4) and the cause in the reason phrase.
    private func serviceUnavailable(_ request: SIPMessage, toTag: String, because cause: String) -> SIPMessage {
        var response = request.response(status: 503, reason: "Service Unavailable (\(cause))", toTag: toTag)
        response.headers.add("Retry-After", String(Self.storageRetryAfterSeconds))
        return response
    }

    /// How long a phone, trunk or load balancer is asked to wait after a storage failure, while
    /// writes fail, or while the server is stopping.
    static let storageRetryAfterSeconds = 10

    /// Answers a new INVITE with a final error, counted by status at `/metrics`.
    private func refuse(_ response: SIPMessage) async {
        Counter(label: "qualityrate_sip_invites_refused_total", dimensions: [("status", String(response.status ?? 0))]).increment()
        await endpoint.respond(response)
    }

    // MARK: Requests in a dialog

    /// A request inside a dialog goes to the call's legs, which answer it in the call's order;
    /// one of no dialog here gets 481 (an ACK, nothing).
    private func inDialog(_ request: SIPMessage) async {
        guard let key = DialogTable.key(ofReceived: request), let entry = await dialogs.entry(for: key) else {
            if request.method != "ACK" {
                await endpoint.respond(request.response(status: 481, reason: "Call/Transaction Does Not Exist"))
            }
            return
        }
        await entry.session.received(request, on: entry.leg)
    }

    private func context(_ calls: CallCenter) -> SessionContext {
        SessionContext(
            endpoint: endpoint, media: media, registrations: registrations, trunks: outbound, sounds: SoundLibrary(store: store), dialogs: dialogs,
            calls: calls, settings: settings, gate: gate, spawn: spawn, logger: logger)
    }

    private nonisolated func spawn(_ job: @escaping CallTasks.Job) {
        tasks.spawn(job)
    }

    private static func requestURI(of request: SIPMessage) -> SIPURI? {
        guard case .request(_, let uri) = request.startLine else { return nil }
        return SIPURI(uri)
    }

    private static func unquoted(_ name: String) -> String {
        name.count >= 2 && name.hasPrefix("\"") && name.hasSuffix("\"") ? String(name.dropFirst().dropLast()) : name
    }
}

extension TelephonyServer {
    /// Stops answering SIP (SIGTERM, issue 9): new calls are refused with 503 at once; the calls
    /// up may end by themselves for `drain`; those left are ended by their runners, which hang
    /// up their callers and write their histories (`system`). Then whatever leg is left is hung
    /// up, the sockets are closed and `run()` returns.
    public func stop(drainingFor drain: Duration) async {
        isDraining = true
        if let calls {
            await calls.stopTakingCalls()
            let up = await calls.count
            logger.notice("stopping: new calls refused", metadata: ["calls": "\(up)", "drain": "\(drain)"])
            let left = await calls.drain(within: drain)
            if left > 0 { logger.notice("drain time over: ending the calls still up", metadata: ["calls": "\(left)"]) }
            await calls.endAll()
        }
        for session in await dialogs.sessions() { await session.finish() }
        await registrar?.stop()
        await endpoint.stop()
    }
}
