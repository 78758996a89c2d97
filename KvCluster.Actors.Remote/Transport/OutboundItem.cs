using Google.Protobuf;

namespace KvCluster.Actors.Remote.Transport;

/// <summary>One queued outbound envelope, measured by the sender so the writer loop only copies.
/// A null <see cref="Message"/> marks a wake-up for a due heartbeat.</summary>
internal readonly record struct OutboundItem(
    string Recipient,
    string? Sender,
    IMessage? Message,
    int TypeId,
    int FrameSize,
    EnvelopeSizes Sizes,
    long EnqueuedAt)
{
    /// <summary>A marker that only wakes the writer loop.</summary>
    public static readonly OutboundItem WakeUp = new(string.Empty, null, null, 0, 0, default, 0);
}
