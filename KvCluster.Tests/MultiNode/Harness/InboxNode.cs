using System.Threading.Channels;
using Akka.Actor;
using Akka.Remote;
using KvCluster.Testing.MultiNode;

namespace KvCluster.Tests.MultiNode.Harness;

/// <summary>
/// The smallest node for the harness's own specs: an Akka actor system on the spec's port (remoting through the
/// throttler, messages serialized) with an <c>inbox</c> actor that records every text message it receives. Each start
/// appends its incarnation to <c>starts.txt</c> in the data directory, so a spec can see that a restart found the same
/// directory.
/// </summary>
internal sealed class InboxNode : IMultiNodeHandle
{
    public const string InboxName = "inbox";

    private readonly Channel<string> _received = Channel.CreateUnbounded<string>();

    private InboxNode(RoleName role, ActorSystem system, IReadOnlyDictionary<string, string> config)
    {
        Role = role;
        System = system;
        Config = config;
        System.ActorOf(Props.Create(() => new InboxActor(_received.Writer)), InboxName);
    }

    public RoleName Role { get; }

    /// <summary>The configuration the harness started this node with.</summary>
    public IReadOnlyDictionary<string, string> Config { get; }

    public ActorSystem System { get; }

    public Address Address => MultiNodeSystems.AddressOf(System);

    /// <summary>The incarnation's unique id (Akka.Remote's address uid), new on every start.</summary>
    public int Uid => AddressUidExtension.Uid(System);

    public static async Task<InboxNode> StartAsync(NodeStartInfo info, CancellationToken cancellationToken)
    {
        var system = await MultiNodeSystems.CreateSystemAsync(info, cancellationToken: cancellationToken);
        await File.AppendAllTextAsync(Path.Combine(info.DataDirectory, "starts.txt"), $"{info.Incarnation}\n", cancellationToken);
        return new InboxNode(info.Role, system, info.Config);
    }

    /// <summary>Sends <paramref name="text"/> from this node to the inbox at <paramref name="to"/> over TCP.</summary>
    public void Send(Address to, string text) =>
        System.ActorSelection(new RootActorPath(to) / "user" / InboxName).Tell(text, ActorRefs.NoSender);

    /// <summary>The next message this node's inbox received, or null when none arrives within <paramref name="wait"/>.</summary>
    public async Task<string?> ReceiveAsync(TimeSpan wait)
    {
        using var timeout = new CancellationTokenSource(wait);
        try
        {
            return await _received.Reader.ReadAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            return null;
        }
    }

    /// <summary>Every message received and not read yet.</summary>
    public List<string> Drain()
    {
        var all = new List<string>();
        while (_received.Reader.TryRead(out var text))
        {
            all.Add(text);
        }

        return all;
    }

    public Task CrashAsync() => MultiNodeSystems.CrashAsync(System);

    public Task StopAsync() => MultiNodeSystems.StopAsync(System);

    private sealed class InboxActor : ReceiveActor
    {
        public InboxActor(ChannelWriter<string> output)
        {
            Receive<string>(s => output.TryWrite(s));
        }
    }
}

/// <summary>Starts <see cref="InboxNode"/>s.</summary>
internal sealed class InboxNodeFactory : IMultiNodeFactory<InboxNode>
{
    public Task<InboxNode> StartAsync(NodeStartInfo info, CancellationToken cancellationToken) => InboxNode.StartAsync(info, cancellationToken);
}
