import ArgumentParser
import Chorus

/// The `chorus` command line: one subcommand per file in this folder.
@main
struct ChorusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "chorus",
        abstract: "Run large language models fast on the machines people already own.",
        version: ChorusVersion.string,
        subcommands: [
            GenerateCommand.self,
            ChatCommand.self,
            TokenizeCommand.self,
            DetokenizeCommand.self,
            PerplexityCommand.self,
            BenchCommand.self,
            UnitsCommand.self,
            TuneCommand.self,
            InspectCommand.self,
            PipelineCommand.self,
            PullCommand.self,
            ModelsCommand.self,
            ServeCommand.self,
        ])
}
