using BenchmarkDotNet.Attributes;
using Google.Protobuf;
using KvCluster.Client.Etcd;
using KvCluster.Client.Etcd.Authpb;
using KvCluster.Client.Protocol;
using KvCluster.Node.Etcd;
using KvCluster.Node.Kv;
using PutRequest = KvCluster.Client.Etcd.PutRequest;

namespace KvCluster.Benchmarks.Kv;

/// <summary>
/// What etcd's auth costs on the write path: 1,000 etcd puts applied to the state machine (1,000 keys, 256-byte values,
/// the history compacted after each batch so the store stays the same size) with authentication disabled (the
/// baseline), enabled for root (one role lookup), and enabled for a user whose role grants 16 prefix ranges (the range
/// check); what the client port pays per call to accept a token (<see cref="EtcdAuthTokens.Validate"/>: base64,
/// HMAC-SHA256, SHA-256 of the stored hash, or a remembered answer); and a password check (bcrypt, once per Authenticate).
/// <c>dotnet run -c Release --project bench/KvCluster.Benchmarks -- --filter '*KvAuth*' --inProcess</c>
/// </summary>
[MemoryDiagnoser]
public class KvAuthBenchmarks
{
    private const int Puts = 1000;
    private const int Ranges = 16;

    private KvStateMachine _disabled = null!;
    private KvStateMachine _enabled = null!;
    private KvCommand[] _anonymous = null!;
    private KvCommand[] _asRoot = null!;
    private KvCommand[] _asUser = null!;
    private EtcdAuthTokens _tokens = null!;
    private string _token = null!;
    private long _disabledIndex;
    private long _enabledIndex;

    [GlobalSetup]
    public void Setup()
    {
        _disabled = new KvStateMachine();
        _enabled = new KvStateMachine();
        var setup = new List<AuthCommand>
        {
            new() { UserAdd = new AuthUserAddRequest { Name = "root" }, PasswordHash = EtcdAuthTokens.HashPassword("rootpw") },
            new() { UserGrantRole = new AuthUserGrantRoleRequest { User = "root", Role = "root" } },
            new() { UserAdd = new AuthUserAddRequest { Name = "app" }, PasswordHash = EtcdAuthTokens.HashPassword("apppw") },
            new() { RoleAdd = new AuthRoleAddRequest { Name = "app" } },
        };
        for (var r = 0; r < Ranges; r++)
        {
            setup.Add(new AuthCommand
            {
                RoleGrantPermission = new AuthRoleGrantPermissionRequest
                {
                    Name = "app",
                    Perm = new Permission { PermType = Permission.Types.Type.Readwrite, Key = ByteString.CopyFromUtf8($"bench/{r:D2}/"), RangeEnd = ByteString.CopyFromUtf8($"bench/{r:D2}0") },
                },
            });
        }

        setup.Add(new AuthCommand { UserGrantRole = new AuthUserGrantRoleRequest { User = "app", Role = "app" } });
        setup.Add(new AuthCommand { Enable = new AuthEnableRequest(), TokenKey = EtcdAuthTokens.NewTokenKey() });
        foreach (var command in setup)
        {
            var result = _enabled.Apply(++_enabledIndex, new KvCommand { Auth = command });
            if (result.Status != KvStatus.Ok)
            {
                throw new InvalidOperationException($"{command.OpCase}: {result.Error}");
            }
        }

        var revision = _enabled.Auth.Revision;
        var value = ByteString.CopyFrom(new byte[256]);
        KvCommand Put(int i, string user, ulong rev) => new()
        {
            EtcdPut = new PutRequest { Key = ByteString.CopyFromUtf8($"bench/{i % Ranges:D2}/{i:D4}"), Value = value },
            AuthUser = user,
            AuthRevision = rev,
            EtcdClient = true,
        };
        _anonymous = [.. Enumerable.Range(0, Puts).Select(i => Put(i, string.Empty, 0))];
        _asRoot = [.. Enumerable.Range(0, Puts).Select(i => Put(i, "root", revision))];
        _asUser = [.. Enumerable.Range(0, Puts).Select(i => Put(i, "app", revision))];
        _tokens = new EtcdAuthTokens(TimeSpan.FromHours(1));
        _token = _tokens.Issue(_enabled.Auth, "app");
    }

    [Benchmark(Baseline = true, OperationsPerInvoke = Puts)]
    public long PutsAuthDisabled() => ApplyAll(_disabled, _anonymous, ref _disabledIndex);

    [Benchmark(OperationsPerInvoke = Puts)]
    public long PutsAsRoot() => ApplyAll(_enabled, _asRoot, ref _enabledIndex);

    [Benchmark(OperationsPerInvoke = Puts)]
    public long PutsAsUserWith16Ranges() => ApplyAll(_enabled, _asUser, ref _enabledIndex);

    [Benchmark]
    public bool ValidateToken() => _tokens.Validate(_token, _enabled.Auth) is not null;

    /// <summary>What Authenticate pays once per client: bcrypt at etcd's cost 10 (etcd pays the same).</summary>
    [Benchmark]
    public bool VerifyPassword() => EtcdAuthTokens.VerifyPassword("apppw", _enabled.Auth.Users["app"].Password);

    private static long ApplyAll(KvStateMachine store, KvCommand[] commands, ref long index)
    {
        foreach (var command in commands)
        {
            var result = store.Apply(++index, command);
            if (result.Status != KvStatus.Ok)
            {
                throw new InvalidOperationException(result.Error);
            }
        }

        store.Apply(++index, new KvCommand { EtcdCompact = new CompactionRequest { Revision = store.Revision } });
        return store.Revision;
    }
}
