/// Draws simulated timelines as SVG: one row per rank (a compute lane, plus a communication lane when overlap
/// is on), forward blue, backward red, weight gradient purple, pipeline transfers green, EP all-to-all yellow,
/// micro-batch numbers in the blocks, a time axis and a legend. Several timelines stack on one time scale.
public struct TimelineSVG: Sendable {
    /// Width of the plotting area in pixels (the longest makespan fills it); nil picks one so the shortest
    /// compute block is about 12 px wide, between 1200 and 3000 px.
    public var plotWidth: Double?

    /// Creates a renderer.
    public init(plotWidth: Double? = nil) {
        self.plotWidth = plotWidth
    }

    private let left = 64.0, right = 24.0, computeHeight = 22.0, commHeight = 14.0, rankGap = 6.0
    private let titleHeight = 26.0, axisHeight = 30.0, panelGap = 18.0, legendHeight = 44.0

    /// The SVG document.
    public func render(_ timelines: [Timeline]) -> String {
        let longest = max(timelines.map(\.makespan).max() ?? 1, 1e-9)
        let shortest = timelines.flatMap { $0.programs.joined() }
            .filter { $0.action.op.isCompute && $0.end > $0.start }.map { $0.end - $0.start }.min() ?? longest
        let plotWidth = self.plotWidth ?? min(3000, max(1200, (longest * 12 / shortest).rounded()))
        let scale = plotWidth / longest
        let width = left + plotWidth + right
        var body: [String] = []
        var y = 8.0
        for timeline in timelines {
            y = panel(timeline, top: y, scale: scale, into: &body) + panelGap
        }
        body += legend(top: y)
        let height = y + legendHeight
        return """
        <?xml version="1.0" encoding="UTF-8"?>
        <svg xmlns="http://www.w3.org/2000/svg" width="\(fmt(width))" height="\(fmt(height))" viewBox="0 0 \(fmt(width)) \(fmt(height))" font-family="Helvetica, Arial, sans-serif">
        <rect x="0" y="0" width="\(fmt(width))" height="\(fmt(height))" fill="#ffffff"/>
        \(body.joined(separator: "\n"))
        </svg>

        """
    }

    /// Draws one timeline starting at `top`; returns the y below it.
    private func panel(_ t: Timeline, top: Double, scale: Double, into out: inout [String]) -> Double {
        let s = t.schedule
        let report = SimulationReport(t)
        let chunks = s.layout.chunksPerRank > 1 ? ", \(s.layout.chunksPerRank) chunks/rank" : ""
        let title = "\(s.kind.rawValue)\(s.paired ? " (paired F&B)" : ""): P=\(s.ranks), M=\(s.microbatches)\(chunks), overlap \(t.overlap ? "on" : "off"), "
            + "costs \(t.costs) | makespan \(formatNumber(t.makespan, decimals: 2)), bubble \(formatNumber(report.bubbleFraction * 100, decimals: 1))%, "
            + "exposed comm \(formatNumber(report.exposedComm, decimals: 2))"
        out.append("<text x=\"\(fmt(left))\" y=\"\(fmt(top + 16))\" font-size=\"13\" font-weight=\"bold\" fill=\"#222\">\(escape(title))</text>")
        let rowHeight = computeHeight + (t.overlap ? commHeight + 2 : 0)
        let rowsTop = top + titleHeight
        let rowsBottom = rowsTop + Double(s.ranks) * (rowHeight + rankGap) - rankGap
        let ticks = tickStep(t.makespan)
        var tick = 0.0
        while tick <= t.makespan + 1e-9 {
            let x = left + tick * scale
            out.append("<line x1=\"\(fmt(x))\" y1=\"\(fmt(rowsTop - 2))\" x2=\"\(fmt(x))\" y2=\"\(fmt(rowsBottom + 4))\" stroke=\"#e4e4e4\" stroke-width=\"1\"/>")
            out.append("<text x=\"\(fmt(x))\" y=\"\(fmt(rowsBottom + 16))\" font-size=\"10\" text-anchor=\"middle\" fill=\"#555\">\(formatNumber(tick, decimals: 2))</text>")
            tick += ticks
        }
        out.append("<line x1=\"\(fmt(left))\" y1=\"\(fmt(rowsBottom + 4))\" x2=\"\(fmt(left + t.makespan * scale))\" y2=\"\(fmt(rowsBottom + 4))\" stroke=\"#888\" stroke-width=\"1\"/>")
        out.append("<text x=\"\(fmt(left + t.makespan * scale))\" y=\"\(fmt(rowsBottom + 28))\" font-size=\"10\" text-anchor=\"end\" fill=\"#555\">time</text>")
        for (r, program) in t.programs.enumerated() {
            let rowTop = rowsTop + Double(r) * (rowHeight + rankGap)
            out.append("<text x=\"\(fmt(left - 8))\" y=\"\(fmt(rowTop + computeHeight / 2 + 4))\" font-size=\"11\" text-anchor=\"end\" fill=\"#222\">rank \(r)</text>")
            if t.overlap {
                out.append("<text x=\"\(fmt(left - 8))\" y=\"\(fmt(rowTop + computeHeight + 2 + commHeight / 2 + 3))\" font-size=\"8\" text-anchor=\"end\" fill=\"#777\">comm</text>")
            }
            out.append("<rect x=\"\(fmt(left))\" y=\"\(fmt(rowTop))\" width=\"\(fmt(t.makespan * scale))\" height=\"\(fmt(rowHeight))\" fill=\"#f6f6f6\"/>")
            for item in program {
                // Compute fills its lane; communication blocking compute (overlap off) is drawn a little slimmer;
                // on the communication lane, sends and all-to-alls sit on top and incoming transfers (posted-ahead
                // recvs, which may run beside them) in a thin strip along the bottom.
                let onCommLane = item.lane == .communication
                let incoming = onCommLane && item.action.op.isReceive
                let h: Double, yy: Double
                if incoming {
                    (h, yy) = (3, rowTop + computeHeight + 2 + commHeight - 3)
                } else if onCommLane {
                    (h, yy) = (commHeight - 4, rowTop + computeHeight + 2)
                } else if item.action.op.isCompute {
                    (h, yy) = (computeHeight, rowTop)
                } else {
                    (h, yy) = (computeHeight * 0.7, rowTop + computeHeight * 0.15)
                }
                let x0 = left + item.activeStart * scale
                let w = max(0, (item.end - item.activeStart) * scale)
                let chunk = s.localChunk(microbatch: item.action.microbatch, stage: item.action.stage)
                let (fill, ink) = colour(item.action.op, chunk: chunk)
                let tip = "rank \(r): \(item.action.op.name) micro-batch \(item.action.microbatch) stage \(item.action.stage) [\(formatNumber(item.activeStart, decimals: 3))–\(formatNumber(item.end, decimals: 3))]"
                out.append("<rect class=\"action\" data-rank=\"\(r)\" data-op=\"\(escape(item.action.op.name))\" data-mb=\"\(item.action.microbatch)\" data-stage=\"\(item.action.stage)\" x=\"\(fmt(x0))\" y=\"\(fmt(yy))\" width=\"\(fmt(w))\" height=\"\(fmt(h))\" fill=\"\(fill)\" stroke=\"#ffffff\" stroke-width=\"0.5\"><title>\(escape(tip))</title></rect>")
                let label = String(item.action.microbatch)
                let fontSize = h >= 18 ? 10.0 : 8.0
                if h >= 8, w >= Double(label.count) * fontSize * 0.62 + 2 {
                    out.append("<text x=\"\(fmt(x0 + w / 2))\" y=\"\(fmt(yy + h / 2 + fontSize * 0.35))\" font-size=\"\(fmt(fontSize))\" text-anchor=\"middle\" fill=\"\(ink)\" pointer-events=\"none\">\(label)</text>")
                }
            }
        }
        return rowsBottom + axisHeight
    }

