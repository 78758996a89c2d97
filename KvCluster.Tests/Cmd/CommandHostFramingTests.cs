using System.Buffers.Binary;
using System.Text;
using Akka.Actor;
using KvCluster.Pbm;

namespace KvCluster.Tests.Cmd;

/// <summary>The pbm wire protocol over real loopback TCP: framing, bad input, limits.</summary>
[Trait("Category", "Integration")]
public sealed class CommandHostFramingTests : IAsyncLifetime
{
    private readonly ActorSystem _system = ActorSystem.Create("framing", PbmTestConfig.Local);
    private CommandHost _host = null!;

    public async Task InitializeAsync()
    {
        _host = new CommandHost(_system, new CommandHostSettings { Port = 0, MaxRequestBytes = 1024, MaxConnections = 3 }).RegisterDefaultPalettes();
        await _host.StartAsync();
    }

    public async Task DisposeAsync()
    {
        await _host.DisposeAsync();
        await _system.Terminate();
    }

    [Fact]
    public async Task Connection_SeveralRequests_AnsweredInOrderOnOneConnection()
    {
        await using var client = await CmdTestClient.ConnectAsync(_host);

        var first = await client.AskAsync("actor hierarchy -s /user -d 0");
        var second = await client.AskAsync("cluster nope");
        var third = await client.AskAsync("help");

        Assert.Equal(("ok", "/user [GuardianActor]\n1 actor"), first);
        Assert.Equal("usage", second.Status);
        Assert.Equal("ok", third.Status);
        Assert.Equal(3, _host.RequestsServed);
    }

    [Fact]
    public async Task OversizedFrame_AnsweredFailedAndClosed_OtherConnectionKeepsBeingServed()
    {
        await using var bystander = await CmdTestClient.ConnectAsync(_host);
        await using var offender = await CmdTestClient.ConnectAsync(_host);
        var header = new byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(header, 2_000_000_000);

        await offender.WriteRawAsync(header);
        var answer = await offender.ReadResponseAsync();

        Assert.Equal("failed", answer.Status);
        Assert.Equal("request frame of 2000000000 bytes exceeds the maximum of 1024 bytes; closing the connection", answer.Body);
        Assert.True(await offender.IsClosedByHostAsync());
        Assert.Equal(1, _host.MalformedFrames);
        Assert.Equal("ok", (await bystander.AskAsync("help")).Status);
        await using var newcomer = await CmdTestClient.ConnectAsync(_host);
        Assert.Equal("ok", (await newcomer.AskAsync("help")).Status);
    }

    [Fact]
    public async Task InvalidUtf8_AnsweredFailedAndClosed_OtherConnectionKeepsBeingServed()
    {
        await using var bystander = await CmdTestClient.ConnectAsync(_host);
        await using var offender = await CmdTestClient.ConnectAsync(_host);

        var answer = await offender.SendFrameAsync([0x63, 0x6c, 0xff, 0xfe, 0x80]);

        Assert.Equal(("failed", "request frame is not valid UTF-8 (byte offset 2); closing the connection"), answer);
        Assert.True(await offender.IsClosedByHostAsync());
        Assert.Equal(1, _host.MalformedFrames);
        Assert.Equal("ok", (await bystander.AskAsync("actor system")).Status);
    }

    [Fact]
    public async Task TruncatedFrame_PeerHangsUpMidFrame_CountedAndHostKeepsServing()
    {
        var offender = await CmdTestClient.ConnectAsync(_host);
        var header = new byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(header, 100);
        await offender.WriteRawAsync([.. header, .. Encoding.UTF8.GetBytes("clus")]);

        await offender.DisposeAsync();

        await using var next = await CmdTestClient.ConnectAsync(_host);
        Assert.Equal("ok", (await next.AskAsync("help")).Status);
        await AwaitAsync(() => _host.MalformedFrames == 1);
    }

    [Fact]
    public async Task EmptyFrame_UsageErrorAndConnectionStaysOpen()
    {
        await using var client = await CmdTestClient.ConnectAsync(_host);

        var answer = await client.SendFrameAsync([]);
        var after = await client.AskAsync("help");

        Assert.Equal("usage", answer.Status);
        Assert.StartsWith("no command given", answer.Body);
        Assert.Equal("ok", after.Status);
    }

    [Fact]
    public async Task MaxConnections_OneTooMany_RefusedWithFailedWhileOthersServed()
    {
        var clients = new List<CmdTestClient>();
        for (var i = 0; i < 3; i++)
        {
            var c = await CmdTestClient.ConnectAsync(_host);
            Assert.Equal("ok", (await c.AskAsync("help")).Status);
            clients.Add(c);
        }

        await using var extra = await CmdTestClient.ConnectAsync(_host);
        var refusal = await extra.ReadResponseAsync();

        Assert.Equal(("failed", "the command host serves at most 3 connections at once; try again later"), refusal);
        Assert.True(await extra.IsClosedByHostAsync());
        Assert.Equal("ok", (await clients[0].AskAsync("help")).Status);
        foreach (var c in clients)
        {
            await c.DisposeAsync();
        }
    }

    [Fact]
    public async Task Start_PortTaken_IOExceptionNamingTheAddress()
    {
        await using var second = new CommandHost(_system, new CommandHostSettings { Port = _host.LocalEndPoint!.Port });

        var ex = await Assert.ThrowsAsync<IOException>(() => second.StartAsync());

        Assert.Contains($"127.0.0.1:{_host.LocalEndPoint.Port}", ex.Message);
    }

    [Theory]
    [InlineData("Host", "example.org")]
    [InlineData("Port", "70000")]
    [InlineData("MaxRequestBytes", "10")]
    [InlineData("MaxConnections", "0")]
    public async Task Start_InvalidSetting_ArgumentExceptionNamingIt(string setting, string value)
    {
        var settings = setting switch
        {
            "Host" => new CommandHostSettings { Host = value },
            "Port" => new CommandHostSettings { Port = int.Parse(value) },
            "MaxRequestBytes" => new CommandHostSettings { MaxRequestBytes = int.Parse(value) },
            _ => new CommandHostSettings { MaxConnections = int.Parse(value) },
        };
        await using var host = new CommandHost(_system, settings);

        var ex = await Assert.ThrowsAsync<ArgumentException>(() => host.StartAsync());

        Assert.StartsWith($"Command host setting {setting} is invalid", ex.Message);
    }

    private static async Task AwaitAsync(Func<bool> condition)
    {
        // Bounded wait for the host's connection task to record what happened; no fixed sleep.
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        while (!condition())
        {
            await Task.Yield();
            await Task.Delay(10, timeout.Token);
        }
    }
}

/// <summary>Command timeouts wait on real time.</summary>
[Trait("Category", "Integration")]
public sealed class CommandHostTimeoutTests
{
    [Fact]
    public async Task Execute_HandlerNeverFinishes_FailedAfterCommandTimeout()
    {
        var system = ActorSystem.Create("timeouts", PbmTestConfig.Local);
        await using var host = new CommandHost(system, new CommandHostSettings { Port = 0, CommandTimeout = TimeSpan.FromMilliseconds(200) });
        host.Register(new TestPalette("slow", new CommandDefinition("forever", "never answers", async ctx =>
        {
            await Task.Delay(Timeout.Infinite, CancellationToken.None);
            return CommandResult.Ok("unreachable");
        })));

        var response = await host.ExecuteAsync("slow forever");

        Assert.Equal(new CommandResponse(CommandStatus.Failed, "slow forever did not finish within 0.2 s"), response);
        await system.Terminate();
    }
}
