using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Akka.Actor;

namespace KvCluster.Benchmarks.Remote;

/// <summary>The measuring side of <see cref="RemotePingPongCommand"/>.</summary>
internal static class RemotePingPongClient
{
    public static async Task<int> RunAsync(Dictionary<string, string> options)
    {
        var server = options["server"];
        var rawPort = RemotePingPongCommand.Int(options, "raw-port", 0);
        var pings = RemotePingPongCommand.Int(options, "pings", 20_000);
        var messages = RemotePingPongCommand.Int(options, "messages", 1_000_000);
        var window = RemotePingPongCommand.Int(options, "window", 50_000);
        var ackEvery = RemotePingPongCommand.Int(options, "ack-every", 5_000);
        var askCallers = RemotePingPongCommand.Int(options, "ask-callers", 100);
        var asks = RemotePingPongCommand.Int(options, "asks", 100_000);
        var serializer = options.GetValueOrDefault("serializer", "bench");
        if (window <= ackEvery)
        {
            Console.Error.WriteLine("--window must be larger than --ack-every");
            return 2;
        }
        messages = Math.Max(ackEvery, messages / ackEvery * ackEvery);
        var payload = new BenchPayload(Enumerable.Range(0, RemotePingPongCommand.PayloadBytes).Select(i => (byte)i).ToArray());
        Console.WriteLine($"message: {RemotePingPongCommand.PayloadBytes} B payload, serializer '{serializer}' (client to server); raw baseline frames {RemotePingPongCommand.PayloadBytes + 4} B");

        Rtts? raw = null;
        if (rawPort > 0)
        {
            raw = await RawPingPongAsync(rawPort, pings);
            raw.Report("raw socket ping-pong");
        }

        var system = ActorSystem.Create("client", RemotePingPongCommand.Hocon(0, serializer));
        try
        {
            var echo = await system.ActorSelection(server + "/user/echo").ResolveOne(TimeSpan.FromSeconds(10));
            var sink = await system.ActorSelection(server + "/user/sink").ResolveOne(TimeSpan.FromSeconds(10));

            await ActorPingPongAsync(system, echo, payload, Math.Max(1, pings / 10));
            var actor = await ActorPingPongAsync(system, echo, payload, pings);
            actor.Report("remote actor ping-pong");

            if (askCallers > 0 && asks > 0)
            {
                await AskAsync(echo, payload, askCallers, Math.Max(askCallers, asks / 10));
                var cpuBefore = Process.GetCurrentProcess().TotalProcessorTime;
                var (askElapsed, asked) = await AskAsync(echo, payload, askCallers, asks);
                var cpu = Process.GetCurrentProcess().TotalProcessorTime - cpuBefore;
                Console.WriteLine($"{"remote Ask, concurrent",-28} {asked,9} asks  {asked / askElapsed.TotalSeconds,12:N0} ask/s   ({askCallers} callers; client CPU {cpu.TotalMicroseconds / asked:F1} us/ask)");
            }

            var acker = new Acker(system);
            await StreamAsync(sink, acker, payload, Math.Max(ackEvery, messages / 10 / ackEvery * ackEvery), window, ackEvery);
            var cpuBeforeStream = Process.GetCurrentProcess().TotalProcessorTime;
            var elapsed = await StreamAsync(sink, acker, payload, messages, window, ackEvery);
            var streamCpu = Process.GetCurrentProcess().TotalProcessorTime - cpuBeforeStream;
            Console.WriteLine($"{"remote actor one-way stream",-28} {messages,9} msgs  {messages / elapsed.TotalSeconds,12:N0} msg/s   ({elapsed.TotalMilliseconds:N0} ms, window {window}, acks every {ackEvery}; client CPU {streamCpu.TotalMicroseconds / messages:F2} us/msg)");

            if (raw is not null)
            {
                Console.WriteLine($"p50 ratio actor/raw: {actor.Percentile(0.50) / raw.Percentile(0.50):F2}x   p99 ratio: {actor.Percentile(0.99) / raw.Percentile(0.99):F2}x");
            }
        }
        finally
        {
            await system.Terminate();
        }

        return 0;
    }

