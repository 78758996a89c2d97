using System.Diagnostics;
using System.Globalization;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using KvCluster.Actors;
using KvCluster.Actors.Remote.Actors;
using KvCluster.Actors.Remote.Serialization;
using KvCluster.Actors.Remote.Transport;

namespace KvCluster.Benchmarks.Remote;

/// <summary>
/// Two-process remoting benchmark. <c>--role server</c> starts an actor system with an echo and a
/// counting sink actor, plus a raw-socket echo server (the baseline), prints
/// <c>READY &lt;address&gt; &lt;raw-port&gt;</c> and serves until its stdin closes.
/// <c>--role client --server kv://... --raw-port N</c> measures, in one run: raw-socket ping-pong,
/// actor ping-pong (round trip through remote refs, reply via Sender), and one-way streaming
/// to the sink with a window of unacknowledged messages. Messages are ~100-byte protobufs.
/// </summary>
public sealed class RemotePingPongCommand : IBenchCommand
{
    internal const int PayloadBytes = 96;
    internal const int PingTypeId = 1000;
    internal const int AckTypeId = 1001;

    public string Name => "remote-pingpong";

    public string Description => "remote actor ping-pong + one-way streaming between two processes, with a raw-socket baseline (--role server|client)";

    internal static MessageSerializerRegistry NewRegistry()
    {
        var registry = new MessageSerializerRegistry();
        registry.Register<BytesValue>(PingTypeId);
        registry.Register<Int64Value>(AckTypeId);
        return registry;
    }

    internal static RemoteSettings Settings(string system, int port) => new()
    {
        SystemName = system,
        Host = "127.0.0.1",
        Port = port,
        OutboundQueueCapacity = 200_000,
    };

    public async Task<int> RunAsync(string[] args)
    {
        var options = ParseArgs(args);
        var role = options.GetValueOrDefault("role");
        return role switch
        {
            "server" => await RunServerAsync(options),
            "client" => await RemotePingPongClient.RunAsync(options),
            _ => Usage(),
        };
    }

    private static int Usage()
    {
        Console.Error.WriteLine("usage: remote-pingpong --role server [--port N]");
        Console.Error.WriteLine("       remote-pingpong --role client --server kv://server@127.0.0.1:PORT --raw-port N --transport kv://... [--pings N] [--messages N]");
        return 2;
    }

    internal static Dictionary<string, string> ParseArgs(string[] args)
    {
        var options = new Dictionary<string, string>(StringComparer.Ordinal);
        for (var i = 0; i + 1 < args.Length; i += 2)
        {
            options[args[i].TrimStart('-')] = args[i + 1];
        }

        return options;
    }

    private static async Task<int> RunServerAsync(Dictionary<string, string> options)
    {
        var port = int.Parse(options.GetValueOrDefault("port", "0"), CultureInfo.InvariantCulture);
        var system = await RemoteActorSystem.CreateAsync(Settings("server", port), registry: NewRegistry());
        system.ActorOf(Props.Create(() => new EchoActor()), "echo");
        system.ActorOf(Props.Create(() => new SinkActor()), "sink");
        using var raw = new RawEchoServer();
        var transportOnly = await TransportStream.StartAsync("server-transport");
        Console.WriteLine($"READY {RemoteExtension.Get(system).Address} {raw.Port} {transportOnly.Transport.LocalAddress}");
        Console.Out.Flush();

        // Serve until the driver closes our stdin (or kills us).
        await Task.Run(() => Console.In.ReadToEnd());
        Console.Error.WriteLine($"server counters: {RemoteExtension.Get(system).Counters}");
        Console.Error.WriteLine($"server process CPU time: {Process.GetCurrentProcess().TotalProcessorTime.TotalMilliseconds:N0} ms");
        await transportOnly.Transport.DisposeAsync();
        await RemoteActorSystem.TerminateAsync(system);
        return 0;
    }

    private sealed class EchoActor : ReceiveActor
    {
        public EchoActor()
        {
            ReceiveAny(m => Sender.Tell(m, Self));
        }
    }

    /// <summary>Counts messages; every <c>AckEvery</c> it tells the sender the running count.</summary>
    private sealed class SinkActor : ReceiveActor
    {
        private long _count;

        public SinkActor()
        {
            Receive<BytesValue>(_ =>
            {
                if (++_count % RemotePingPongClient.AckEvery == 0)
                {
                    Sender.Tell(new Int64Value { Value = _count }, Self);
                }
            });
        }
    }
}
