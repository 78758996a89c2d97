using System.Text.Json.Serialization;

namespace KvCluster.Testing.Linearizability;

/// <summary>The kinds of operation the <see cref="KvModel"/> understands.</summary>
[JsonConverter(typeof(JsonStringEnumConverter<KvOperationKind>))]
public enum KvOperationKind
{
    /// <summary>Unconditional write of <see cref="KvInput.Value"/>.</summary>
    Put,

    /// <summary>Read of one key.</summary>
    Get,

    /// <summary>
    /// Compare-and-set on the key's version (the store revision of its last change, the KV store's
    /// <c>mod_index</c> = etcd's mod_revision): writes <see cref="KvInput.Value"/> only when the version equals
    /// <see cref="KvInput.ExpectedVersion"/>; 0 means "only if the key does not exist".
    /// </summary>
    Cas,

    /// <summary>Removal of one key.</summary>
    Delete,
}

/// <summary>What a KV client asked. Values are text (chaos clients write unique strings).</summary>
/// <param name="Kind">The operation.</param>
/// <param name="Key">The key (the partition).</param>
/// <param name="Value">The value written by <see cref="KvOperationKind.Put"/> and <see cref="KvOperationKind.Cas"/>.</param>
/// <param name="ExpectedVersion">The version <see cref="KvOperationKind.Cas"/> compares with (0 = must not exist).</param>
public sealed record KvInput(KvOperationKind Kind, string Key, string? Value = null, long ExpectedVersion = 0)
{
    /// <summary>A put of <paramref name="value"/> under <paramref name="key"/>.</summary>
    public static KvInput Put(string key, string value) => new(KvOperationKind.Put, key, value);

    /// <summary>A read of <paramref name="key"/>.</summary>
    public static KvInput Get(string key) => new(KvOperationKind.Get, key);

    /// <summary>A compare-and-set of <paramref name="key"/> from version <paramref name="expectedVersion"/> to <paramref name="value"/>.</summary>
    public static KvInput Cas(string key, long expectedVersion, string value) => new(KvOperationKind.Cas, key, value, expectedVersion);

    /// <summary>A removal of <paramref name="key"/>.</summary>
    public static KvInput Delete(string key) => new(KvOperationKind.Delete, key);
}

/// <summary>
/// What a KV client got back. <see cref="Version"/> 0 means "not reported", in which case the model
/// does not check it.
/// </summary>
/// <param name="Ok">
/// Get: the key was found. Put: always true. Cas: the swap happened (false = version mismatch).
/// Delete: the key existed and was removed (false = not found).
/// </param>
/// <param name="Value">The value a successful get returned.</param>
/// <param name="Version">Get: the key's version; Put/Cas: the version of the write (its store revision).</param>
public sealed record KvOutput(bool Ok, string? Value = null, long Version = 0)
{
    /// <summary>A get that found <paramref name="value"/> at <paramref name="version"/> (0 = not reported).</summary>
    public static KvOutput Found(string value, long version = 0) => new(true, value, version);

    /// <summary>A get or delete that found no key.</summary>
    public static KvOutput NotFound { get; } = new(false);

    /// <summary>A put, successful cas or delete, with the write's version (0 = not reported).</summary>
    public static KvOutput Written(long version = 0) => new(true, null, version);

    /// <summary>A cas whose expected version did not match.</summary>
    public static KvOutput Mismatch { get; } = new(false);
}

/// <summary>
/// The model's state of one key: absent, or a value with a version (0 = unknown, after an
/// indeterminate write or a write whose version was not reported).
/// </summary>
/// <param name="Exists">Whether the key exists.</param>
/// <param name="Value">Its value when it exists.</param>
/// <param name="Version">Its version when known, else 0.</param>
public readonly record struct KvModelState(bool Exists, string? Value, long Version)
{
    /// <summary>The absent key.</summary>
    public static KvModelState Absent => default;

    /// <inheritdoc />
    public override string ToString() =>
        !Exists ? "(absent)" : Version == 0 ? $"\"{Value}\" @unknown version" : $"\"{Value}\" @{Version}";
}

