using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using KvCluster.Actors;
using KvCluster.Actors.Remote.Actors;

namespace KvCluster.Benchmarks.Remote;

/// <summary>The measuring side of <see cref="RemotePingPongCommand"/>.</summary>
internal static class RemotePingPongClient
{
    public const int AckEvery = 10_000;
    private const int Window = 100_000;

    public static async Task<int> RunAsync(Dictionary<string, string> options)
    {
        var server = options["server"];
        var rawPort = int.Parse(options["raw-port"], CultureInfo.InvariantCulture);
        var pings = int.Parse(options.GetValueOrDefault("pings", "20000"), CultureInfo.InvariantCulture);
        var messages = int.Parse(options.GetValueOrDefault("messages", "1000000"), CultureInfo.InvariantCulture);
        messages = Math.Max(AckEvery, messages / AckEvery * AckEvery);
        var payload = new BytesValue { Value = ByteString.CopyFrom(Enumerable.Range(0, RemotePingPongCommand.PayloadBytes).Select(i => (byte)i).ToArray()) };
        Console.WriteLine($"message: BytesValue with {RemotePingPongCommand.PayloadBytes} bytes = {payload.CalculateSize()} bytes protobuf; raw baseline frames {RemotePingPongCommand.PayloadBytes + 4} bytes");

        var raw = await RawPingPongAsync(rawPort, pings);
        Report("raw socket ping-pong", pings, raw.Elapsed, raw.Rtts);

        var system = await RemoteActorSystem.CreateAsync(RemotePingPongCommand.Settings("client", 0), registry: RemotePingPongCommand.NewRegistry());
        try
        {
            var echo = await system.ActorSelection(server + "/user/echo").ResolveOne(TimeSpan.FromSeconds(10));
            var sink = await system.ActorSelection(server + "/user/sink").ResolveOne(TimeSpan.FromSeconds(10));

            await ActorPingPongAsync(system, echo, payload, pings / 10);
            var actor = await ActorPingPongAsync(system, echo, payload, pings);
            Report("remote actor ping-pong", pings, actor.Elapsed, actor.Rtts);

            var acker = new Acker(system);
            await StreamAsync(sink, acker, payload, messages / 10, 0);
            var cpuBeforeActors = Process.GetCurrentProcess().TotalProcessorTime;
            var elapsed = await StreamAsync(sink, acker, payload, messages, messages / 10);
            Console.WriteLine($"(actor stream client CPU {(Process.GetCurrentProcess().TotalProcessorTime - cpuBeforeActors).TotalMicroseconds / messages:F2} us/msg)");
            Console.WriteLine($"{"remote actor one-way stream",-28} {messages,9} msgs  {messages / elapsed.TotalSeconds,12:N0} msg/s  ({elapsed.TotalMilliseconds:N0} ms, window {Window}, acks every {AckEvery})");

            if (options.TryGetValue("transport", out var transportAddress))
            {
                var stream = await TransportStream.StartAsync("client-transport");
                var to = KvCluster.Actors.Remote.Transport.RemoteAddress.Parse(transportAddress);
                await stream.StreamAsync(to, payload, messages / 10, 0, Window);
                var cpuBefore = Process.GetCurrentProcess().TotalProcessorTime;
                var transportElapsed = await stream.StreamAsync(to, payload, messages, messages / 10, Window);
                var cpu = Process.GetCurrentProcess().TotalProcessorTime - cpuBefore;
                Console.WriteLine($"{"transport one-way stream",-28} {messages,9} msgs  {messages / transportElapsed.TotalSeconds,12:N0} msg/s  ({transportElapsed.TotalMilliseconds:N0} ms; envelope level, no actors; client CPU {cpu.TotalMicroseconds / messages:F2} us/msg)");
                await stream.Transport.DisposeAsync();
            }

            Console.WriteLine($"p50 ratio actor/raw: {Percentile(actor.Rtts, 0.50) / Percentile(raw.Rtts, 0.50):F2}x   p99 ratio: {Percentile(actor.Rtts, 0.99) / Percentile(raw.Rtts, 0.99):F2}x");
            Console.WriteLine($"client counters: {RemoteExtension.Get(system).Counters}");
        }
        finally
        {
            await RemoteActorSystem.TerminateAsync(system);
        }

        return 0;
    }

