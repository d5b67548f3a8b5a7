import Foundation

/// An instant, in whole seconds since 1970-01-01 00:00:00 UTC. Storage keeps instants; only the
/// API edge turns them into a client's wall-clock time.
public struct UnixTime: Sendable, Hashable, Comparable {
    public var seconds: Int64

    public init(seconds: Int64) { self.seconds = seconds }

    public static func now() -> UnixTime {
        UnixTime(seconds: Int64(Date().timeIntervalSince1970.rounded(.down)))
    }

    public static func < (lhs: UnixTime, rhs: UnixTime) -> Bool { lhs.seconds < rhs.seconds }

    public func adding(seconds delta: Int64) -> UnixTime { UnixTime(seconds: seconds + delta) }
}

/// A wall-clock time as the API writes it: `YYYY-MM-DD HH:MM:SS`, no zone.
public struct LocalDateTime: Sendable, Hashable, CustomStringConvertible {
    public var year: Int64, month: Int64, day: Int64, hour: Int64, minute: Int64, second: Int64

    public init(year: Int64, month: Int64, day: Int64, hour: Int64, minute: Int64, second: Int64) {
        (self.year, self.month, self.day) = (year, month, day)
        (self.hour, self.minute, self.second) = (hour, minute, second)
    }

    /// Parses exactly `YYYY-MM-DD HH:MM:SS` with a real calendar date (no 02-30, no 24:00:00).
    public init?(parsing text: some StringProtocol) {
        let bytes = Array(text.utf8)
        guard bytes.count == 19, bytes[4] == UInt8(ascii: "-"), bytes[7] == UInt8(ascii: "-"),
            bytes[10] == UInt8(ascii: " "), bytes[13] == UInt8(ascii: ":"), bytes[16] == UInt8(ascii: ":")
        else { return nil }
        func number(_ range: Range<Int>) -> Int64? {
            var value: Int64 = 0
            for index in range {
                let byte = bytes[index]
                guard byte >= 0x30, byte <= 0x39 else { return nil }
                value = value * 10 + Int64(byte - 0x30)
            }
            return value
        }
        guard let year = number(0..<4), let month = number(5..<7), let day = number(8..<10),
            let hour = number(11..<13), let minute = number(14..<16), let second = number(17..<19),
            (1...12).contains(month), day >= 1, day <= Self.daysIn(month: month, year: year),
            hour <= 23, minute <= 59, second <= 59
        else { return nil }
        self.init(year: year, month: month, day: day, hour: hour, minute: minute, second: second)
    }

    public static let format = "YYYY-MM-DD HH:MM:SS"

