using KvCluster.Pbm;

namespace KvCluster.Tests.Cmd;

public sealed class CommandLineParserTests
{
    private static readonly CommandDefinition s_hierarchy = new("hierarchy", "tree", _ => Task.FromResult(CommandResult.Ok("x")))
    {
        Arguments = [new CommandArgument("first", "a"), new CommandArgument("second", "b", IsRequired: false)],
        Options =
        [
            new CommandOption("depth", "d") { Alias = 'd', ValueName = "depth" },
            new CommandOption("verbose", "v") { Alias = 'v' },
        ],
    };

    [Fact]
    public void Tokenize_QuotedWords_KeepsSpacesAndEscapes()
    {
        var words = CommandLineParser.Tokenize("  actor hierarchy -s \"/user/a b\" 'x y' \"q\\\"t\"  ", out var problem);

        Assert.Null(problem);
        Assert.Equal(["actor", "hierarchy", "-s", "/user/a b", "x y", "q\"t"], words);
    }

    [Fact]
    public void Tokenize_UnclosedQuote_NamesTheProblem()
    {
        var words = CommandLineParser.Tokenize("cluster down \"kv://a@b:1", out var problem);

        Assert.Null(words);
        Assert.Contains("never closed", problem);
    }

    [Fact]
    public void Bind_PositionalsAndOptions_AllForms_Bound()
    {
        var args = CommandLineParser.Bind(s_hierarchy, ["one", "-d", "3", "two", "-v"], out var help, out var problem);

        Assert.Null(problem);
        Assert.False(help);
        Assert.Equal("one", args!.Get("first"));
        Assert.Equal("two", args.Get("second"));
        Assert.Equal("3", args.Get("depth"));
        Assert.True(args.Has("verbose"));

        var inline = CommandLineParser.Bind(s_hierarchy, ["one", "--depth=7"], out _, out _);
        Assert.Equal("7", inline!.Get("depth"));
        Assert.Null(inline.Get("second"));
    }

    [Theory]
    [InlineData("missing argument <first>")]
    [InlineData("unknown option '-x'", "a", "-x")]
    [InlineData("option -d needs a value <depth>", "a", "-d")]
    [InlineData("option --depth is given twice", "a", "-d", "1", "--depth", "2")]
    [InlineData("option --verbose takes no value", "a", "--verbose=yes")]
    [InlineData("unexpected argument 'c'", "a", "b", "c")]
    public void Bind_BadArguments_NamesTheProblem(string expected, params string[] words)
    {
        var args = CommandLineParser.Bind(s_hierarchy, words, out _, out var problem);

        Assert.Null(args);
        Assert.Equal(expected, problem);
    }

    [Fact]
    public void Bind_HelpFlag_RequestedEvenWithoutRequiredArguments()
    {
        var args = CommandLineParser.Bind(s_hierarchy, ["--help"], out var help, out var problem);

        Assert.True(help);
        Assert.NotNull(args);
        Assert.Null(problem);
    }

    [Fact]
    public void Usage_ArgumentsAndOptions_RenderedInOrder()
    {
        var palette = new TestPalette("actor", s_hierarchy);

        Assert.Equal("actor hierarchy <first> [<second>] [-d <depth>] [-v]", CommandLineParser.Usage(palette, s_hierarchy));
    }
}

/// <summary>A palette made of the given commands.</summary>
internal sealed class TestPalette(string name, params CommandDefinition[] commands) : ICommandPalette
{
    public string Name => name;

    public string Description => $"test palette {name}";

    public IReadOnlyList<CommandDefinition> Commands => commands;
}
