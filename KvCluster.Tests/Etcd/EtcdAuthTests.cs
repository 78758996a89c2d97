using System.Net;
using System.Text.Json.Nodes;
using Google.Protobuf;
using Grpc.Core;
using KvCluster.Client.Etcd;
using KvCluster.Client.Etcd.Authpb;
using KvCluster.Tests.Client;
using KvCluster.Tests.Node;

namespace KvCluster.Tests.Etcd;

/// <summary>
/// etcd's Auth service (users, roles, key permissions, tokens) against a three-node AkkaKv and a real etcd 3.4 started
/// by the test, driven by Debian's etcdctl 3.4: the same session must print the same lines and exit with the same codes
/// on both. AkkaKv is asked through a follower, so every change is forwarded to the leader and every check is made on a
/// node that did not take the change.
/// </summary>
[Trait("Category", "Integration")]
public sealed class EtcdAuthTests : IClassFixture<EtcdProcess>, IAsyncLifetime
{
    private static readonly TimeSpan s_limit = TimeSpan.FromSeconds(60);
    private readonly EtcdProcess _etcd;
    private KvTestCluster _akkakv = null!;

    public EtcdAuthTests(EtcdProcess etcd)
    {
        _etcd = etcd;
        _etcd.Require();
    }

    public async Task InitializeAsync() => _akkakv = await EtcdTestNodes.StartAsync(3);

    public async Task DisposeAsync() => await _akkakv.DisposeAsync();

    /// <summary>
    /// One etcdctl session: enable is refused until root has the root role; without a user, with a wrong password, and
    /// outside a role's permissions requests are refused; inside them they are served; a role's permission revoked and
    /// a user deleted take effect on the next call; root cannot be deleted while enabled; disable opens the store again.
    /// The session ends by deleting root and the roles, so etcd is left as it was found.
    /// </summary>
    private static readonly string[][] s_session =
    [
        ["user", "add", "root:rootpw"],
        ["auth", "enable"],
        ["role", "add", "root"],
        ["user", "grant-role", "root", "root"],
        ["auth", "enable"],
        ["put", "k", "v"],
        ["--user", "root:wrong", "get", "k"],
        ["--user", "root:rootpw", "put", "/app/a", "1"],
        ["--user", "root:rootpw", "role", "add", "reader"],
        ["--user", "root:rootpw", "role", "grant-permission", "reader", "read", "/app/", "--prefix=true"],
        ["--user", "root:rootpw", "role", "grant-permission", "reader", "readwrite", "/app/w"],
        ["--user", "root:rootpw", "role", "grant-permission", "reader", "write", "/logs/", "/logs0"],
        ["--user", "root:rootpw", "user", "add", "alice:alicepw"],
        ["--user", "root:rootpw", "user", "grant-role", "alice", "reader"],
        ["--user", "alice:alicepw", "get", "/app/a"],
        ["--user", "alice:alicepw", "put", "/app/a", "2"],
        ["--user", "alice:alicepw", "put", "/app/w", "x"],
        ["--user", "alice:alicepw", "put", "/logs/1", "line"],
        ["--user", "alice:alicepw", "get", "/logs/1"],
        ["--user", "alice:alicepw", "get", "/app/", "--prefix"],
        ["--user", "alice:alicepw", "get", "", "--prefix"],
        ["--user", "alice:alicepw", "put", "/app/w", "y", "--prev-kv"],
        ["--user", "alice:alicepw", "del", "/app/w"],
        ["--user", "alice:alicepw", "txn"],
        ["--user", "alice:alicepw", "user", "list"],
        ["--user", "alice:alicepw", "user", "get", "alice"],
        ["--user", "alice:alicepw", "user", "add", "mallory:pw"],
        ["--user", "root:rootpw", "role", "get", "reader"],
        ["--user", "root:rootpw", "role", "get", "root"],
        ["--user", "root:rootpw", "user", "get", "alice"],
        ["--user", "root:rootpw", "user", "list"],
        ["--user", "root:rootpw", "role", "list"],
        ["--user", "root:rootpw", "role", "add", "reader"],
        ["--user", "root:rootpw", "user", "grant-role", "alice", "nosuchrole"],
        ["--user", "root:rootpw", "role", "revoke-permission", "reader", "/app/", "--prefix=true"],
        ["--user", "root:rootpw", "role", "revoke-permission", "reader", "/app/", "--prefix=true"],
        ["--user", "alice:alicepw", "get", "/app/a"],
        ["--user", "root:rootpw", "user", "passwd", "alice", "--interactive=false"],
        ["--user", "alice:alicepw", "get", "/app/w"],
        ["--user", "alice:newpw", "put", "/app/w", "z"],
        ["--user", "root:rootpw", "user", "revoke-role", "alice", "reader"],
        ["--user", "root:rootpw", "user", "revoke-role", "alice", "reader"],
        ["--user", "root:rootpw", "user", "delete", "alice"],
        ["--user", "alice:newpw", "get", "/app/w"],
        ["--user", "root:rootpw", "user", "delete", "root"],
        ["--user", "root:rootpw", "role", "delete", "root"],
        ["--user", "root:rootpw", "auth", "disable"],
        ["put", "k", "v2"],
        ["get", "k"],
        ["user", "delete", "root"],
        ["role", "delete", "root"],
        ["role", "delete", "reader"],
    ];

