import ChorusGGUF
import ChorusRuntime
import Foundation
import Testing

@Test func profileMeasuresEveryUnitTypeAndWidth() throws {
    let pool = ThreadPool(threads: 2)
    let profile = HardwareProfiler.profile(pool: pool, types: [.q4_1, .q4_K], widths: [1, 4], bandwidthBytes: 8 << 20,
                                           rows: 64, columns: 512)
    #expect(profile.units.map(\.id) == [0, 1])
    #expect(profile.units.allSatisfy { $0.readBandwidthAlone > 0 && $0.readBandwidthContended > 0 })
    #expect(profile.readBandwidthTotal > 0 && profile.synchronisationSeconds > 0)
    #expect(profile.matmul.map { "\($0.type)x\($0.width)" } == ["Q4_1x1", "Q4_1x4", "Q4_Kx1", "Q4_Kx4"])
    #expect(profile.matmul.allSatisfy { $0.seconds > 0 && $0.flopsPerSecond > 0 && $0.bytesPerSecond > 0 })
    // The profile is a value that round-trips through JSON (cached per machine by the planner).
    let data = try JSONEncoder().encode(profile)
    #expect(try JSONDecoder().decode(HardwareProfile.self, from: data).matmul.count == 4)
}
