using Akka.Remote.Transport;

namespace KvCluster.Testing.MultiNode;

/// <content>The faults the conductor records per directed link, and the throttle modes they stand for.</content>
public sealed partial class TestConductor<TNode>
{
    private enum FaultKind
    {
        Blackhole,
        Flapping,
        Latency,
        Rate,
    }

    /// <summary>The fault of one directed link and the throttle modes it stands for at each end.</summary>
    private sealed class LinkFault
    {
        public static readonly LinkFault Blackhole = new(FaultKind.Blackhole, Akka.Remote.Transport.Blackhole.Instance, Akka.Remote.Transport.Blackhole.Instance);

        private readonly double _fraction;
        private readonly int _seed;
        private CancellationTokenSource? _flapping;
        private volatile bool _blackholedNow;

        private LinkFault(FaultKind kind, ThrottleMode sender, ThrottleMode receiver, double fraction = 0, int seed = 0)
        {
            Kind = kind;
            _sender = sender;
            ReceiverMode = receiver;
            _fraction = fraction;
            _seed = seed;
        }

        private readonly ThrottleMode _sender;

        public FaultKind Kind { get; }

        /// <summary>The mode at the sender's end (toward the receiver, direction Send).</summary>
        public ThrottleMode SenderMode => Kind == FaultKind.Flapping
            ? _blackholedNow ? Akka.Remote.Transport.Blackhole.Instance : Unthrottled.Instance
            : _sender;

        /// <summary>The mode at the receiver's end (from the sender, direction Receive).</summary>
        public ThrottleMode ReceiverMode { get; }

        public static LinkFault Flapping(double fraction, int seed) => new(FaultKind.Flapping, Unthrottled.Instance, Unthrottled.Instance, fraction, seed);

        public static LinkFault Latency(TimeSpan delay) => new(FaultKind.Latency, Unthrottled.Instance, new LatencyThrottleMode(delay));

        public static LinkFault Rate(double rateMBit) =>
            new(FaultKind.Rate, Unthrottled.Instance, new RateThrottleMode(BucketBytes, rateMBit * 125_000));

        public void StartFlapping(TestConductor<TNode> conductor, RoleName from, RoleName to)
        {
            var stop = new CancellationTokenSource();
            _flapping = stop;
            var random = new Random(_seed);
            _ = Task.Run(async () =>
            {
                using var timer = new PeriodicTimer(DropSlice);
                try
                {
                    while (await timer.WaitForNextTickAsync(stop.Token).ConfigureAwait(false))
                    {
                        var blackholed = random.NextDouble() < _fraction;
                        if (blackholed != _blackholedNow)
                        {
                            _blackholedNow = blackholed;
                            await conductor.FlapAsync(this, from, to).ConfigureAwait(false);
                        }
                    }
                }
                catch (OperationCanceledException)
                {
                    // healed or replaced
                }
                catch (Exception)
                {
                    // a node crashed under the flapping link; the fault stays recorded and is set again on restart
                }
            });
        }

        public void StopFlapping()
        {
            // Not disposed: the flapping loop may still be reading its token.
            Interlocked.Exchange(ref _flapping, null)?.Cancel();
        }
    }
}