    /// <summary>Standard input of the steps that read one (txn's interactive form, passwd's new password).</summary>
    private static string? StdinOf(string[] step) => step switch
    {
        [.., "txn"] => "value(\"/app/a\") = \"1\"\n\nput /app/w from-txn\n\nget /app/a\n\n",
        [.., "passwd", "alice", _] => "newpw\n",
        _ => null,
    };

    [Fact]
    public async Task AnEtcdctlAuthSession_PrintsAndExitsAsOnEtcd()
    {
        var leader = await _akkakv.AwaitLeaderAsync();
        var follower = Enumerable.Range(0, 3).First(i => i != leader);
        var akkakv = $"127.0.0.1:{_akkakv.Options[follower].ClientPort}";

        var etcd = await RunAsync(_etcd.Endpoint);
        var ours = await RunAsync(akkakv);

        for (var i = 0; i < s_session.Length; i++)
        {
            Assert.True(etcd[i] == ours[i], $"step {i} (etcdctl {string.Join(' ', s_session[i])}):\netcd:   {etcd[i]}\nakkakv: {ours[i]}");
        }

        // The session does what it says (so that both systems agreeing on a wrong answer would still fail).
        Assert.Contains("Error: etcdserver: user name is empty", etcd[5], StringComparison.Ordinal);
        Assert.Contains("Error: etcdserver: permission denied", etcd[15], StringComparison.Ordinal);
        Assert.StartsWith("exit 0", etcd[16], StringComparison.Ordinal);
        Assert.Contains("Error: etcdserver: authentication failed", etcd[43], StringComparison.Ordinal);
        Assert.Equal("exit 0\nOK\n", etcd[47]);
    }

    /// <summary>Each step as "exit N", stdout, and the last "Error:" line of stderr (etcdctl's own log lines carry times).</summary>
    private static async Task<string[]> RunAsync(string endpoint)
    {
        var outcomes = new string[s_session.Length];
        for (var i = 0; i < s_session.Length; i++)
        {
            var result = await EtcdTestNodes.EtcdctlAsync(endpoint, StdinOf(s_session[i]), s_limit, s_session[i]);
            var error = result.Error.Split('\n').LastOrDefault(l => l.StartsWith("Error:", StringComparison.Ordinal));
            outcomes[i] = $"exit {result.ExitCode}\n{result.Output}{(error is null ? string.Empty : error + "\n")}";
        }

        return outcomes;
    }

