import Crypto
public import Domain
import Foundation

/// The HTTP request of one notification, as values: the JSON body and the headers that sign it.
public struct NotificationMessage: Sendable, Equatable {
    /// The header carrying the signature: `t=TIMESTAMP,v1=HEX`, HEX being the lowercase hex of
    /// HMAC-SHA256, keyed with the client's secret (its UTF-8 bytes), over `TIMESTAMP + "." + body`.
    public static let signatureHeader = "QualityRate-Signature"
    /// The header carrying the rating id: a receiver that sees one twice has it already.
    public static let idempotencyHeader = "Idempotency-Key"

    public var body: [UInt8]
    public var headers: [(name: String, value: String)]

    public static func == (lhs: NotificationMessage, rhs: NotificationMessage) -> Bool {
        lhs.body == rhs.body && lhs.headers.elementsEqual(rhs.headers) { $0 == $1 }
    }

    /// The message of `notification` signed with `secret` at `timestamp`; `zone` is the client's,
    /// in which `datetime` is written (as in the ratings list).
    public init(_ notification: RatingNotification, zone: ClientTimeZone, secret: String, timestamp: UnixTime) throws {
        body = try Self.body(of: notification, zone: zone)
        headers = [
            ("Content-Type", "application/json"),
            (Self.idempotencyHeader, String(notification.rating.id)),
            (Self.signatureHeader, Self.signature(body: body, secret: secret, timestamp: timestamp)),
        ]
    }

    /// `t=TIMESTAMP,v1=HEX` for `body` (see `signatureHeader`).
    public static func signature(body: [UInt8], secret: String, timestamp: UnixTime) -> String {
        let key = SymmetricKey(data: Array(secret.utf8))
        var signed = Array(String(timestamp.seconds).utf8)
        signed.append(UInt8(ascii: "."))
        signed.append(contentsOf: body)
        let mac = HMAC<SHA256>.authenticationCode(for: signed, using: key)
        return "t=\(timestamp.seconds),v1=" + mac.map { String(format: "%02x", $0) }.joined()
    }

    static func body(of notification: RatingNotification, zone: ClientTimeZone) throws -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return Array(try encoder.encode(Payload(notification, zone: zone)))
    }

    /// The JSON body: the seven fields of the ratings list, `agent_username` and `target` as
    /// with `with_agent=true`, the call's `from_username` and `did_number`, and `alert`.
    struct Payload: Encodable {
        var notification: RatingNotification
        var datetime: String

        init(_ notification: RatingNotification, zone: ClientTimeZone) {
            self.notification = notification
            datetime = zone.localTime(of: notification.rating.ratedAt).description
        }

        enum CodingKeys: String, CodingKey {
            case id, clientID = "client_id", callUUID = "call_uuid", datetime, extensionID = "extension_id", rate,
                maxRate = "max_rate", agentUsername = "agent_username", target, fromUsername = "from_username",
                didNumber = "did_number", alert
        }

        func encode(to encoder: any Encoder) throws {
            let rating = notification.rating
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(rating.id, forKey: .id)
            try container.encode(rating.clientID, forKey: .clientID)
            try container.encode(rating.callUUID.value, forKey: .callUUID)
            try container.encode(datetime, forKey: .datetime)
            try container.encode(rating.extensionID, forKey: .extensionID)
            try container.encode(rating.rate, forKey: .rate)
            try container.encode(rating.maxRate, forKey: .maxRate)
            try container.encode(rating.agentUsername, forKey: .agentUsername)
            try container.encode(rating.target.rawValue, forKey: .target)
            try container.encode(notification.fromUsername, forKey: .fromUsername)
            try container.encode(notification.didNumber, forKey: .didNumber)
            try container.encode(notification.isAlert, forKey: .alert)
        }
    }
}
