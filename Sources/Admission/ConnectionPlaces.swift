/// Places for connections: at most `maximum` open in all and `maximumPerAddress` from one
/// address. A plain value; the HTTP and SIP/TCP listeners hold one each behind a lock and ask it
/// as each connection opens and closes.
public struct ConnectionPlaces: Sendable {
    public enum Refusal: Sendable, Equatable {
        case full, fullForAddress
    }

    public let maximum: Int
    public let maximumPerAddress: Int
    public private(set) var open = 0
    private var perAddress: [String: Int] = [:]

    public init(maximum: Int, maximumPerAddress: Int) {
        self.maximum = maximum
        self.maximumPerAddress = maximumPerAddress
    }

    /// Takes a place for a connection from `address`, or says why there is none.
    public mutating func take(from address: String) -> Refusal? {
        if open >= maximum { return .full }
        if perAddress[address, default: 0] >= maximumPerAddress { return .fullForAddress }
        open += 1
        perAddress[address, default: 0] += 1
        return nil
    }

    /// Gives back a place taken for `address`.
    public mutating func release(from address: String) {
        guard let count = perAddress[address] else { return }
        open -= 1
        perAddress[address] = count > 1 ? count - 1 : nil
    }
}