/// <summary>
/// A sequential single-copy key-value store, partitioned per key, for checking histories of the
/// AkkaKv store (or any register-per-key store).
/// <para>
/// Compare-and-set is on versions, as in the store (versions are store revisions, which the model
/// cannot predict): the model learns a key's version from the outputs of writes and reads. Where a
/// version is not known (after an indeterminate write, or when a client does not report it) the
/// model accepts any version the history shows, and it checks that successive known versions of a
/// key increase. Values are always checked exactly.
/// </para>
/// </summary>
public sealed class KvModel : Model<KvModelState, KvInput, KvOutput>
{
    /// <summary>The single instance (the model has no configuration).</summary>
    public static KvModel Instance { get; } = new();

    /// <inheritdoc />
    public override KvModelState Init() => KvModelState.Absent;

    /// <inheritdoc />
    public override string PartitionKey(KvInput input) => input.Key;

    /// <inheritdoc />
    public override (bool Ok, KvModelState Next) Step(KvModelState state, KvInput input, KvOutput output)
    {
        switch (input.Kind)
        {
            case KvOperationKind.Put:
                return (NewerThan(state, output.Version), new KvModelState(true, input.Value, output.Version));
            case KvOperationKind.Get:
                if (!output.Ok)
                {
                    return (!state.Exists, state);
                }

                var matches = state.Exists && state.Value == output.Value && VersionsAgree(state.Version, output.Version);
                return (matches, state with { Version = state.Version != 0 ? state.Version : output.Version });
            case KvOperationKind.Cas:
                if (output.Ok)
                {
                    return (CasMayHold(state, input.ExpectedVersion) && NewerThan(state, output.Version),
                        new KvModelState(true, input.Value, output.Version));
                }

                return (CasMayFail(state, input.ExpectedVersion), state);
            case KvOperationKind.Delete:
                return (output.Ok == state.Exists, KvModelState.Absent);
            default:
                return (false, state);
        }
    }

    /// <inheritdoc />
    public override (bool Ok, KvModelState Next) StepIndeterminate(KvModelState state, KvInput input) => input.Kind switch
    {
        KvOperationKind.Put => (true, new KvModelState(true, input.Value, 0)),
        KvOperationKind.Get => (true, state),
        KvOperationKind.Cas => (CasMayHold(state, input.ExpectedVersion), new KvModelState(true, input.Value, 0)),
        KvOperationKind.Delete => (true, KvModelState.Absent),
        _ => (false, state),
    };

    /// <inheritdoc />
    public override string Describe(KvInput input, KvOutput? output, OperationOutcome outcome)
    {
        var what = input.Kind switch
        {
            KvOperationKind.Put => $"put {input.Key}=\"{input.Value}\"",
            KvOperationKind.Get => $"get {input.Key}",
            KvOperationKind.Cas => $"cas {input.Key} @{input.ExpectedVersion} -> \"{input.Value}\"",
            KvOperationKind.Delete => $"delete {input.Key}",
            _ => input.ToString(),
        };
        if (outcome != OperationOutcome.Ok || output is null)
        {
            return $"{what} => ? ({outcome})";
        }

        var version = output.Version == 0 ? string.Empty : $" @{output.Version}";
        var result = input.Kind switch
        {
            KvOperationKind.Get => output.Ok ? $"\"{output.Value}\"{version}" : "not found",
            KvOperationKind.Cas => output.Ok ? $"ok{version}" : "version mismatch",
            KvOperationKind.Delete => output.Ok ? "deleted" : "not found",
            _ => $"ok{version}",
        };
        return $"{what} => {result}";
    }

    private static bool VersionsAgree(long known, long reported) => known == 0 || reported == 0 || known == reported;

    private static bool NewerThan(KvModelState state, long written) =>
        !state.Exists || state.Version == 0 || written == 0 || written > state.Version;

    private static bool CasMayHold(KvModelState state, long expected) =>
        expected == 0 ? !state.Exists : state.Exists && (state.Version == 0 || state.Version == expected);

    private static bool CasMayFail(KvModelState state, long expected) =>
        expected == 0 ? state.Exists : !state.Exists || state.Version == 0 || state.Version != expected;
}
