using System.Diagnostics;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using KvCluster.Actors.Remote.Transport;

namespace KvCluster.Benchmarks.Remote;

/// <summary>
/// The envelope level of the benchmark, without actors: a bare <see cref="RemoteTransport"/> on
/// each side. The server side counts envelopes and every <c>AckEvery</c> sends the running count
/// back to the sender's address; the client streams with the same window as the actor stream.
/// This separates the transport's capacity from the actor runtime's (mailboxes, dispatch).
/// </summary>
internal sealed class TransportStream : IRemoteTransportListener
{
    private readonly SemaphoreSlim _signal = new(0);
    private RemoteTransport? _transport;
    private long _count;
    private long _acked;

    public RemoteTransport Transport => _transport!;

    public static async Task<TransportStream> StartAsync(string system)
    {
        var stream = new TransportStream();
        stream._transport = await RemoteTransport.StartAsync(RemotePingPongCommand.Settings(system, 0), RemotePingPongCommand.NewRegistry(), stream);
        return stream;
    }

    /// <summary>Server side: counts; client side: records acks.</summary>
    public void OnMessage(InboundMessage message)
    {
        if (message.Message is Int64Value ack)
        {
            Volatile.Write(ref _acked, ack.Value);
            _signal.Release();
            return;
        }

        var count = ++_count;
        if (count % RemotePingPongClient.AckEvery == 0)
        {
            _transport!.Send(message.From, message.Sender, null, new Int64Value { Value = count });
        }
    }

    public void OnDeadLetter(OutboundDeadLetter deadLetter)
    {
    }

    /// <summary>Streams <paramref name="count"/> envelopes to <paramref name="server"/>'s sink with a window.</summary>
    public async Task<TimeSpan> StreamAsync(RemoteAddress server, IMessage payload, int count, long alreadyAcked, int window)
    {
        var recipient = $"{server}/user/sink";
        var self = $"{_transport!.LocalAddress}/user/acker";
        var target = alreadyAcked + count;
        var total = Stopwatch.StartNew();
        for (var i = 0; i < count; i++)
        {
            while (alreadyAcked + i - Volatile.Read(ref _acked) >= window)
            {
                await _signal.WaitAsync(TimeSpan.FromMilliseconds(50));
            }

            _transport.Send(server, recipient, self, payload);
        }

        while (Volatile.Read(ref _acked) < target)
        {
            await _signal.WaitAsync(TimeSpan.FromMilliseconds(50));
        }

        return total.Elapsed;
    }
}
