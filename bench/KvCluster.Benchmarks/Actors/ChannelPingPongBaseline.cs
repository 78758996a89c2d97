using System.Threading.Channels;

namespace KvCluster.Benchmarks.Actors;

/// <summary>
/// The baseline for <see cref="PingPongBenchmark"/>: the same ping-pong between pairs of
/// <c>async</c> loops connected by unbounded single-reader <see cref="Channel{T}"/>s on the thread
/// pool — what a hand-written .NET message loop without an actor runtime costs.
/// </summary>
internal static class ChannelPingPongBaseline
{
    private static readonly object s_ping = new();
    private static readonly object s_pong = new();

    public static void Run(int pairs, int inFlight, int totalMessages)
    {
        var roundTrips = totalMessages / 2 / pairs;
        var tasks = new Task[pairs * 2];
        for (var p = 0; p < pairs; p++)
        {
            var toPonger = Channel.CreateUnbounded<object>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });
            var toPinger = Channel.CreateUnbounded<object>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });
            tasks[p * 2] = Task.Run(() => Ponger(toPonger.Reader, toPinger.Writer, roundTrips));
            tasks[p * 2 + 1] = Task.Run(() => Pinger(toPinger.Reader, toPonger.Writer, roundTrips, inFlight));
        }
        if (!Task.WaitAll(tasks, TimeSpan.FromMinutes(2)))
        {
            throw new TimeoutException("Channel ping-pong did not finish within 2 minutes.");
        }
    }

    private static async Task Ponger(ChannelReader<object> input, ChannelWriter<object> output, int roundTrips)
    {
        for (var i = 0; i < roundTrips; i++)
        {
            await input.ReadAsync().ConfigureAwait(false);
            output.TryWrite(s_pong);
        }
    }

    private static async Task Pinger(ChannelReader<object> input, ChannelWriter<object> output, int roundTrips, int inFlight)
    {
        var first = Math.Min(inFlight, roundTrips);
        var toSend = roundTrips - first;
        for (var i = 0; i < first; i++)
        {
            output.TryWrite(s_ping);
        }
        for (var received = 0; received < roundTrips; received++)
        {
            await input.ReadAsync().ConfigureAwait(false);
            if (toSend > 0)
            {
                toSend--;
                output.TryWrite(s_ping);
            }
        }
    }
}
