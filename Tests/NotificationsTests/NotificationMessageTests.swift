import Crypto
import Domain
import Foundation
import Notifications
import Testing

@Suite struct NotificationMessageTests {
    static let rating = Rating(
        id: 42, clientID: 7, callUUID: CallUUID("3F0C2A6E1B1C4B8E9C557A1D2E3F4A5B")!,
        ratedAt: UnixTime(seconds: 1_764_979_200), extensionID: 9, rate: 1, maxRate: 5, agentUsername: "102")

    static func notification(alert: Bool = true) -> RatingNotification {
        RatingNotification(
            id: 1, rating: rating, url: "http://127.0.0.1:9/hook", fromUsername: "4940123456", didNumber: nil, isAlert: alert,
            createdAt: rating.ratedAt, state: .pending, attempts: 0, nextAttemptAt: rating.ratedAt, lastStatus: nil,
            lastError: nil, deliveredAt: nil)
    }

    @Test func bodyHasTheRatingFieldsTheCallsAndTheAlertInTheClientsZone() throws {
        let message = try NotificationMessage(
            Self.notification(), zone: ClientTimeZone(identifier: "Europe/Berlin")!, secret: "whsec_x", timestamp: UnixTime(seconds: 5))
        let object = try #require(try JSONSerialization.jsonObject(with: Data(message.body)) as? [String: Any])
        #expect(object["id"] as? Int == 42)
        #expect(object["client_id"] as? Int == 7)
        #expect(object["call_uuid"] as? String == "3F0C2A6E1B1C4B8E9C557A1D2E3F4A5B")
        #expect(object["datetime"] as? String == "2025-12-06 01:00:00")
        #expect(object["extension_id"] as? Int == 9)
        #expect(object["rate"] as? Int == 1)
        #expect(object["max_rate"] as? Int == 5)
        #expect(object["agent_username"] as? String == "102")
        #expect(object["target"] as? String == "agent")
        #expect(object["from_username"] as? String == "4940123456")
        #expect(object["did_number"] is NSNull)
        #expect(object["alert"] as? Bool == true)
        #expect(object.count == 12)
    }

    @Test func signatureIsHMACSHA256OverTimestampDotBody() throws {
        let message = try NotificationMessage(
            Self.notification(), zone: .utc, secret: "whsec_secret", timestamp: UnixTime(seconds: 1_700_000_000))
        let headers = Dictionary(uniqueKeysWithValues: message.headers.map { ($0.name, $0.value) })
        #expect(headers["Idempotency-Key"] == "42")
        let expected = HMAC<SHA256>.authenticationCode(
            for: Data("1700000000.".utf8) + Data(message.body), using: SymmetricKey(data: Data("whsec_secret".utf8)))
        #expect(headers["QualityRate-Signature"] == "t=1700000000,v1=" + expected.map { String(format: "%02x", $0) }.joined())
    }

    @Test func alertWhenRateIsAtOrBelowTheThresholdPercentage() {
        #expect(RatingNotification.isAlert(rate: 2, maxRate: 5, threshold: 40))
        #expect(!RatingNotification.isAlert(rate: 3, maxRate: 5, threshold: 40))
        #expect(RatingNotification.isAlert(rate: 0, maxRate: 9, threshold: 0))
        #expect(!RatingNotification.isAlert(rate: 1, maxRate: 9, threshold: 0))
        #expect(RatingNotification.isAlert(rate: 9, maxRate: 9, threshold: 100))
        #expect(!RatingNotification.isAlert(rate: 1, maxRate: 5, threshold: nil))
    }

    @Test func retriesDoubleFromOneSecondUpToTheCapThenGiveUpAfterADay() {
        let schedule = RetrySchedule()
        let start = UnixTime(seconds: 1_000_000)
        #expect(schedule.nextAttempt(afterFailures: 1, now: start, createdAt: start) == start.adding(seconds: 1))
        #expect(schedule.nextAttempt(afterFailures: 2, now: start, createdAt: start) == start.adding(seconds: 2))
        #expect(schedule.nextAttempt(afterFailures: 3, now: start, createdAt: start) == start.adding(seconds: 4))
        #expect(schedule.nextAttempt(afterFailures: 13, now: start, createdAt: start) == start.adding(seconds: 3_600))
        #expect(schedule.nextAttempt(afterFailures: 60, now: start, createdAt: start) == start.adding(seconds: 3_600))
        let late = start.adding(seconds: 86_000)
        #expect(schedule.nextAttempt(afterFailures: 30, now: late, createdAt: start) == nil)
        #expect(schedule.nextAttempt(afterFailures: 30, now: start.adding(seconds: 80_000), createdAt: start) != nil)
    }
}
