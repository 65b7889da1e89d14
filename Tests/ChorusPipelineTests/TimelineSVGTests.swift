import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import Testing
@testable import ChorusPipeline

/// Collects the `class="action"` rects and all text of an SVG, failing on malformed XML.
private final class SVGReader: NSObject, XMLParserDelegate {
    var actions: [[String: String]] = []
    var text = ""
    var root: String?

    func parser(_ parser: XMLParser, didStartElement name: String, namespaceURI: String?, qualifiedName: String?, attributes: [String: String] = [:]) {
        if root == nil { root = name }
        if name == "rect", attributes["class"] == "action" { actions.append(attributes) }
    }

    func parser(_ parser: XMLParser, foundCharacters string: String) { text += string + " " }
}

private func read(_ svg: String) -> SVGReader? {
    let parser = XMLParser(data: Data(svg.utf8))
    let reader = SVGReader()
    parser.delegate = reader
    return parser.parse() ? reader : nil
}

@Test(arguments: ScheduleKind.allCases, [false, true])
func svgIsWellFormedAndShowsEveryAction(kind: ScheduleKind, overlap: Bool) throws {
    let timeline = try simulateTimeline(ScheduleRequest(kind: kind, ranks: 4, microbatches: 8, pairForOverlap: overlap), costs: .standard, overlap: overlap)
    let svg = TimelineSVG().render([timeline])
    let reader = try #require(read(svg), "SVG must parse as XML")
    #expect(reader.root == "svg")
    #expect(reader.actions.count == timeline.schedule.actionCount)
    let drawn = Set(reader.actions.map { "\($0["data-rank"]!) \($0["data-op"]!) \($0["data-mb"]!) \($0["data-stage"]!)" })
    let expected = Set(timeline.schedule.actions.enumerated().flatMap { r, program in
        program.map { "\(r) \($0.op.name) \($0.microbatch) \($0.stage)" }
    })
    #expect(drawn == expected)
    // Everything that takes time is visible.
    let visible = reader.actions.filter { Double($0["width"]!)! > 0 }.count
    let timed = timeline.programs.joined().filter { $0.end - $0.activeStart > 1e-9 }.count
    #expect(visible == timed)
    // Colours: forward blue, backward red, W purple, PP green, EP yellow.
    let fills = Set(reader.actions.map { $0["fill"]! })
    #expect(fills.isSuperset(of: ["#3567d6", "#d7443c", "#2f9e58", "#f2c12e"]))
    if kind == .zeroBubbleH1 || kind == .dualPipe { #expect(fills.contains("#8354c4")) }
    for word in ["forward (F)", "weight grad (W)", "PP send/recv", "EP dispatch/combine", "rank 3", "time"] {
        #expect(reader.text.contains(word), "missing \(word)")
    }
}

@Test func svgStacksSeveralTimelinesOnOneScale() throws {
    let timelines = try [ScheduleKind.oneFOneB, .dualPipe].map {
        try simulateTimeline(ScheduleRequest(kind: $0, ranks: 2, microbatches: 4, pairForOverlap: true), costs: .standard, overlap: true)
    }
    let reader = try #require(read(TimelineSVG().render(timelines)))
    #expect(reader.actions.count == timelines.reduce(0) { $0 + $1.schedule.actionCount })
    #expect(reader.text.contains("1f1b") && reader.text.contains("dualpipe"))
}
