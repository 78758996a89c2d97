using System.Diagnostics;
using System.Globalization;
using Akka.Actor;
using Akka.Configuration;

namespace KvCluster.Benchmarks.Remote;

/// <summary>
/// Two-process Akka.Remote benchmark (DotNetty TCP on 127.0.0.1). <c>--role server</c> starts an actor system with
/// an echo actor and a counting sink actor, plus a raw-socket echo server (the baseline), prints
/// <c>READY &lt;address&gt; &lt;raw-port&gt;</c> and serves until its stdin closes.
/// <c>--role client --server akka.tcp://server@127.0.0.1:PORT --raw-port N</c> measures, in one run: raw-socket
/// ping-pong, actor ping-pong (round trip through remote refs, reply via Sender), Ask from concurrent callers, and
/// one-way streaming to the sink with a window of unacknowledged messages. Messages carry <see cref="PayloadBytes"/>
/// bytes through <see cref="BenchMessageSerializer"/> (or Akka's default JSON serializer with <c>--serializer json</c>).
/// </summary>
public sealed class RemotePingPongCommand : IBenchCommand
{
    internal const int PayloadBytes = 96;

    /// <inheritdoc />
    public string Name => "remote-pingpong";

    /// <inheritdoc />
    public string Description => "Akka.Remote between two processes: ping-pong RTT, Ask, one-way stream, with a raw-socket baseline (--role server|client)";

    /// <summary>
    /// The actor system's configuration: stock Akka.Remote (DotNetty TCP) on 127.0.0.1, the bench messages bound to
    /// <see cref="BenchMessageSerializer"/> unless <paramref name="serializer"/> is <c>json</c> (then they fall back
    /// to Akka's default serializer, which is what an unbound message costs).
    /// </summary>
    internal static Config Hocon(int port, string serializer = "bench")
    {
        var binding = serializer == "json"
            ? string.Empty
            : "serialization-bindings { \"KvCluster.Benchmarks.Remote.IBenchMessage, KvCluster.Benchmarks\" = bench }";
        return ConfigurationFactory.ParseString($$"""
            akka {
              loglevel = WARNING
              actor {
                provider = remote
                serializers { bench = "KvCluster.Benchmarks.Remote.BenchMessageSerializer, KvCluster.Benchmarks" }
                serialization-identifiers { "KvCluster.Benchmarks.Remote.BenchMessageSerializer, KvCluster.Benchmarks" = {{BenchMessageSerializer.Id}} }
                {{binding}}
              }
              remote {
                log-remote-lifecycle-events = off
                dot-netty.tcp {
                  hostname = "127.0.0.1"
                  port = {{port}}
                }
              }
            }
            """);
    }

    /// <summary>The address the system listens on (<c>akka.tcp://name@127.0.0.1:port</c>).</summary>
    internal static Address AddressOf(ActorSystem system) => ((ExtendedActorSystem)system).Provider.DefaultAddress;

    /// <inheritdoc />
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
        Console.Error.WriteLine("       remote-pingpong --role client --server akka.tcp://server@127.0.0.1:PORT --raw-port N");
        Console.Error.WriteLine("                       [--pings N] [--messages N] [--window N] [--ack-every N] [--ask-callers N] [--asks N] [--serializer bench|json]");
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

    internal static int Int(Dictionary<string, string> options, string name, int fallback) =>
        options.TryGetValue(name, out var value) ? int.Parse(value, CultureInfo.InvariantCulture) : fallback;

    private static async Task<int> RunServerAsync(Dictionary<string, string> options)
    {
        var port = Int(options, "port", 0);
        var system = ActorSystem.Create("server", Hocon(port));
        system.ActorOf(Props.Create(() => new EchoActor()), "echo");
        system.ActorOf(Props.Create(() => new SinkActor()), "sink");
        using var raw = new RawEchoServer();
        Console.WriteLine($"READY {AddressOf(system)} {raw.Port}");
        Console.Out.Flush();

        // Serve until the driver closes our stdin (or kills us).
        await Task.Run(() => Console.In.ReadToEnd());
        Console.Error.WriteLine($"server process CPU time: {Process.GetCurrentProcess().TotalProcessorTime.TotalMilliseconds:N0} ms");
        await system.Terminate();
        return 0;
    }

    private sealed class EchoActor : ReceiveActor
    {
        public EchoActor()
        {
            ReceiveAny(m => Sender.Tell(m, Self));
        }
    }

    /// <summary>
    /// Counts payloads; every N-th (N set by the client's <see cref="BenchAck"/>, sent before a stream) it tells
    /// the sender the running count.
    /// </summary>
    private sealed class SinkActor : ReceiveActor
    {
        private long _count;
        private long _ackEvery = 1000;

        public SinkActor()
        {
            Receive<BenchPayload>(_ =>
            {
                if (++_count % _ackEvery == 0)
                {
                    Sender.Tell(new BenchAck(_count), Self);
                }
            });
            Receive<BenchAck>(setup =>
            {
                // A stream starts: acks every setup.Count payloads, counting from zero.
                _ackEvery = setup.Count;
                _count = 0;
                Sender.Tell(new BenchAck(0), Self);
            });
        }
    }
}
