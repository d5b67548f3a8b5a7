import Domain

/// CSV as RFC 4180 writes it, straight into bytes (like `JSONBytes`, so a million rows cost no
/// `String`s): cells separated by commas, rows ended by CRLF, a cell holding `"`, `,`, `;`, CR or
/// LF enclosed in double quotes with each `"` doubled (RFC 4180 §2.5–2.7). `;` is not special in
/// RFC 4180, but spreadsheets in many European locales split on it, where an unquoted
/// `a;=HYPERLINK(…)` would become a formula cell.
///
/// Text that a spreadsheet would run as a formula — starting with `=`, `+`, `-`, `@`, TAB or CR —
/// gets a leading `'` (OWASP, "CSV Injection"): a caller id `+4930…` is written `'+4930…`.
/// Numbers are written as numbers, never prefixed: a negative number is a number, not a formula.
///
/// Null is an empty cell and an empty text `""`, as PostgreSQL's `COPY … CSV` tells them apart.
struct CSVBytes: Sendable {
    private(set) var bytes: [UInt8] = []
    private var rowHasCells = false

    init(capacity: Int = 256) { bytes.reserveCapacity(capacity) }

    mutating func text(_ value: String?) {
        separate()
        guard let value else { return }
        let utf8 = value.utf8
        let needsQuotes = value.isEmpty || utf8.contains { Self.needsQuotes($0) }
        if needsQuotes { bytes.append(UInt8(ascii: "\"")) }
        if let first = utf8.first, Self.startsFormula(first) { bytes.append(UInt8(ascii: "'")) }
        for byte in utf8 {
            if byte == UInt8(ascii: "\"") { bytes.append(byte) }
            bytes.append(byte)
        }
        if needsQuotes { bytes.append(UInt8(ascii: "\"")) }
    }

    mutating func number(_ value: Int64?) {
        separate()
        if let value { bytes.appendDecimal(value) }
    }

    /// A finite number as JSON writes it (`80.0`, `66.66666666666667`): spreadsheets read it in
    /// any locale, since the decimal point is never a comma.
    mutating func number(_ value: Double?) {
        separate()
        if let value { bytes.appendDecimal(value) }
    }

    /// `YYYY-MM-DD HH:MM:SS`, which spreadsheets read as a date and time.
    mutating func localTime(_ value: LocalDateTime?) {
        separate()
        value?.appendUTF8(to: &bytes)
    }

    /// Ends the row with CRLF (RFC 4180 §2.1).
    mutating func endRow() {
        bytes.append(contentsOf: [0x0D, 0x0A])
        rowHasCells = false
    }

    /// The bytes written so far, leaving the writer empty for the next rows.
    mutating func takeBytes() -> [UInt8] {
        defer { bytes.removeAll(keepingCapacity: true) }
        return bytes
    }

    private mutating func separate() {
        if rowHasCells { bytes.append(UInt8(ascii: ",")) }
        rowHasCells = true
    }

    private static func needsQuotes(_ byte: UInt8) -> Bool {
        byte == UInt8(ascii: "\"") || byte == UInt8(ascii: ",") || byte == UInt8(ascii: ";") || byte == 0x0D || byte == 0x0A
    }

    private static func startsFormula(_ byte: UInt8) -> Bool {
        byte == UInt8(ascii: "=") || byte == UInt8(ascii: "+") || byte == UInt8(ascii: "-") || byte == UInt8(ascii: "@")
            || byte == 0x09 || byte == 0x0D
    }
}

/// A record's fields as one CSV row of values.
extension CSVBytes: RecordFields {
    /// `count_per_key` becomes one column per key a caller can press: `max_rate` is 1…9 (a
    /// queue's `quality_rate_max`, a menu rule's `max_rate`), so every export has the same
    /// columns `count_key_1` … `count_key_9`, whatever the period, and keys nobody pressed count 0.
    static let countKeys = QueueOptions.qualityRateMaxRange

    mutating func beginRecord() {}
    mutating func endRecord() { endRow() }
    mutating func field(_ key: StaticString, _ value: String?) { text(value) }
    mutating func field(_ key: StaticString, _ value: Int64?) { number(value) }
    mutating func field(_ key: StaticString, _ value: Double?) { number(value) }
    mutating func field(_ key: StaticString, _ value: LocalDateTime?) { localTime(value) }

    mutating func field(_ key: StaticString, counts: [Int64: Int64]) {
        for rate in Self.countKeys { number(counts[rate] ?? 0) }
    }

    mutating func field(_ key: StaticString, jsonArray writeElements: (inout JSONBytes) -> Void) {
        var json = JSONBytes()
        json.beginArray()
        writeElements(&json)
        json.endArray()
        text(String(decoding: json.bytes, as: UTF8.self))
    }
}

/// A record's field names as the CSV header row (RFC 4180 §2.3): written from the same field
/// list as the values, so the two cannot disagree.
struct CSVHeader: RecordFields {
    private(set) var csv = CSVBytes()

    /// A writer holding the header row of the records `writeRecord` writes, for the rows to
    /// follow; the values `writeRecord` passes are not read.
    static func row(_ writeRecord: (inout CSVHeader) -> Void) -> CSVBytes {
        var header = CSVHeader()
        writeRecord(&header)
        return header.csv
    }

    mutating func beginRecord() {}
    mutating func endRecord() { csv.endRow() }
    mutating func field(_ key: StaticString, _ value: String?) { name(key) }
    mutating func field(_ key: StaticString, _ value: Int64?) { name(key) }
    mutating func field(_ key: StaticString, _ value: Double?) { name(key) }
    mutating func field(_ key: StaticString, _ value: LocalDateTime?) { name(key) }
    mutating func field(_ key: StaticString, jsonArray writeElements: (inout JSONBytes) -> Void) { name(key) }

    mutating func field(_ key: StaticString, counts: [Int64: Int64]) {
        for rate in CSVBytes.countKeys { csv.text("count_key_\(rate)") }
    }

    private mutating func name(_ key: StaticString) {
        csv.text(key.withUTF8Buffer { String(decoding: $0, as: UTF8.self) })
    }
}