    private func legend(top: Double) -> [String] {
        let items: [(String, String)] = [
            (Palette.forward[0], "forward (F)"),
            (Palette.backward[0], "backward: input grad (B), +weight grad when not split"),
            (Palette.weight[0], "weight grad (W)"),
            (Palette.pipeline, "PP send/recv"),
            (Palette.expert, "EP dispatch/combine"),
            (Palette.forward[1], "lighter: second model chunk / reverse direction"),
        ]
        var out: [String] = []
        var x = left
        for (fill, text) in items {
            out.append("<rect x=\"\(fmt(x))\" y=\"\(fmt(top))\" width=\"14\" height=\"14\" fill=\"\(fill)\"/>")
            out.append("<text x=\"\(fmt(x + 19))\" y=\"\(fmt(top + 11))\" font-size=\"11\" fill=\"#222\">\(escape(text))</text>")
            x += 19 + Double(text.count) * 6.0 + 18
        }
        out.append("<text x=\"\(fmt(left))\" y=\"\(fmt(top + 32))\" font-size=\"10\" fill=\"#666\">numbers are micro-batches; with overlap on, each rank has a comm lane under its compute lane (thin strip: incoming transfers)</text>")
        return out
    }

    private func colour(_ op: Op, chunk: Int) -> (fill: String, ink: String) {
        let light = chunk % 2 == 1
        switch op {
        case .forward: return (Palette.forward[light ? 1 : 0], light ? "#1a2a4a" : "#ffffff")
        case .backward: return (Palette.backward[light ? 1 : 0], light ? "#4a1a1a" : "#ffffff")
        case .weight: return (Palette.weight[light ? 1 : 0], light ? "#2e1a4a" : "#ffffff")
        case .send, .recv: return (Palette.pipeline, "#ffffff")
        case .dispatch, .combine: return (Palette.expert, "#3a3000")
        }
    }

    private enum Palette {
        static let forward = ["#3567d6", "#8fb0f0"]
        static let backward = ["#d7443c", "#f0a09a"]
        static let weight = ["#8354c4", "#c0a4e6"]
        static let pipeline = "#2f9e58"
        static let expert = "#f2c12e"
    }

    private func tickStep(_ span: Double) -> Double {
        guard span > 0 else { return 1 }
        var step = 1.0
        while span / step > 25 { step *= 10 }
        while span / step < 2.5 { step /= 10 }
        for k in [1.0, 2, 5, 10] where span / (step * k) <= 25 { return step * k }
        return step * 10
    }

    private func fmt(_ x: Double) -> String { formatNumber(x, decimals: 2) }

    private func escape(_ s: String) -> String {
        var out = ""
        for c in s {
            switch c {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            default: out.append(c)
            }
        }
        return out
    }
}
