import Domain
import Storage

extension ConfigurationAPI {
    /// The longest number of any kind: a DID or an outside number, 20 digits after a `+`.
    static let longestNumber = 21

    /// Checks a number a call may be sent on to (a queue's or voice menu's transfer destination, a
    /// callback's destinations): one of the client's extension names or DIDs, or an outside
    /// number (issue 11) that one of the client's trunks carries — one no trunk carries could
    /// never be dialled, so it is refused now rather than failing a caller later.
    static func requireTransferDestination(_ field: String, _ number: String, clientID: Int64, store: any Store) async throws {
        guard !number.isEmpty, number.utf8.count <= longestNumber else { throw notTransferable(field, number) }
        if try await store.dialTarget(clientID: clientID, number: number) != nil { return }
        guard OutsideNumber.isValid(number), !OutsideNumber.route(number, over: try await store.trunks(clientID: clientID)).isEmpty
        else { throw notTransferable(field, number) }
    }

    private static func notTransferable(_ field: String, _ number: String) -> APIError {
        APIError.invalidValue(
            field,
            "'\(APIError.printable(number))' is not a number of this client, and no trunk of the client carries it; give an extension name, a DID, or an outside number one of its trunks carries")
    }
}
