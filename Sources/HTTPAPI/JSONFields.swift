import Foundation
import Hummingbird

/// A JSON object body read field by field, for every route that takes one. A value of the wrong
/// JSON type (null included, where a field is not nullable) is a 400 naming the field; an
/// unacceptable value a 422; an unknown field a 400, so that a typo does not pass silently.
struct JSONFields {
    /// The object as parsed, for checks the typed readers do not cover.
    let values: [String: Any]

    init(_ values: [String: Any]) { self.values = values }

    /// Reads the request's JSON object, refusing fields outside `accepted`.
    init(_ request: Request, _ context: APIRequestContext, accepting accepted: Set<String>, of resource: String) async throws {
        self.init(try await JSONBody.object(of: request, context: context))
        try refuseUnknown(allowed: accepted.sorted(), what: resource)
    }

    func refuseUnknown(allowed: [String], what: String) throws {
        for key in values.keys.sorted() where !allowed.contains(key) {
            throw APIError.badParameter(
                APIError.printable(key), "unknown field; \(what) accepts \(allowed.joined(separator: ", "))")
        }
    }

    /// Present and not null.
    func isPresent(_ name: String) -> Bool {
        values[name] != nil && !(values[name] is NSNull)
    }

    func isNull(_ name: String) -> Bool { values[name] is NSNull }

    /// What the field holds, for an error message.
    func printed(_ name: String) -> String {
        guard let value = values[name] else { return "nothing" }
        if let text = value as? String { return "'\(APIError.printable(text))'" }
        return "a JSON \(Self.isBoolean(value) ? "boolean" : value is NSNumber ? "number" : value is NSNull ? "null" : "value")"
    }

    func string(_ name: String) throws -> String? {
        guard let value = values[name] else { return nil }
        guard let text = value as? String else { throw APIError.badParameter(name, "expected a string") }
        return text
    }

    /// A string of at most `maxLength` Unicode code points (what JSON Schema's maxLength counts);
    /// null only where `nullable`.
    func string(_ name: String, maxLength: Int, nullable: Bool = false) throws -> String? {
        guard let value = values[name] else { return nil }
        if value is NSNull {
            guard nullable else { throw APIError.badParameter(name, "expected a string, not null") }
            return nil
        }
        guard let text = value as? String else { throw APIError.badParameter(name, "expected a string") }
        guard text.unicodeScalars.count <= maxLength else { throw APIError.invalidValue(name, "at most \(maxLength) characters") }
        return text
    }

    /// nil when absent or null; `isNull` tells the two apart.
    func nullableString(_ name: String) throws -> String? {
        guard let value = values[name], !(value is NSNull) else { return nil }
        guard let text = value as? String else { throw APIError.badParameter(name, "expected a string or null") }
        return text
    }

    /// An array of strings (numbers may be sent as JSON numbers: `[101, "102"]`).
    func strings(_ name: String) throws -> [String]? {
        guard let value = values[name] else { return nil }
        guard let items = value as? [Any] else { throw APIError.badParameter(name, "expected an array of numbers") }
        return try items.map { item in
            if let text = item as? String { return text }
            if let whole = Self.integer(item) { return String(whole) }
            throw APIError.badParameter(name, "expected an array of numbers, as strings or integers")
        }
    }

    func integer(_ name: String) throws -> Int64? {
        guard let value = values[name] else { return nil }
        guard let integer = Self.integer(value) else { throw APIError.badParameter(name, "expected an integer") }
        return integer
    }

    /// An integer within `range`; null only where `nullable`.
    func integer(_ name: String, in range: ClosedRange<Int64>, expected: String, nullable: Bool = false) throws -> Int64? {
        guard let value = values[name] else { return nil }
        if value is NSNull {
            guard nullable else { throw APIError.badParameter(name, "expected an integer, not null: \(expected)") }
            return nil
        }
        guard let integer = Self.integer(value) else { throw APIError.badParameter(name, "expected an integer: \(expected)") }
        guard range.contains(integer) else { throw APIError.invalidValue(name, "expected \(expected), got \(integer)") }
        return integer
    }

    /// nil when absent or null; `isNull` tells the two apart.
    func nullableInteger(_ name: String) throws -> Int64? {
        guard let value = values[name], !(value is NSNull) else { return nil }
        guard let integer = Self.integer(value) else { throw APIError.badParameter(name, "expected an integer or null") }
        return integer
    }

    func boolean(_ name: String) throws -> Bool? {
        guard let value = values[name] else { return nil }
        guard let number = value as? NSNumber, Self.isBoolean(number) else { throw APIError.badParameter(name, "expected true or false") }
        return number.boolValue
    }

    func choice<Choice: RawRepresentable & CaseIterable>(_ name: String, _: Choice.Type) throws -> Choice?
    where Choice.RawValue == String {
        guard let text = try string(name, maxLength: 64) else { return nil }
        guard let choice = Choice(rawValue: text) else {
            let accepted = Choice.allCases.map(\.rawValue).joined(separator: ", ")
            throw APIError.invalidValue(name, "expected one of \(accepted), got '\(APIError.printable(text))'")
        }
        return choice
    }

    /// JSONSerialization gives numbers and booleans alike as NSNumber; a boolean is not an
    /// integer here, and neither is 1.5 or a number beyond 64 bits.
    private static func integer(_ value: Any) -> Int64? {
        guard !isBoolean(value) else { return nil }
        return value as? Int64
    }

    private static func isBoolean(_ value: Any) -> Bool {
        guard let number = value as? NSNumber else { return false }
        return String(cString: number.objCType) == "c"
    }
}
