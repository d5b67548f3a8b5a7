import Domain
import Hummingbird
import Storage

/// `GET /client/{client_id}/quality_rate/notifications/` (issue 10): the latest rating
/// notifications and how their delivery went, newest rating first; `limit` (1–1000, default
/// 100) and `before_id` (the last `rating_id` of the previous page) page through older ones.
struct NotificationRoutes {
    let store: any Store

    func register(on routes: inout RouteTable) {
        routes.get("client/:client_id/quality_rate/notifications", list)
    }

    @Sendable func list(_ request: Request, context: APIRequestContext) async throws -> Response {
        let clientID = try context.ownedClientID()
        let zone = try await store.clientTimeZone(clientID)
        let parameters = try QueryParameters(request.uri.query)
        let limit = try parameters.limit(range: 1...1000) ?? 100
        let beforeID = try parameters.positiveID("before_id")
        let notifications = try await store.notifications(clientID: clientID, beforeID: beforeID, limit: limit)
        var json = JSONBytes(capacity: 256 * notifications.count + 2)
        json.beginArray()
        for notification in notifications {
            json.beginObject()
            json.field("id", notification.id)
            json.field("rating_id", notification.rating.id)
            json.field("url", notification.url)
            json.field("alert", notification.isAlert)
            json.field("state", notification.state.rawValue)
            json.field("attempts", notification.attempts)
            json.field("last_status", notification.lastStatus)
            json.field("last_error", notification.lastError)
            json.field("next_attempt_at", notification.nextAttemptAt.map(zone.localTime(of:)))
            json.field("delivered_at", notification.deliveredAt.map(zone.localTime(of:)))
            json.endObject()
        }
        json.endArray()
        return .json(json)
    }
}
