using Google.Protobuf;
using KvCluster.Client.Protocol;
using KvCluster.Client.Snapshots;

namespace KvCluster.Node.Kv;

/// <summary>
/// etcd's auth store in the state machine: auth commands change <see cref="Auth"/> (one immutable value per change,
/// published to <see cref="AuthObserver"/>), and every etcd command is checked against it at apply time (and at query
/// time for a read) with the user and auth revision the node that took it recorded, so all replicas refuse the same
/// commands. The snapshot carries it in an <see cref="KvSnapshotSection.Auth"/> section once it differs from a new
/// store's.
/// </summary>
public sealed partial class KvStateMachine
{
    private KvAuthState _auth = KvAuthState.Initial;

    /// <summary>The attached keys of a lease, as the auth check asks for them (one delegate, not one per command).</summary>
    private Func<long, IReadOnlyList<ByteString>>? _leaseKeys;

    /// <summary>The auth store now.</summary>
    public KvAuthState Auth => _auth;

    /// <summary>Called on the owner's turn with the new auth store after every change and after a restore.</summary>
    public Action<KvAuthState>? AuthObserver { get; set; }

    /// <summary>etcd's refusal of <paramref name="command"/> by the auth store, or null when it may run.</summary>
    private KvResult? AuthRefusal(KvCommand command)
    {
        if (!_auth.Enabled)
        {
            return null;
        }

        var refused = _auth.Check(command, _leaseKeys ??= LeaseKeys);
        return refused is null ? null : Refused(refused);
    }

    /// <summary>Applies an auth change or serves an auth read.</summary>
    private KvResult ApplyAuth(AuthCommand command)
    {
        var read = _auth.Query(command, out var error);
        if (read is not null)
        {
            return error is null ? new KvResult { Status = KvStatus.Ok, Revision = Revision, Auth = read } : Refused(error);
        }

        var next = _auth.Apply(command, out error);
        if (error is not null)
        {
            return Refused(error);
        }

        if (!ReferenceEquals(next, _auth))
        {
            _auth = next;
            AuthObserver?.Invoke(next);
        }

        return new KvResult { Status = KvStatus.Ok, Revision = Revision, Auth = new AuthResult() };
    }

    /// <summary>The auth section of a snapshot captured now (none while the store is a new one's).</summary>
    private KvSnapshotSectionCapture[] CaptureAuth() => _auth.IsInitial ? [] : [new AuthSectionCapture(_auth.ToImage().ToByteArray())];

    /// <summary>Reads the auth section.</summary>
    /// <exception cref="InvalidDataException">The bytes are not an auth image, or it is impossible.</exception>
    private static KvAuthState ReadAuthSection(ReadOnlySpan<byte> bytes)
    {
        AuthImage image;
        try
        {
            image = AuthImage.Parser.ParseFrom(bytes);
        }
        catch (InvalidProtocolBufferException e)
        {
            throw new InvalidDataException($"The auth section ({bytes.Length} bytes) is not an auth image: {e.Message}", e);
        }

        return KvAuthState.FromImage(image);
    }

    /// <summary>Installs a restored auth store and tells the observer.</summary>
    private void InstallAuth(KvAuthState auth)
    {
        _auth = auth;
        AuthObserver?.Invoke(auth);
    }
}

/// <summary>The auth store as captured for a snapshot: its image's bytes.</summary>
internal sealed class AuthSectionCapture(byte[] image) : KvSnapshotSectionCapture
{
    /// <inheritdoc />
    public override KvSnapshotSection Type => KvSnapshotSection.Auth;

    /// <inheritdoc />
    public override long Length => image.Length;

    /// <inheritdoc />
    public override void Write(ref KvSnapshotSpanWriter writer) => writer.WriteBytes(image);
}