    [Fact]
    public async Task ATokenFromOneNode_IsAcceptedByAnother_AndAWatchOutsideThePermissionsIsCancelled()
    {
        using var first = _akkakv.Channel(0);
        using var second = _akkakv.Channel(2);
        var auth0 = new Auth.AuthClient(first);
        await auth0.UserAddAsync(new AuthUserAddRequest { Name = "root", Password = "rootpw" });
        await auth0.UserGrantRoleAsync(new AuthUserGrantRoleRequest { User = "root", Role = "root" });
        await auth0.UserAddAsync(new AuthUserAddRequest { Name = "bob", Password = "bobpw" });
        await auth0.RoleAddAsync(new AuthRoleAddRequest { Name = "jobs" });
        await auth0.RoleGrantPermissionAsync(new AuthRoleGrantPermissionRequest
        {
            Name = "jobs",
            Perm = new Permission { PermType = Permission.Types.Type.Readwrite, Key = ByteString.CopyFromUtf8("jobs/"), RangeEnd = ByteString.CopyFromUtf8("jobs0") },
        });
        await auth0.UserGrantRoleAsync(new AuthUserGrantRoleRequest { User = "bob", Role = "jobs" });
        // etcd 3.5's client-made hash: a bcrypt hash is stored as the password's; anything else is refused.
        await auth0.UserAddAsync(new AuthUserAddRequest { Name = "carol", HashedPassword = KvCluster.Node.Etcd.EtcdAuthTokens.HashPassword("carolpw").ToStringUtf8() });
        var notAHash = await Assert.ThrowsAsync<RpcException>(() => auth0.UserAddAsync(new AuthUserAddRequest { Name = "dave", HashedPassword = "carolpw" }).ResponseAsync);
        await auth0.AuthEnableAsync(new AuthEnableRequest());
        Assert.NotEmpty((await new Auth.AuthClient(second).AuthenticateAsync(new AuthenticateRequest { Name = "carol", Password = "carolpw" })).Token);
        Assert.Equal(StatusCode.InvalidArgument, notAHash.StatusCode);

        var token = (await auth0.AuthenticateAsync(new AuthenticateRequest { Name = "bob", Password = "bobpw" })).Token;
        var asBob = new Metadata { { "token", token } };
        var kv = new KV.KVClient(second);
        await kv.PutAsync(new PutRequest { Key = ByteString.CopyFromUtf8("jobs/1"), Value = ByteString.CopyFromUtf8("x") }, asBob);
        var denied = await Assert.ThrowsAsync<RpcException>(() => kv.PutAsync(new PutRequest { Key = ByteString.CopyFromUtf8("other"), Value = ByteString.CopyFromUtf8("x") }, asBob).ResponseAsync);
        var forged = await Assert.ThrowsAsync<RpcException>(() => kv.RangeAsync(new RangeRequest { Key = ByteString.CopyFromUtf8("jobs/1") }, new Metadata { { "token", token[..^2] + "AA" } }).ResponseAsync);
        var admin = await Assert.ThrowsAsync<RpcException>(() => new Maintenance.MaintenanceClient(second).HashKVAsync(new HashKVRequest(), asBob).ResponseAsync);

        using var watch = new global::KvCluster.Client.Etcd.Watch.WatchClient(second).Watch(asBob);
        await watch.RequestStream.WriteAsync(new WatchRequest { CreateRequest = new WatchCreateRequest { Key = ByteString.CopyFromUtf8("other") } });
        await watch.RequestStream.WriteAsync(new WatchRequest { CreateRequest = new WatchCreateRequest { Key = ByteString.CopyFromUtf8("jobs/"), RangeEnd = ByteString.CopyFromUtf8("jobs0") } });
        using var bounded = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        Assert.True(await watch.ResponseStream.MoveNext(bounded.Token));
        var refused = watch.ResponseStream.Current;
        Assert.True(await watch.ResponseStream.MoveNext(bounded.Token));
        var created = watch.ResponseStream.Current;
        await kv.PutAsync(new PutRequest { Key = ByteString.CopyFromUtf8("jobs/2"), Value = ByteString.CopyFromUtf8("y") }, asBob);
        Assert.True(await watch.ResponseStream.MoveNext(bounded.Token));
        var events = watch.ResponseStream.Current;

        // kv with etcdctl's --user (and --password), against the node that did not take the changes.
        var url = _akkakv.Url(2);
        var kvGet = await KvCluster.Tests.Client.EtcdCliIntegrationTests.RunAt(url, null, "get", "jobs/1", "--user", "bob:bobpw");
        var kvPassword = await KvCluster.Tests.Client.EtcdCliIntegrationTests.RunAt(url, null, "get", "jobs/1", "--user", "bob", "--password", "bobpw");
        var kvDenied = await KvCluster.Tests.Client.EtcdCliIntegrationTests.RunAt(url, null, "put", "other", "x", "--user", "bob:bobpw");
        var kvNobody = await KvCluster.Tests.Client.EtcdCliIntegrationTests.RunAt(url, null, "get", "jobs/1");
        var kvWrong = await KvCluster.Tests.Client.EtcdCliIntegrationTests.RunAt(url, null, "get", "jobs/1", "--user", "bob:nope");
        var kvNoPassword = await KvCluster.Tests.Client.EtcdCliIntegrationTests.RunAt(url, null, "get", "jobs/1", "--user", "bob");

        var benchAsRoot = await KvCluster.Tests.Client.EtcdCliIntegrationTests.RunAt(url, null, "bench", "--target", "etcd", "--user", "root:rootpw", "--clients", "2", "--total", "20", "--key-space", "10", "--output", "json");
        var benchAsNobody = await KvCluster.Tests.Client.EtcdCliIntegrationTests.RunAt(url, null, "bench", "--target", "etcd", "--clients", "2", "--total", "20", "--key-space", "10", "--output", "json");
        var benchOnAkka = await KvCluster.Tests.Client.EtcdCliIntegrationTests.RunAt(url, null, "bench", "--target", "akkakv", "--user", "root:rootpw", "--total", "1");

        Assert.True(benchAsRoot.Code == 0, benchAsRoot.Error);
        Assert.Contains("\"errors\":0,", benchAsRoot.Out, StringComparison.Ordinal);
        Assert.DoesNotContain("\"errors\":0,", benchAsNobody.Out, StringComparison.Ordinal);
        Assert.Equal(KvCluster.Client.Cli.ExitCodes.Usage, benchOnAkka.Code);
        Assert.True(kvGet.Code == 0, kvGet.Error);
        Assert.Equal("jobs/1\nx\n", kvGet.Out);
        Assert.Equal("jobs/1\nx\n", kvPassword.Out);
        Assert.Equal(KvCluster.Client.Cli.ExitCodes.Rejected, kvDenied.Code);
        Assert.Contains("etcdserver: permission denied", kvDenied.Error, StringComparison.Ordinal);
        Assert.Equal(KvCluster.Client.Cli.ExitCodes.Rejected, kvNobody.Code);
        Assert.Contains("etcdserver: user name is empty", kvNobody.Error, StringComparison.Ordinal);
        Assert.Contains("etcdserver: authentication failed", kvWrong.Error, StringComparison.Ordinal);
        Assert.Equal(KvCluster.Client.Cli.ExitCodes.Usage, kvNoPassword.Code);
        Assert.Contains("--password", kvNoPassword.Error, StringComparison.Ordinal);
        Assert.Equal(StatusCode.PermissionDenied, denied.StatusCode);
        Assert.Equal("etcdserver: permission denied", denied.Status.Detail);
        Assert.Equal(StatusCode.Unauthenticated, forged.StatusCode);
        Assert.Equal("etcdserver: invalid auth token", forged.Status.Detail);
        Assert.Equal(StatusCode.PermissionDenied, admin.StatusCode);
        Assert.True(refused is { Created: true, Canceled: true, CancelReason: "etcdserver: permission denied" });
        Assert.True(created is { Created: true, Canceled: false });
        Assert.Equal("jobs/2", Assert.Single(events.Events).Kv.Key.ToStringUtf8());
    }

