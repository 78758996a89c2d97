using System.Text.Json;
using Akka.Actor;
using Akka.TestKit.Xunit2;
using KvCluster.Pbm;

namespace KvCluster.Tests.Cmd;

/// <summary>The command host's dispatching, in-process (no sockets): help, usage errors, custom palettes, JSON.</summary>
public sealed class CommandDispatcherTests : TestKit, IAsyncLifetime
{
    private readonly CommandHost _host;

    public CommandDispatcherTests()
        : base(PbmTestConfig.Local, "cmdtest")
    {
        _host = new CommandHost(Sys, new CommandHostSettings { Port = 0 }).RegisterDefaultPalettes();
    }

    public Task InitializeAsync() => Task.CompletedTask;

    async Task IAsyncLifetime.DisposeAsync() => await _host.DisposeAsync();

    [Theory]
    [InlineData("frobnicate", "unknown command 'frobnicate'", "usage: <palette> <command> [arguments]")]
    [InlineData("cluster", "missing the cluster command", "usage: cluster <show|status|leader|join|leave|down|down-unreachable> [arguments]")]
    [InlineData("cluster shwo", "unknown cluster command 'shwo'", "usage: cluster <show|")]
    [InlineData("cluster down", "missing argument <address>", "usage: cluster down <address>")]
    [InlineData("cluster down a b", "unexpected argument 'b'", "usage: cluster down <address>")]
    [InlineData("actor hierarchy -d", "option -d needs a value <depth>", "usage: actor hierarchy [-d <depth>] [-s <path>]")]
    [InlineData("actor hierarchy -d two", "-d must be a whole number", "usage: actor hierarchy [-d <depth>] [-s <path>]")]
    [InlineData("actor hierarchy -s user", "must start with '/'", "usage: actor hierarchy")]
    [InlineData("actor hierarchy -s /user/*", "is not one actor's path", "usage: actor hierarchy")]
    [InlineData("", "no command given", "usage: <palette> <command> [arguments]")]
    [InlineData("cluster down \"x", "never closed", "usage: help")]
    [InlineData("--output xml cluster show", "--output must be 'text' or 'json'", "usage: [--output text|json]")]
    public async Task Execute_BadCommandLine_UsageWithProblemThenUsageLine(string line, string problem, string usage)
    {
        var response = await _host.ExecuteAsync(line);

        Assert.Equal(CommandStatus.Usage, response.Status);
        var lines = response.Body.Split('\n');
        Assert.Equal(2, lines.Length);
        Assert.Contains(problem, lines[0]);
        Assert.StartsWith(usage, lines[1]);
        Assert.DoesNotContain("   at ", response.Body);
    }

    [Fact]
    public async Task Execute_Help_ListsEveryPaletteAndCommand()
    {
        var response = await _host.ExecuteAsync("help");

        Assert.Equal(CommandStatus.Ok, response.Status);
        foreach (var usage in new[] { "cluster show", "cluster status", "cluster leader", "cluster join <address>", "cluster leave [<address>]", "cluster down <address>", "cluster down-unreachable", "actor system", "actor hierarchy [-d <depth>] [-s <path>]" })
        {
            Assert.Contains(usage, response.Body);
        }
    }

    [Fact]
    public async Task Execute_CommandHelpFlag_OkWithDetailedUsage()
    {
        var response = await _host.ExecuteAsync("actor hierarchy --help");

        Assert.Equal(CommandStatus.Ok, response.Status);
        Assert.StartsWith("usage: actor hierarchy [-d <depth>] [-s <path>]", response.Body);
        Assert.Contains("-d, --depth <depth>", response.Body);
    }

    [Fact]
    public async Task Execute_ClusterCommandOnSystemWithoutMembership_FailedNamingIt()
    {
        var response = await _host.ExecuteAsync("cluster show");

        Assert.Equal(CommandStatus.Failed, response.Status);
        Assert.Equal("actor system 'cmdtest' runs no cluster membership", response.Body);
    }

    [Fact]
    public async Task Execute_ActorHierarchy_ListsUserActorsWithTheirClassesAndDepthLimit()
    {
        var parent = Sys.ActorOf(Props.Create(() => new ParentActor()), "parent");
        await parent.Ask<string>("ready", TimeSpan.FromSeconds(10));

        var full = await _host.ExecuteAsync("actor hierarchy -s /user");
        var shallow = await _host.ExecuteAsync("actor hierarchy -s /user -d 1");

        Assert.Equal(CommandStatus.Ok, full.Status);
        Assert.Equal("/user [GuardianActor]\n  /user/parent [ParentActor]\n    /user/parent/child [ChildActor]\n3 actors", full.Body);
        Assert.Equal("/user [GuardianActor]\n  /user/parent [ParentActor]\n2 actors", shallow.Body);
    }

    [Fact]
    public async Task Execute_ActorHierarchyFromRoot_ListsTheGuardians()
    {
        var response = await _host.ExecuteAsync("actor hierarchy -d 1");

        Assert.Equal(CommandStatus.Ok, response.Status);
        var lines = response.Body.Split('\n');
        Assert.StartsWith("/ [", lines[0]);
        Assert.Contains("  /system [SystemGuardianActor]", lines);
        Assert.Contains("  /user [GuardianActor]", lines);
    }

