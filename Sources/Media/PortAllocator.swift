/// Hands out the even ports of a range (RTP on even ports, RFC 3550 §11), round-robin: the
/// port after the last one handed out comes first, so a port that was just given back is the
/// last to be reused and a late packet of the old call cannot land in a new one.
struct PortAllocator {
    private let firstPort: Int
    /// How many even ports the range holds.
    let capacity: Int
    private var nextIndex = 0
    private var inUse: Set<Int> = []

    init(range: ClosedRange<Int>) {
        precondition(range.lowerBound >= 1 && range.upperBound <= 65_535, "RTP ports must lie in 1…65535")
        firstPort = range.lowerBound + range.lowerBound % 2
        capacity = firstPort > range.upperBound ? 0 : (range.upperBound - firstPort) / 2 + 1
    }

    /// The next even port not held by a leg, now held; nil when every one is.
    mutating func reserve() -> Int? {
        for _ in 0..<capacity {
            let port = firstPort + 2 * nextIndex
            nextIndex = (nextIndex + 1) % capacity
            if inUse.insert(port).inserted { return port }
        }
        return nil
    }

    mutating func release(_ port: Int) {
        inUse.remove(port)
    }
}