    private static void Report(string name, int count, TimeSpan elapsed, long[] rtts)
    {
        Console.WriteLine($"{name,-28} {count,9} rtts  {count / elapsed.TotalSeconds,12:N0} rtt/s   p50 {Percentile(rtts, 0.50):F1} us  p99 {Percentile(rtts, 0.99):F1} us  max {Percentile(rtts, 1.0):F1} us");
    }

    private static double Percentile(long[] ticks, double p)
    {
        var sorted = ticks.Order().ToArray();
        var index = Math.Min(sorted.Length - 1, (int)Math.Ceiling(p * sorted.Length) - 1);
        return sorted[Math.Max(0, index)] * 1_000_000.0 / Stopwatch.Frequency;
    }

    private static async Task<(TimeSpan Elapsed, long[] Rtts)> RawPingPongAsync(int port, int count)
    {
        using var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        await socket.ConnectAsync(new IPEndPoint(IPAddress.Loopback, port));
        var message = new byte[RemotePingPongCommand.PayloadBytes + 4];
        var reply = new byte[message.Length];
        var rtts = new long[count];
        for (var warm = 0; warm < count / 10; warm++)
        {
            await RoundTripAsync(socket, message, reply);
        }

        var total = Stopwatch.StartNew();
        for (var i = 0; i < count; i++)
        {
            var start = Stopwatch.GetTimestamp();
            await RoundTripAsync(socket, message, reply);
            rtts[i] = Stopwatch.GetTimestamp() - start;
        }

        return (total.Elapsed, rtts);
    }

    private static async Task RoundTripAsync(Socket socket, byte[] message, byte[] reply)
    {
        await socket.SendAsync(message, SocketFlags.None);
        var read = 0;
        while (read < reply.Length)
        {
            read += await socket.ReceiveAsync(reply.AsMemory(read), SocketFlags.None);
        }
    }

    private static async Task<(TimeSpan Elapsed, long[] Rtts)> ActorPingPongAsync(ActorSystem system, IActorRef echo, BytesValue payload, int count)
    {
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var rtts = new long[count];
        var pinger = system.ActorOf(Props.Create(() => new PingerActor(echo, payload, rtts, done)));
        var total = Stopwatch.StartNew();
        pinger.Tell(PingerActor.Go.Instance, null);
        await done.Task.WaitAsync(TimeSpan.FromMinutes(2));
        total.Stop();
        system.Stop(pinger);
        return (total.Elapsed, rtts);
    }

    private static async Task<TimeSpan> StreamAsync(IActorRef sink, Acker acker, BytesValue payload, int count, long alreadyAcked)
    {
        var target = alreadyAcked + count;
        var total = Stopwatch.StartNew();
        for (var i = 0; i < count; i++)
        {
            while (alreadyAcked + i - acker.Acked >= Window)
            {
                await acker.WaitAsync();
            }

            sink.Tell(payload, acker.Ref);
        }

        while (acker.Acked < target)
        {
            await acker.WaitAsync();
        }

        return total.Elapsed;
    }

    private sealed class PingerActor : ReceiveActor
    {
        private long _start;
        private int _index;

        public PingerActor(IActorRef echo, BytesValue payload, long[] rtts, TaskCompletionSource done)
        {
            Receive<Go>(_ =>
            {
                _start = Stopwatch.GetTimestamp();
                echo.Tell(payload, Self);
            });
            Receive<BytesValue>(_ =>
            {
                var now = Stopwatch.GetTimestamp();
                rtts[_index++] = now - _start;
                if (_index == rtts.Length)
                {
                    done.TrySetResult();
                    return;
                }

                _start = Stopwatch.GetTimestamp();
                echo.Tell(payload, Self);
            });
        }

        public sealed class Go
        {
            public static readonly Go Instance = new();
        }
    }

    /// <summary>Receives the sink's cumulative counts; the sending loop waits on it.</summary>
    private sealed class Acker
    {
        private readonly SemaphoreSlim _signal = new(0);
        private long _acked;

        public Acker(ActorSystem system)
        {
            Ref = system.ActorOf(Props.Create(() => new AckActor(this)), "acker");
        }

        public IActorRef Ref { get; }

        public long Acked => Volatile.Read(ref _acked);

        public Task WaitAsync() => _signal.WaitAsync(TimeSpan.FromMilliseconds(50));

        private void OnAck(long count)
        {
            Volatile.Write(ref _acked, count);
            _signal.Release();
        }

        private sealed class AckActor : ReceiveActor
        {
            public AckActor(Acker owner)
            {
                Receive<Int64Value>(v => owner.OnAck(v.Value));
            }
        }
    }
}