    [Fact]
    public async Task Execute_ActorSystemAfterDeadLetters_CountsThem()
    {
        var gone = Sys.ActorOf(Props.Create(() => new EchoActor()), "gone");
        Watch(gone);
        Sys.Stop(gone);
        ExpectTerminated(gone);

        gone.Tell("lost");
        gone.Tell("lost again");

        await AwaitAssertAsync(async () =>
        {
            var response = await _host.ExecuteAsync("--output json actor system");
            using var doc = JsonDocument.Parse(response.Body);
            Assert.True(doc.RootElement.GetProperty("data").GetProperty("deadLetters").GetInt64() >= 2);
        });
    }

    [Fact]
    public async Task Execute_ActorHierarchyUnknownPath_Failed()
    {
        var response = await _host.ExecuteAsync("actor hierarchy -s /user/nobody");

        Assert.Equal(CommandStatus.Failed, response.Status);
        Assert.StartsWith("no actor at /user/nobody in cmdtest", response.Body);
    }

    [Fact]
    public async Task Execute_ActorSystem_ShowsNameAndUptime()
    {
        var response = await _host.ExecuteAsync("actor system");

        Assert.Equal(CommandStatus.Ok, response.Status);
        Assert.StartsWith("name: cmdtest\naddress: akka://cmdtest\n", response.Body);
        Assert.Contains("\nuptime: ", response.Body);
        Assert.Contains("\ndead letters: ", response.Body);
    }

    [Fact]
    public async Task Execute_JsonOutput_OneObjectWithStatusOutputAndData()
    {
        var response = await _host.ExecuteAsync("--output json actor hierarchy -s /user -d 0");

        using var doc = JsonDocument.Parse(response.Body);
        Assert.Equal("ok", doc.RootElement.GetProperty("status").GetString());
        Assert.Equal("--output json actor hierarchy -s /user -d 0", doc.RootElement.GetProperty("command").GetString());
        Assert.Equal("/user [GuardianActor]\n1 actor", doc.RootElement.GetProperty("output").GetString());
        var actors = doc.RootElement.GetProperty("data").GetProperty("actors");
        Assert.Equal("/user", Assert.Single(actors.EnumerateArray()).GetProperty("path").GetString());
    }

    [Fact]
    public async Task Execute_JsonUsageError_StatusUsage()
    {
        var response = await _host.ExecuteAsync("--output json cluster nope");

        Assert.Equal(CommandStatus.Usage, response.Status);
        using var doc = JsonDocument.Parse(response.Body);
        Assert.Equal("usage", doc.RootElement.GetProperty("status").GetString());
        Assert.Equal(JsonValueKind.Null, doc.RootElement.GetProperty("data").ValueKind);
    }

    [Fact]
    public async Task Register_CustomPaletteWithAsyncHandlerAskingAnActor_AnswersThroughTheHost()
    {
        var echo = Sys.ActorOf(Props.Create(() => new EchoActor()), "echo");
        var palette = new TestPalette("raft", new CommandDefinition("status", "asks an actor", async ctx =>
        {
            var answer = await echo.Ask<string>(ctx.Arguments.Get("word") ?? "none", ctx.Timeout, ctx.CancellationToken);
            return CommandResult.Ok($"echo: {answer}");
        })
        {
            Arguments = [new CommandArgument("word", "what to echo", IsRequired: false)],
        });

        _host.Register(palette);
        var response = await _host.ExecuteAsync("raft status hello");

        Assert.Equal(new CommandResponse(CommandStatus.Ok, "echo: hello"), response);
        Assert.Contains(_host.Palettes, p => p.Name == "raft");
    }

    [Fact]
    public async Task Execute_HandlerThrows_FailedWithMessageOnlyAndHostKeepsServing()
    {
        _host.Register(new TestPalette("boom", new CommandDefinition("now", "throws", _ => throw new InvalidOperationException("the raft actor is gone"))));

        var response = await _host.ExecuteAsync("boom now");
        var after = await _host.ExecuteAsync("help");

        Assert.Equal(new CommandResponse(CommandStatus.Failed, "boom now failed: the raft actor is gone"), response);
        Assert.Equal(CommandStatus.Ok, after.Status);
    }

    [Theory]
    [InlineData("help")]
    [InlineData("Cluster")]
    [InlineData("cluster")]
    [InlineData("")]
    [InlineData("9lives")]
    public void Register_InvalidOrTakenPaletteName_Throws(string name)
    {
        var ex = Assert.Throws<ArgumentException>(() => _host.Register(new TestPalette(name)));

        Assert.Contains($"'{name}'", ex.Message);
    }

    [Fact]
    public void Register_RequiredArgumentAfterOptional_Throws()
    {
        var bad = new CommandDefinition("x", "x", _ => Task.FromResult(CommandResult.Ok(string.Empty)))
        {
            Arguments = [new CommandArgument("a", "a", IsRequired: false), new CommandArgument("b", "b")],
        };

        var ex = Assert.Throws<ArgumentException>(() => _host.Register(new TestPalette("bad", bad)));

        Assert.Contains("required argument <b> follows an optional one", ex.Message);
    }

    private sealed class EchoActor : ReceiveActor
    {
        public EchoActor()
        {
            Receive<string>(s => Sender.Tell(s, Self));
        }
    }

    private sealed class ChildActor : ReceiveActor
    {
    }

    private sealed class ParentActor : ReceiveActor
    {
        public ParentActor()
        {
            Context.ActorOf(Props.Create(() => new ChildActor()), "child");
            Receive<string>(_ => Sender.Tell("ready", Self));
        }
    }
}
