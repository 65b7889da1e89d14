import ArgumentParser

/// Number options: `@Option(help: "...", range: 0...4096) var n: Int = 128`.
///
/// swift-argument-parser reads a word like `-1` as an option name, so `-n -1` would say the value is
/// missing. A number option declared with `range:` takes the next word as its value whatever it looks like
/// (`parsing: .unconditional`), parses it, and refuses what lies outside the range, naming the range:
///
///     Error: The value '-1' is invalid for '-n <n>': out of range (allowed: 0 to 1048576)
///
/// Its help ends with its default, as swift-argument-parser's own would.
enum NumberArgument {
    struct Refusal: Error, CustomStringConvertible {
        let description: String
    }

    /// Most tokens any count option may ask for (the largest context).
    static let maxTokens = 1 << 20

    /// Parses a `T` and requires it to lie in `range`.
    static func parser<T: Number>(_ range: ClosedRange<T>) -> @Sendable (String) throws -> T {
        { text in
            let allowed = "allowed: \(range.lowerBound) to \(range.upperBound)"
            guard let value = T(text) else {
                let wholeOnly = T("0.5") == nil
                if wholeOnly, Double(text) != nil, text.allSatisfy({ $0.isASCII && ($0.isNumber || $0 == "-" || $0 == "+") }) {
                    throw Refusal(description: "out of range (\(allowed))")  // beyond the type: -1 for a seed
                }
                throw Refusal(description: "not a \(wholeOnly ? "whole number" : "number") (\(allowed))")
            }
            guard range.contains(value) else { throw Refusal(description: "out of range (\(allowed))") }
            return value
        }
    }

    static func help(_ help: ArgumentHelp?, default value: some Number) -> ArgumentHelp {
        var help = help ?? ArgumentHelp()
        help.abstract += help.abstract.isEmpty ? "(default: \(value))" : " (default: \(value))"
        return help
    }

    typealias Number = LosslessStringConvertible & Comparable & Sendable
}

extension Option {
    /// A number option with a default.
    init(wrappedValue: Value, name: NameSpecification = .long, help: ArgumentHelp? = nil, range: ClosedRange<Value>)
    where Value: NumberArgument.Number {
        self.init(wrappedValue: wrappedValue, name: name, parsing: .unconditional, help: NumberArgument.help(help, default: wrappedValue),
                  transform: NumberArgument.parser(range))
    }

    /// A number option without a default.
    init(name: NameSpecification = .long, help: ArgumentHelp? = nil, range: ClosedRange<Value>) where Value: NumberArgument.Number {
        self.init(name: name, parsing: .unconditional, help: help, transform: NumberArgument.parser(range))
    }

    /// An optional number option.
    init<T: NumberArgument.Number>(name: NameSpecification = .long, help: ArgumentHelp? = nil, range: ClosedRange<T>) where Value == T? {
        self.init(name: name, parsing: .unconditional, help: help, transform: NumberArgument.parser(range))
    }

    /// A repeatable number option.
    init<T: NumberArgument.Number>(wrappedValue: [T], name: NameSpecification = .long, help: ArgumentHelp? = nil, range: ClosedRange<T>)
    where Value == [T] {
        self.init(wrappedValue: wrappedValue, name: name, parsing: .unconditionalSingleValue, help: help,
                  transform: NumberArgument.parser(range))
    }
}
