import Testing
import ChorusGGUF

@Test func blockGeometryMatchesGGML() {
    #expect(GGMLType.q4_0.bytesPerBlock == 18)
}