    /// <summary>
    /// etcd's JSON gateway for auth (<c>POST /v3/auth/...</c>, a token in the <c>Authorization</c> header) on both
    /// systems: the same statuses, error bodies and fields. It leaves etcd as it found it (disabled, no root).
    /// </summary>
    [Fact]
    public async Task TheJsonGateway_EnablesAuthenticatesAndRefuses_AsEtcds()
    {
        foreach (var (system, url) in new[] { ("etcd", $"http://{_etcd.Endpoint}"), ("akkakv", _akkakv.Url(1)) })
        {
            using var http = new HttpClient { BaseAddress = new Uri(url), Timeout = TimeSpan.FromSeconds(30) };
            async Task<(HttpStatusCode Status, JsonNode Body)> PostAsync(string path, string body, string? token = null)
            {
                using var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = new StringContent(body) };
                if (token is not null)
                {
                    request.Headers.TryAddWithoutValidation("Authorization", token);
                }

                using var response = await http.SendAsync(request);
                return (response.StatusCode, JsonNode.Parse(await response.Content.ReadAsStringAsync())!);
            }

            await PostAsync("/v3/auth/user/add", """{"name":"root","password":"gwpw"}""");
            await PostAsync("/v3/auth/role/add", """{"name":"root"}""");
            var granted = await PostAsync("/v3/auth/user/grant", """{"user":"root","role":"root"}""");
            var enabled = await PostAsync("/v3/auth/enable", "{}");
            var anonymous = await PostAsync("/v3/kv/put", """{"key":"Z3c=","value":"MQ=="}""");
            var wrong = await PostAsync("/v3/auth/authenticate", """{"name":"root","password":"nope"}""");
            var authenticated = await PostAsync("/v3/auth/authenticate", """{"name":"root","password":"gwpw"}""");
            var token = (string)authenticated.Body["token"]!;
            var put = await PostAsync("/v3/kv/put", """{"key":"Z3c=","value":"MQ=="}""", token);
            var users = await PostAsync("/v3/auth/user/list", "{}", token);
            var role = await PostAsync("/v3/auth/role/get", """{"role":"root"}""", token);
            var forged = await PostAsync("/v3/kv/range", """{"key":"Z3c="}""", "forged.token");
            var disabled = await PostAsync("/v3/auth/disable", "{}", token);
            await PostAsync("/v3/auth/user/delete", """{"name":"root"}""");
            await PostAsync("/v3/auth/role/delete", """{"role":"root"}""");

            Assert.True(granted.Status == HttpStatusCode.OK && enabled.Status == HttpStatusCode.OK, $"{system}: {granted.Body} {enabled.Body}");
            Assert.NotNull(enabled.Body["header"]);
            Assert.True(anonymous.Status == HttpStatusCode.BadRequest, $"{system}: {anonymous.Body}");
            Assert.Equal("etcdserver: user name is empty", (string)anonymous.Body["message"]!);
            Assert.Equal(3, (int)anonymous.Body["code"]!);
            Assert.Equal("etcdserver: authentication failed, invalid user ID or password", (string)wrong.Body["message"]!);
            Assert.True(put.Status == HttpStatusCode.OK, $"{system}: {put.Body}");
            Assert.Equal(["root"], users.Body["users"]!.AsArray().Select(u => (string)u!));
            Assert.True(role.Status == HttpStatusCode.OK, $"{system}: {role.Body}");
            Assert.True(forged.Status == HttpStatusCode.Unauthorized, $"{system}: {(int)forged.Status} {forged.Body}");
            Assert.Equal("etcdserver: invalid auth token", (string)forged.Body["message"]!);
            Assert.True(disabled.Status == HttpStatusCode.OK, $"{system}: {disabled.Body}");
        }
    }

    /// <summary>
    /// kv's auth commands print what etcdctl prints: the same session, etcdctl against one AkkaKv and kv against
    /// another, gives the same standard output line for line and fails at the same steps.
    /// </summary>
    [Fact]
    public async Task KvsAuthCommands_PrintWhatEtcdctlPrints()
    {
        await using var other = await EtcdTestNodes.StartAsync(1);
        string[][] session =
        [
            ["user", "add", "root:rootpw"],
            ["role", "add", "root"],
            ["role", "add", "root"],
            ["user", "grant-role", "root", "root"],
            ["role", "add", "r"],
            ["role", "grant-permission", "r", "read", "/a/", "--prefix=true"],
            ["role", "grant-permission", "r", "write", "/w"],
            ["role", "grant-permission", "r", "readwrite", "/x", "/z"],
            ["role", "grant-permission", "r", "read", "/f", "--from-key=true"],
            ["role", "get", "r"],
            ["role", "list"],
            ["user", "add", "alice:pw"],
            ["user", "grant-role", "alice", "r"],
            ["user", "get", "alice"],
            ["user", "get", "alice", "--detail=true"],
            ["user", "list"],
            ["user", "revoke-role", "alice", "r"],
            ["user", "revoke-role", "alice", "r"],
            ["role", "revoke-permission", "r", "/a/", "--prefix=true"],
            ["role", "revoke-permission", "r", "/x", "/z"],
            ["role", "revoke-permission", "r", "/f", "--from-key=true"],
            ["role", "revoke-permission", "r", "/w"],
            ["role", "revoke-permission", "r", "/w"],
            ["user", "delete", "alice"],
            ["user", "get", "alice"],
            ["role", "delete", "r"],
            ["auth", "enable"],
            ["--user", "root:rootpw", "user", "list"],
            ["--user", "root:rootpw", "auth", "disable"],
        ];

        for (var i = 0; i < session.Length; i++)
        {
            var etcdctl = await EtcdTestNodes.EtcdctlAsync($"127.0.0.1:{_akkakv.Options[0].ClientPort}", null, s_limit, session[i]);
            var kv = await KvCluster.Tests.Client.EtcdCliIntegrationTests.RunAt(other.Url(0), null, session[i]);

            var step = $"step {i} ({string.Join(' ', session[i])}):\netcdctl: exit {etcdctl.ExitCode} {etcdctl.Output}{etcdctl.Error}\nkv:      exit {kv.Code} {kv.Out}{kv.Error}";
            Assert.True(etcdctl.Output == kv.Out, step);
            Assert.True((etcdctl.ExitCode == 0) == (kv.Code == 0), step);
        }
    }
}
