import CallFlow
import CallRunner
import Domain
import Hummingbird
import Storage

/// `POST /extension/{extension_id}/callback/` (SPEC §2.3): the server rings the sources, and the
/// first to answer is connected to the destination. `call_api` access is enough: starting calls
/// is what that access level is for.
struct CallbackRoutes {
    let store: any Store
    let calls: CallCenter?

    static let fields: Set<String> = [
        "src_num", "dst_num", "transfer_after_src_hangup", "transfer_after_dst_hangup", "src_ani", "dst_ani", "caller_id_name",
        "caller_id_number", "announce_sound_id", "dst_dtmf", "call_duration", "dst_announce_sound_id",
    ]
    static let maxSources = 10
    /// The longest `call_duration`: a day.
    static let longestCall: ClosedRange<Int64> = 1...86_400
    /// `dst_dtmf` (REFERENCE-API §4): keys, `W` a 1 s pause, `w` half a second.
    static let destinationKeyCharacters = Set("0123456789*#ABCDWw")
    static let longestKeySequence = 64

    func register(on routes: inout RouteTable) {
        routes.post("extension/:extension_id/callback", start)
    }

    @Sendable func start(_ request: Request, context: APIRequestContext) async throws -> Response {
        let initiator = try await context.ownedExtension(in: store)
        let clientID = initiator.clientID
        let body = try await JSONFields(request, context, accepting: Self.fields, of: "a callback")
        guard let sources = try body.strings("src_num") else {
            throw APIError.invalidValue("src_num", "required: the numbers to ring first, e.g. [\"101\"]")
        }
        guard (1...Self.maxSources).contains(sources.count) else {
            throw APIError.invalidValue("src_num", "give 1 to \(Self.maxSources) numbers")
        }
        let (parties, sourceQueue) = try await sourceParties(sources, clientID: clientID)
        guard let destination = try body.string("dst_num") else {
            throw APIError.invalidValue("dst_num", "required: the number to call once a source answers")
        }
        try await ConfigurationAPI.requireTransferDestination("dst_num", destination, clientID: clientID, store: store)
        let afterSource = try body.nullableString("transfer_after_src_hangup")
        let afterDestination = try body.nullableString("transfer_after_dst_hangup")
        if let afterSource {
            try await ConfigurationAPI.requireTransferDestination("transfer_after_src_hangup", afterSource, clientID: clientID, store: store)
        }
        if let afterDestination {
            try await ConfigurationAPI.requireTransferDestination("transfer_after_dst_hangup", afterDestination, clientID: clientID, store: store)
        }
        let plan = Call.CallbackPlan(
            sources: parties, sourceQueue: sourceQueue, destination: destination, afterSourceHangup: afterSource,
            afterDestinationHangup: afterDestination, sourceAnnouncement: try await sound(body, "announce_sound_id", clientID: clientID),
            destinationAnnouncement: try await sound(body, "dst_announce_sound_id", clientID: clientID),
            destinationKeys: try destinationKeys(body),
            maximumDuration: try body.integer("call_duration", in: Self.longestCall, expected: "seconds, 1 to 86400", nullable: true)
                .map { .seconds($0) },
            presentation: CallbackPresentation(
                sourceCallerID: try await clientDID(body, "src_ani", clientID: clientID),
                destinationCallerID: try await clientDID(body, "dst_ani", clientID: clientID),
                callerName: try body.string("caller_id_name", maxLength: 64, nullable: true),
                callerNumber: try callerNumber(body)))

        guard let calls else { throw Self.telephonyUnavailable }
        let callUUID: CallUUID
        do {
            callUUID = try await calls.startCallback(clientID: clientID, initiator: initiator, plan: plan)
        } catch CallCenterError.telephonyUnavailable {
            throw Self.telephonyUnavailable
        } catch CallCenterError.stopping {
            throw Self.stopping
        }
        var json = JSONBytes()
        json.beginObject()
        json.field("call_uuid", callUUID.value)
        json.endObject()
        return .json(json, status: .created)
    }