    static func daysIn(month: Int64, year: Int64) -> Int64 {
        switch month {
        case 2: (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: 30
        default: 31
        }
    }

    /// This wall-clock time read as if it were UTC.
    var secondsAsIfUTC: Int64 {
        CivilCalendar.days(year: year, month: month, day: day) * 86_400 + hour * 3600 + minute * 60 + second
    }

    init(secondsAsIfUTC seconds: Int64) {
        let days = seconds >= 0 ? seconds / 86_400 : (seconds - 86_399) / 86_400
        let rest = seconds - days * 86_400
        let (year, month, day) = CivilCalendar.date(days: days)
        self.init(year: year, month: month, day: day, hour: rest / 3600, minute: rest % 3600 / 60, second: rest % 60)
    }

    public var description: String {
        var bytes = [UInt8]()
        bytes.reserveCapacity(19)
        appendUTF8(to: &bytes)
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Writes the 19 bytes of `YYYY-MM-DD HH:MM:SS` without going through String formatting,
    /// which is most of the cost of encoding a large ratings list.
    public func appendUTF8(to bytes: inout [UInt8]) {
        func two(_ value: Int64) {
            bytes.append(0x30 + UInt8(value / 10))
            bytes.append(0x30 + UInt8(value % 10))
        }
        two(year / 100 % 100)
        two(year % 100)
        bytes.append(UInt8(ascii: "-"))
        two(month)
        bytes.append(UInt8(ascii: "-"))
        two(day)
        bytes.append(UInt8(ascii: " "))
        two(hour)
        bytes.append(UInt8(ascii: ":"))
        two(minute)
        bytes.append(UInt8(ascii: ":"))
        two(second)
    }
}

/// Proleptic Gregorian day counting (days since 1970-01-01), after Howard Hinnant's algorithms.
enum CivilCalendar {
    static func days(year: Int64, month: Int64, day: Int64) -> Int64 {
        let shiftedYear = month <= 2 ? year - 1 : year
        let era = (shiftedYear >= 0 ? shiftedYear : shiftedYear - 399) / 400
        let yearOfEra = shiftedYear - era * 400
        let dayOfYear = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }

    static func date(days: Int64) -> (year: Int64, month: Int64, day: Int64) {
        let shifted = days + 719_468
        let era = (shifted >= 0 ? shifted : shifted - 146_096) / 146_097
        let dayOfEra = shifted - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let monthIndex = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * monthIndex + 2) / 5 + 1
        let month = monthIndex < 10 ? monthIndex + 3 : monthIndex - 9
        return (yearOfEra + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }
}

/// A client's IANA time zone, converting between instants and that client's wall clock.
public struct ClientTimeZone: Sendable {
    public let identifier: String
    private let zone: TimeZone

    public static let utc = ClientTimeZone(validated: "UTC", zone: TimeZone(identifier: "UTC")!)

    /// Accepts IANA names only (`Europe/Berlin`, `UTC`), not abbreviations or raw offsets,
    /// because an abbreviation like `EST` does not follow daylight-saving changes.
    public init?(identifier: String) {
        guard identifier == "UTC" || TimeZone.knownTimeZoneIdentifiers.contains(identifier),
            let zone = TimeZone(identifier: identifier)
        else { return nil }
        self.init(validated: identifier, zone: zone)
    }

    private init(validated identifier: String, zone: TimeZone) {
        self.identifier = identifier
        self.zone = zone
    }

    func offset(at instant: Int64) -> Int64 {
        Int64(zone.secondsFromGMT(for: Date(timeIntervalSince1970: TimeInterval(instant))))
    }

    /// The instant a wall-clock time names. In the autumn overlap the earlier instant is taken;
    /// a time skipped by the spring change is read with the offset in force before it, which
    /// lands just after the change — so a filter bound never silently excludes a whole hour.
    public func instant(of local: LocalDateTime) -> UnixTime {
        let asIfUTC = local.secondsAsIfUTC
        let offsetBefore = offset(at: asIfUTC - 86_400)
        let offsetAfter = offset(at: asIfUTC + 86_400)
        let candidates = [asIfUTC - max(offsetBefore, offsetAfter), asIfUTC - min(offsetBefore, offsetAfter)]
        for candidate in candidates.sorted() where asIfUTC - offset(at: candidate) == candidate {
            return UnixTime(seconds: candidate)
        }
        return UnixTime(seconds: asIfUTC - offsetBefore)
    }

    public func localTime(of instant: UnixTime) -> LocalDateTime {
        LocalDateTime(secondsAsIfUTC: instant.seconds + offset(at: instant.seconds))
    }

    /// A converter for many instants in ascending order (a ratings list): it asks the zone
    /// database once per offset period instead of once per row.
    public func makeFormatter() -> LocalTimeFormatter { LocalTimeFormatter(zone: self) }

    func nextTransition(after instant: Int64) -> Int64 {
        guard let next = zone.nextDaylightSavingTimeTransition(after: Date(timeIntervalSince1970: TimeInterval(instant))) else {
            return .max
        }
        return Int64(next.timeIntervalSince1970.rounded(.down))
    }
}

public struct LocalTimeFormatter: Sendable {
    private let zone: ClientTimeZone
    private var validFrom: Int64 = .max
    private var validUntil: Int64 = .min
    private var offset: Int64 = 0

    init(zone: ClientTimeZone) { self.zone = zone }

    public mutating func localTime(of instant: UnixTime) -> LocalDateTime {
        let seconds = instant.seconds
        if seconds < validFrom || seconds >= validUntil {
            offset = zone.offset(at: seconds)
            validFrom = seconds
            validUntil = zone.nextTransition(after: seconds)
        }
        return LocalDateTime(secondsAsIfUTC: seconds + offset)
    }
}

extension Client {
    /// The client's zone; a name the tz database no longer knows reads as UTC, rather than
    /// failing every request and call of that client.
    public var zone: ClientTimeZone { ClientTimeZone(identifier: timezone) ?? .utc }
}
