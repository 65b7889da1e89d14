import Chorus
@testable import ChorusServer
import Testing

@Suite struct StopMatcherTests {
    /// Feeds pieces; returns everything emitted and whether it stopped.
    func run(_ stops: [String], _ pieces: [String]) -> (String, Bool) {
        var matcher = StopMatcher(stops: stops)
        var out = ""
        for piece in pieces {
            let (text, stopped) = matcher.feed(piece)
            out += text
            if stopped { return (out, true) }
        }
        return (out + matcher.flush(), false)
    }

    @Test func cutsBeforeAStopStringSplitAcrossPieces() {
        #expect(run(["END"], ["one two E", "N", "D three"]) == ("one two ", true))
        #expect(run(["\n\n"], ["a\n", "\nb"]) == ("a", true))
    }

    @Test func earliestOfSeveralStopsWins() {
        #expect(run(["cat", "dog"], ["the dog and the cat"]) == ("the ", true))
    }

    @Test func holdsBackOnlyPossiblePrefixes() {
        var matcher = StopMatcher(stops: ["STOP"])
        #expect(matcher.feed("abc ST") == ("abc ", false))
        #expect(matcher.feed("x") == ("STx", false))
        #expect(matcher.flush() == "")
    }

    @Test func noStopsPassesEverythingAndFlushesTheTail() {
        #expect(run([], ["a", "b"]) == ("ab", false))
        #expect(run(["xyz"], ["abx", "y"]) == ("abxy", false))
    }
}

@Suite struct JSONTests {
    @Test func escapesAndKeepsKeyOrder() {
        let json = JSON.object([("b", .string("q\"\\\n\u{01}é")), ("a", .array([.null, .bool(true), .int(-3), .number(0.5)]))])
        #expect(json.serialized == #"{"b":"q\"\\\n\u0001é","a":[null,true,-3,0.5]}"#)
    }
}
