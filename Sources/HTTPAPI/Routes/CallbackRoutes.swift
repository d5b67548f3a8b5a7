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

    static let fields: Set<String> = ["src_num", "dst_num", "transfer_after_src_hangup", "transfer_after_dst_hangup"]
    static let maxSources = 10

    func register(on routes: inout RouteTable) {
        routes.post("extension/:extension_id/callback", start)
    }

    @Sendable func start(_ request: Request, context: APIRequestContext) async throws -> Response {
        let initiator = try await context.ownedExtension(in: store)
        let body = try await JSONFields(request, context, accepting: Self.fields, of: "a callback")
        guard let sources = try body.strings("src_num") else {
            throw APIError.invalidValue("src_num", "required: the numbers to ring first, e.g. [\"101\"]")
        }
        guard (1...Self.maxSources).contains(sources.count) else {
            throw APIError.invalidValue("src_num", "give 1 to \(Self.maxSources) numbers")
        }
        for source in sources {
            guard case .extension(let phone)? = try await store.dialTarget(clientID: initiator.clientID, number: source), phone.kind == .phone
            else {
                throw APIError.invalidValue(
                    "src_num", "'\(APIError.printable(source))' is not a phone of this client; sources are the client's phones")
            }
        }
        guard let destination = try body.string("dst_num") else {
            throw APIError.invalidValue("dst_num", "required: the number to call once a source answers")
        }
        try await ConfigurationAPI.requireTransferDestination("dst_num", destination, clientID: initiator.clientID, store: store)
        let afterSource = try body.nullableString("transfer_after_src_hangup")
        let afterDestination = try body.nullableString("transfer_after_dst_hangup")
        if let afterSource {
            try await ConfigurationAPI.requireTransferDestination(
                "transfer_after_src_hangup", afterSource, clientID: initiator.clientID, store: store)
        }
        if let afterDestination {
            try await ConfigurationAPI.requireTransferDestination(
                "transfer_after_dst_hangup", afterDestination, clientID: initiator.clientID, store: store)
        }

        guard let calls else { throw Self.telephonyUnavailable }
        let callUUID: CallUUID
        do {
            callUUID = try await calls.startCallback(
                clientID: initiator.clientID, initiator: initiator,
                plan: Call.CallbackPlan(
                    sources: sources, destination: destination, afterSourceHangup: afterSource, afterDestinationHangup: afterDestination))
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

    static let stopping = APIError(
        status: .serviceUnavailable, code: "shutting_down",
        description: "this server is stopping and places no new calls; the request was valid and nothing was started: send it again to another server or once this one is back")

    static let telephonyUnavailable = APIError(
        status: .serviceUnavailable, code: "telephony_unavailable",
        description: "this server has no SIP telephony connected, so it cannot place calls; the request was valid and nothing was started")
}
