import Foundation

/// A `multipart/form-data` body (RFC 7578), read strictly: the boundary comes from the
/// Content-Type, the body starts with the first delimiter and ends with the closing one, every
/// line break is CRLF, and every part names its field in `Content-Disposition: form-data`.
/// Anything else is refused with a 400 that says what is wrong, rather than guessed at.
struct MultipartForm {
    struct Part {
        var name: String
        /// The `filename` parameter, when the part is a file.
        var filename: String?
        var body: ArraySlice<UInt8>
    }

    /// The parts in the order sent; a field name appears at most once.
    private(set) var parts: [Part] = []

    subscript(name: String) -> Part? { parts.first { $0.name == name } }

    init(body: [UInt8], contentType: String) throws {
        let boundary = try Self.boundary(of: contentType)
        let delimiter = Array("--\(boundary)".utf8)
        let crlf: [UInt8] = [0x0D, 0x0A]
        guard body.starts(with: delimiter) else {
            throw Self.malformed("it must start with the boundary line '--\(boundary)'")
        }
        var position = delimiter.count
        while true {
            // After a delimiter: "--" closes the body, CRLF opens the next part.
            if body[position...].starts(with: [0x2D, 0x2D]) {
                let rest = body[(position + 2)...]
                guard rest.isEmpty || rest.starts(with: crlf) else {
                    throw Self.malformed("the closing boundary must be followed by CRLF or nothing")
                }
                break
            }
            guard body[position...].starts(with: crlf) else {
                throw Self.malformed("a boundary line must end with CRLF, or with '--' for the last one")
            }
            position += 2
            var headers: [String] = []
            while true {
                guard let end = Self.find(crlf, in: body, from: position) else {
                    throw Self.malformed("a part's headers end before the blank line that closes them")
                }
                if end == position { break }
                guard let line = String(validating: body[position..<end], as: UTF8.self) else {
                    throw Self.malformed("a part header is not UTF-8")
                }
                headers.append(line)
                position = end + 2
            }
            position += 2
            guard let end = Self.find(crlf + delimiter, in: body, from: position) else {
                throw Self.malformed("a part is not followed by CRLF and the boundary line '--\(boundary)'")
            }
            let part = try Self.part(headers: headers, body: body[position..<end])
            guard self[part.name] == nil else {
                throw APIError.badParameter(APIError.printable(part.name), "sent twice; send each form field once")
            }
            parts.append(part)
            position = end + crlf.count + delimiter.count
        }
    }

    /// The `boundary` parameter of `multipart/form-data; boundary=…` (RFC 2046 §5.1.1: 1–70 characters).
    private static func boundary(of contentType: String) throws -> String {
        let fields = contentType.split(separator: ";").map { $0.trimmingCharacters(in: .whitespaces) }
        for field in fields.dropFirst() {
            guard let equals = field.firstIndex(of: "="), field[..<equals].lowercased() == "boundary" else { continue }
            var value = String(field[field.index(after: equals)...])
            if value.count >= 2, value.hasPrefix("\""), value.hasSuffix("\"") { value = String(value.dropFirst().dropLast()) }
            guard (1...70).contains(value.utf8.count), value.unicodeScalars.allSatisfy({ (0x20..<0x7F).contains($0.value) }),
                !value.hasSuffix(" ")
            else {
                throw APIError.badParameter("Content-Type", "the multipart boundary must be 1 to 70 printable ASCII characters")
            }
            return value
        }
        throw APIError.badParameter("Content-Type", "expected 'multipart/form-data; boundary=…' with a boundary parameter")
    }

    private static func part(headers: [String], body: ArraySlice<UInt8>) throws -> Part {
        var disposition: String?
        for header in headers {
            guard let colon = header.firstIndex(of: ":") else {
                throw malformed("'\(APIError.printable(header))' is not a 'Name: value' header")
            }
            if header[..<colon].trimmingCharacters(in: .whitespaces).lowercased() == "content-disposition" {
                guard disposition == nil else { throw malformed("a part has two Content-Disposition headers") }
                disposition = String(header[header.index(after: colon)...])
            }
        }
        guard let disposition else { throw malformed("every part needs a 'Content-Disposition: form-data; name=\"…\"' header") }
        let parameters = try dispositionParameters(disposition)
        guard let name = parameters["name"], !name.isEmpty else {
            throw malformed("every part's Content-Disposition needs a name parameter (the form field)")
        }
        return Part(name: name, filename: parameters["filename"], body: body)
    }

    /// `form-data; name="title"; filename="a.wav"` → ["name": "title", "filename": "a.wav"];
    /// values may be tokens or quoted strings. A backslash is kept as it is: browsers send
    /// Windows paths unescaped and encode a quote as `%22` (HTML form submission, RFC 7578 §4.2).
    private static func dispositionParameters(_ value: String) throws -> [String: String] {
        var scalars = Substring(value).unicodeScalars[...]
        func skipSpaces() { while let first = scalars.first, first == " " || first == "\t" { scalars.removeFirst() } }
        func token() -> String {
            var text = ""
            while let first = scalars.first, first != ";", first != "=", first != " ", first != "\t" {
                text.unicodeScalars.append(scalars.removeFirst())
            }
            return text
        }
        skipSpaces()
        guard token().lowercased() == "form-data" else {
            throw malformed("a part's Content-Disposition must be 'form-data'")
        }
        var parameters: [String: String] = [:]
        while true {
            skipSpaces()
            guard let first = scalars.first else { return parameters }
            guard first == ";" else { throw malformed("Content-Disposition parameters must be separated by ';'") }
            scalars.removeFirst()
            skipSpaces()
            let key = token().lowercased()
            skipSpaces()
            guard !key.isEmpty, scalars.first == "=" else { throw malformed("a Content-Disposition parameter has no '=value'") }
            scalars.removeFirst()
            skipSpaces()
            var text = ""
            if scalars.first == "\"" {
                scalars.removeFirst()
                var closed = false
                while let next = scalars.popFirst() {
                    if next == "\"" {
                        closed = true
                        break
                    }
                    text.unicodeScalars.append(next)
                }
                guard closed else { throw malformed("a quoted Content-Disposition value is not closed") }
            } else {
                text = token()
            }
            guard parameters[key] == nil else { throw malformed("Content-Disposition has '\(APIError.printable(key))' twice") }
            parameters[key] = text
        }
    }

    /// The first index at or after `start` where `needle` occurs.
    private static func find(_ needle: [UInt8], in haystack: [UInt8], from start: Int) -> Int? {
        guard let first = needle.first, haystack.count >= needle.count else { return nil }
        var index = start
        let last = haystack.count - needle.count
        while index <= last {
            if haystack[index] == first, haystack[index..<(index + needle.count)].elementsEqual(needle) { return index }
            index += 1
        }
        return nil
    }

    private static func malformed(_ problem: String) -> APIError {
        APIError.badParameter("body", "malformed multipart/form-data: \(problem)")
    }
}
