import Testing

@testable import Media

@Suite struct PortAllocatorTests {
    @Test func handsOutEvenPortsRoundRobinAndReusesAReleasedPortLast() {
        var ports = PortAllocator(range: 10_001...10_007)
        #expect(ports.capacity == 3)
        #expect(ports.reserve() == 10_002)
        #expect(ports.reserve() == 10_004)
        ports.release(10_002)
        #expect(ports.reserve() == 10_006, "the port just given back waits for its turn")
        #expect(ports.reserve() == 10_002)
        #expect(ports.reserve() == nil, "all three are held")
        ports.release(10_004)
        #expect(ports.reserve() == 10_004)
    }

    @Test func aRangeWithoutAnEvenPortHasNone() {
        var ports = PortAllocator(range: 10_001...10_001)
        #expect(ports.capacity == 0)
        #expect(ports.reserve() == nil)
    }
}