    private static async Task<Rtts> RawPingPongAsync(int port, int count)
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

        return new Rtts(total.Elapsed, rtts);
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

    private static async Task<Rtts> ActorPingPongAsync(ActorSystem system, IActorRef echo, BenchPayload payload, int count)
    {
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var rtts = new long[count];
        var pinger = system.ActorOf(Props.Create(() => new PingerActor(echo, payload, rtts, done)));
        var total = Stopwatch.StartNew();
        pinger.Tell(PingerActor.Go.Instance, ActorRefs.NoSender);
        await done.Task.WaitAsync(TimeSpan.FromMinutes(2));
        total.Stop();
        system.Stop(pinger);
        return new Rtts(total.Elapsed, rtts);
    }

    /// <summary><paramref name="callers"/> loops, each awaiting one Ask at a time, <paramref name="count"/> Asks in all.</summary>
    private static async Task<(TimeSpan Elapsed, int Asked)> AskAsync(IActorRef echo, BenchPayload payload, int callers, int count)
    {
        var perCaller = Math.Max(1, count / callers);
        var total = Stopwatch.StartNew();
        await Task.WhenAll(Enumerable.Range(0, callers).Select(async _ =>
        {
            for (var i = 0; i < perCaller; i++)
            {
                await echo.Ask<BenchPayload>(payload, TimeSpan.FromSeconds(30));
            }
        }));
        return (total.Elapsed, perCaller * callers);
    }

    /// <summary>Streams <paramref name="count"/> payloads to the sink, at most <paramref name="window"/> unacknowledged.</summary>
    private static async Task<TimeSpan> StreamAsync(IActorRef sink, Acker acker, BenchPayload payload, int count, int window, int ackEvery)
    {
        acker.Reset();
        sink.Tell(new BenchAck(ackEvery), acker.Ref);
        while (!acker.Started)
        {
            await acker.WaitAsync();
        }

        var total = Stopwatch.StartNew();
        for (var i = 0; i < count; i++)
        {
            while (i - acker.Acked >= window)
            {
                await acker.WaitAsync();
            }

            sink.Tell(payload, acker.Ref);
        }

        while (acker.Acked < count)
        {
            await acker.WaitAsync();
        }

        return total.Elapsed;
    }

    /// <summary>Round-trip times of one run, in <see cref="Stopwatch"/> ticks.</summary>
    private sealed class Rtts(TimeSpan elapsed, long[] ticks)
    {
        private readonly long[] _sorted = ticks.Order().ToArray();

        public void Report(string name) =>
            Console.WriteLine($"{name,-28} {_sorted.Length,9} rtts  {_sorted.Length / elapsed.TotalSeconds,12:N0} rtt/s   p50 {Percentile(0.50):F1} us  p99 {Percentile(0.99):F1} us  max {Percentile(1.0):F1} us");

        public double Percentile(double p)
        {
            var index = Math.Min(_sorted.Length - 1, (int)Math.Ceiling(p * _sorted.Length) - 1);
            return _sorted[Math.Max(0, index)] * 1_000_000.0 / Stopwatch.Frequency;
        }
    }

    private sealed class PingerActor : ReceiveActor
    {
        private long _start;
        private int _index;

        public PingerActor(IActorRef echo, BenchPayload payload, long[] rtts, TaskCompletionSource done)
        {
            Receive<Go>(_ =>
            {
                _start = Stopwatch.GetTimestamp();
                echo.Tell(payload, Self);
            });
            Receive<BenchPayload>(_ =>
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
        private long _acked = -1;

        public Acker(ActorSystem system)
        {
            Ref = system.ActorOf(Props.Create(() => new AckActor(this)), "acker");
        }

        public IActorRef Ref { get; }

        /// <summary>Payloads the sink has counted in the current stream; -1 before it confirmed the stream's start.</summary>
        public long Acked => Volatile.Read(ref _acked);

        public bool Started => Acked >= 0;

        public void Reset() => Volatile.Write(ref _acked, -1);

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
                Receive<BenchAck>(ack => owner.OnAck(ack.Count));
            }
        }
    }
}