    /// What `src_num` rings (REFERENCE-API §4, issue 11): the client's phones, at most one of its
    /// queues (whose answering agent is the source), and outside numbers a trunk of the client
    /// carries (`OutsideParty` names). Anything else is refused, naming `src_num`.
    private func sourceParties(_ sources: [String], clientID: Int64) async throws -> (parties: [String], queue: Int64?) {
        var parties: [String] = []
        var queue: Int64?
        for source in sources {
            switch try await store.dialTarget(clientID: clientID, number: source) {
            case .extension(let found)? where found.kind == .phone:
                parties.append(found.name)
            case .extension(let found)? where found.kind == .queue:
                guard queue == nil else { throw APIError.invalidValue("src_num", "give at most one queue: its answering agent is the source") }
                queue = found.id
            case nil where OutsideNumber.isValid(source):
                guard !OutsideNumber.route(source, over: try await store.trunks(clientID: clientID)).isEmpty else {
                    throw APIError.invalidValue(
                        "src_num", "'\(APIError.printable(source))' is outside this client and none of its trunks carries it")
                }
                parties.append(OutsideParty.name(of: source))
            default:
                throw APIError.invalidValue(
                    "src_num",
                    "'\(APIError.printable(source))' is not a phone or queue of this client, nor an outside number; sources are phones, a queue, or outside numbers a trunk carries")
            }
        }
        return (parties, queue)
    }

    /// `src_ani` / `dst_ani`: a DID of the client, shown as caller ID to outside parties; anything
    /// else is ignored, as REFERENCE-API §4 says (the trunk's own `caller_id` is shown then).
    private func clientDID(_ body: JSONFields, _ field: String, clientID: Int64) async throws -> String? {
        guard let number = try body.string(field, maxLength: ConfigurationAPI.longestNumber, nullable: true),
            case .did(_, let did, _)? = try await store.dialTarget(clientID: clientID, number: number)
        else { return nil }
        return did
    }

    /// `caller_id_number`: what the client's phones see as calling (default: the initiating
    /// extension's name); a number, `+` allowed first.
    private func callerNumber(_ body: JSONFields) throws -> String? {
        guard let number = try body.string("caller_id_number", maxLength: ConfigurationAPI.longestNumber, nullable: true) else { return nil }
        let digits = number.hasPrefix("+") ? number.dropFirst() : number[...]
        guard !digits.isEmpty, digits.allSatisfy({ $0.isASCII && $0.isNumber }) else {
            throw APIError.invalidValue("caller_id_number", "expected digits, a + allowed first, got '\(APIError.printable(number))'")
        }
        return number
    }

    /// `announce_sound_id` (played to the source once it answered) and `dst_announce_sound_id`
    /// (to both parties once the destination answered): one of the client's sounds; 0 or null none.
    private func sound(_ body: JSONFields, _ field: String, clientID: Int64) async throws -> SoundReference? {
        guard let id = try body.nullableInteger(field), id != 0 else { return nil }
        guard try await store.sound(clientID: clientID, id: id) != nil else {
            throw APIError.invalidValue(field, "no sound \(id) in this client's sounds")
        }
        return .uploaded(id: id)
    }

    private func destinationKeys(_ body: JSONFields) throws -> String? {
        guard let keys = try body.string("dst_dtmf", maxLength: Self.longestKeySequence, nullable: true) else { return nil }
        guard !keys.isEmpty, keys.allSatisfy(Self.destinationKeyCharacters.contains) else {
            throw APIError.invalidValue(
                "dst_dtmf", "expected keys 0-9 * # A-D, W (a 1 s pause) and w (0.5 s), got '\(APIError.printable(keys))'")
        }
        return keys
    }

    static let stopping = APIError(
        status: .serviceUnavailable, code: "shutting_down",
        description: "this server is stopping and places no new calls; the request was valid and nothing was started: send it again to another server or once this one is back")

    static let telephonyUnavailable = APIError(
        status: .serviceUnavailable, code: "telephony_unavailable",
        description: "this server has no SIP telephony connected, so it cannot place calls; the request was valid and nothing was started")
}
