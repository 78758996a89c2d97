using Akka.Actor;
using Grpc.Core;
using KvCluster.Client.Etcd;
using KvCluster.Tests.Node;

namespace KvCluster.Tests.Etcd;

/// <summary>etcd's Cluster and Maintenance membership calls on three real nodes, sent to a follower on purpose.</summary>
[Trait("Category", "Integration")]
public sealed class EtcdClusterServiceTests
{
    private static CallOptions Bounded => new(deadline: DateTime.UtcNow.AddSeconds(90));

    [Fact]
    public async Task MemberList_ThreeNodes_ListsEveryVoterWithItsOwnClientUrl()
    {
        await using var cluster = await KvTestCluster.StartAsync(3, clientPort: true);
        var leader = await cluster.AwaitLeaderAsync();
        var follower = Enumerable.Range(0, 3).First(i => i != leader);
        using var channel = cluster.Channel(follower);

        var list = await AwaitClientUrlsAsync(new Cluster.ClusterClient(channel));

        Assert.Equal([1UL, 2UL, 3UL], list.Members.Select(m => m.ID).Order());
        Assert.All(list.Members, m => Assert.False(m.IsLearner));
        foreach (var member in list.Members)
        {
            Assert.Equal(cluster.Url((int)member.ID - 1), Assert.Single(member.ClientURLs));
        }
    }

    [Fact]
    public async Task MemberAdd_ThroughAFollower_AddsTheJoiner_ThenMemberRemoveTakesItOut()
    {
        await using var cluster = await KvTestCluster.StartAsync(3, hooks: KvTestCluster.ManualMembership, clientPort: true);
        var leader = await cluster.AwaitLeaderAsync();
        var follower = Enumerable.Range(0, 3).First(i => i != leader);
        var joiner = await cluster.StartJoinerAsync();
        using var channel = cluster.Channel(follower);
        var members = new Cluster.ClusterClient(channel);
        await AwaitClientUrlsAsync(members);

        var added = await MemberAddRetryingAsync(members, new MemberAddRequest { PeerURLs = { $"http://127.0.0.1:{cluster.Options[joiner].Port}" } });
        var promoteVoter = await Assert.ThrowsAsync<RpcException>(() => members.MemberPromoteAsync(new MemberPromoteRequest { ID = 4 }, Bounded).ResponseAsync);
        var removed = await MemberRemoveRetryingAsync(members, 4);
        var removeAgain = await Assert.ThrowsAsync<RpcException>(() => members.MemberRemoveAsync(new MemberRemoveRequest { ID = 4 }, Bounded).ResponseAsync);

        Assert.Equal(4UL, added.Member.ID);
        Assert.Contains(added.Members, m => m.ID == 4 && !m.IsLearner);
        Assert.Equal(StatusCode.FailedPrecondition, promoteVoter.StatusCode);
        Assert.Equal("etcdserver: can only promote a learner member", promoteVoter.Status.Detail);
        Assert.DoesNotContain(removed, m => m.ID == 4);
        Assert.Equal(StatusCode.NotFound, removeAgain.StatusCode);
        Assert.Equal("etcdserver: member not found", removeAgain.Status.Detail);
    }

    [Fact]
    public async Task EtcdctlMemberAddLearner_StaysALearner_UntilMemberPromoteMakesItAVoter()
    {
        await using var cluster = await KvTestCluster.StartAsync(3, hooks: KvTestCluster.ManualMembership, clientPort: true);
        await cluster.AwaitLeaderAsync();
        var joiner = await cluster.StartJoinerAsync();
        var endpoints = string.Join(',', Enumerable.Range(0, 3).Select(i => $"127.0.0.1:{cluster.Options[i].ClientPort}"));
        using var channel = cluster.Channel(0);
        await AwaitClientUrlsAsync(new Cluster.ClusterClient(channel));

        var add = await EtcdctlRetryingAsync(endpoints, "member ID already exist", "member", "add", "node-4", "--learner", $"--peer-urls=http://127.0.0.1:{cluster.Options[joiner].Port}");
        if (add is not null)
        {
            Assert.Contains("added to cluster", add.Output);
        }

        var raftMembers = await cluster.Nodes[0]!.Raft.Ask<KvCluster.Raft.Actor.Members>(KvCluster.Raft.Actor.GetMembers.Instance, KvTestCluster.Wait);
        Assert.Contains(4UL, raftMembers.Learners);
        Assert.DoesNotContain(4UL, raftMembers.Voters);

        // A learner gets the log: a write made now reaches its state machine, and it stays a learner meanwhile.
        Assert.Equal(0, (await EtcdTestNodes.EtcdctlAsync(endpoints, null, TimeSpan.FromSeconds(40), "put", "learner-sees", "this")).ExitCode);
        Assert.Equal("learner-sees\nthis\n", await AwaitSerializableGetAsync($"127.0.0.1:{cluster.Options[joiner].ClientPort}", "learner-sees"));
        Assert.True(IsLearner(await ListAsync(endpoints), 4));
        var again = await EtcdTestNodes.EtcdctlAsync(endpoints, null, TimeSpan.FromSeconds(40), "member", "add", "node-4", "--learner", $"--peer-urls=http://127.0.0.1:{cluster.Options[joiner].Port}");
        Assert.NotEqual(0, again.ExitCode);
        Assert.Contains("member ID already exist", again.Error);

        var promote = await EtcdctlRetryingAsync(endpoints, "can only promote a learner member", "member", "promote", "4");
        if (promote is not null)
        {
            Assert.Contains("promoted", promote.Output);
        }

        Assert.False(IsLearner(await ListAsync(endpoints), 4));
        raftMembers = await cluster.Nodes[0]!.Raft.Ask<KvCluster.Raft.Actor.Members>(KvCluster.Raft.Actor.GetMembers.Instance, KvTestCluster.Wait);
        Assert.Contains(4UL, raftMembers.Voters);
        Assert.Empty(raftMembers.Learners);
    }

    [Fact]
    public async Task ALearnerAddedUnderOneLeader_GetsTheLogFromTheNextLeader()
    {
        // Only the leader that served MemberAdd knows the learner's address, and a learner never campaigns: the next
        // leader finds it among the cluster's members when its appends to it have nowhere to go.
        await using var cluster = await KvTestCluster.StartAsync(3, hooks: KvTestCluster.ManualMembership, clientPort: true);
        var leader = await cluster.AwaitLeaderAsync();
        var joiner = await cluster.StartJoinerAsync();
        using var channel = cluster.Channel(leader);
        var members = new Cluster.ClusterClient(channel);
        await AwaitClientUrlsAsync(members);
        var added = await MemberAddRetryingAsync(members, new MemberAddRequest { PeerURLs = { $"http://127.0.0.1:{cluster.Options[joiner].Port}" }, IsLearner = true });
        var learnerEndpoint = $"127.0.0.1:{cluster.Options[joiner].ClientPort}";
        Assert.Equal((ulong)joiner + 1, added.Member.ID);
        Assert.True(added.Member.IsLearner);

        var next = await MoveLeadershipAsync(cluster, leader);
        using var nextChannel = cluster.Channel(next);
        await new KV.KVClient(nextChannel).PutAsync(new PutRequest { Key = Google.Protobuf.ByteString.CopyFromUtf8("after-move"), Value = Google.Protobuf.ByteString.CopyFromUtf8("seen") }, Bounded);

        Assert.Equal("after-move\nseen\n", await AwaitSerializableGetAsync(learnerEndpoint, "after-move"));
        var raftMembers = await cluster.Nodes[next]!.Raft.Ask<KvCluster.Raft.Actor.Members>(KvCluster.Raft.Actor.GetMembers.Instance, KvTestCluster.Wait);
        Assert.Contains((ulong)joiner + 1, raftMembers.Learners);
    }

    /// <summary>Moves leadership from <paramref name="leader"/> to another of the first three nodes; returns the new leader.</summary>
    private static async Task<int> MoveLeadershipAsync(KvTestCluster cluster, int leader)
    {
        var deadline = DateTime.UtcNow + KvTestCluster.Wait;
        while (true)
        {
            var target = Enumerable.Range(0, 3).First(i => i != leader);
            cluster.Nodes[leader]!.Raft.Tell(new KvCluster.Raft.Actor.TransferLeadership((ulong)target + 1));
            await Task.Delay(500);
            var now = await cluster.AwaitLeaderAsync();
            if (now != leader && now < 3)
            {
                return now;
            }

            Assert.True(DateTime.UtcNow < deadline, $"leadership stayed on node {leader + 1}");
            leader = now;
        }
    }

    // Skipped from 2026-12-06 to 12-07: in CI it answered "leader transfer took too long" right after the first election.
    // The transfer had been abandoned (Raft gives it one election timeout, 200-400 ms at the specs' 20 ms ticks) and
    // MoveLeader never started it again; it now does (spec MoveLeader_WhoseTransferTheLeaderAbandoned_...).
    [Fact]
    public async Task MoveLeader_OnTheLeader_HandsLeadershipToTheTarget_AndOnAFollowerIsNotLeader()
    {
        await using var cluster = await KvTestCluster.StartAsync(3, clientPort: true);
        var leader = await cluster.AwaitLeaderAsync();
        var target = Enumerable.Range(0, 3).First(i => i != leader);
        using var leaderChannel = cluster.Channel(leader);
        using var targetChannel = cluster.Channel(target);

        var onFollower = await Assert.ThrowsAsync<RpcException>(() => new Maintenance.MaintenanceClient(targetChannel).MoveLeaderAsync(new MoveLeaderRequest { TargetID = (ulong)leader + 1 }, Bounded).ResponseAsync);
        await new Maintenance.MaintenanceClient(leaderChannel).MoveLeaderAsync(new MoveLeaderRequest { TargetID = (ulong)target + 1 }, Bounded);
        var status = await new Maintenance.MaintenanceClient(targetChannel).StatusAsync(new StatusRequest(), Bounded);

        Assert.Equal(StatusCode.FailedPrecondition, onFollower.StatusCode);
        Assert.Equal("etcdserver: not leader", onFollower.Status.Detail);
        Assert.Equal((ulong)target + 1, status.Leader);
    }

    [Fact]
    public async Task MoveLeader_WhoseTransferTheLeaderAbandoned_IsStartedAgain_AndTheTargetLeads()
    {
        await using var cluster = await KvTestCluster.StartAsync(3, pbm: true, tune: o => o with { FaultInjection = true }, clientPort: true);
        for (var attempt = 1; ; attempt++)
        {
            var leader = await cluster.AwaitLeaderAsync();
            var target = Enumerable.Range(0, 3).First(i => i != leader);
            var commands = cluster.Nodes[leader]!.Commands!;
            using var leaderChannel = cluster.Channel(leader);
            using var targetChannel = cluster.Channel(target);

            // Nothing the leader sends reaches the target (its appends, the TimeoutNow), so the transfer cannot end; the
            // leader abandons it after an election timeout (10-20 ticks of 20 ms here). The link comes back well after that.
            var cut = await commands.ExecuteAsync($"fault blackhole {cluster.Options[target].Endpoint} out");
            Assert.True(cut.Status == KvCluster.Pbm.CommandStatus.Ok, cut.Body);
            var moving = new Maintenance.MaintenanceClient(leaderChannel).MoveLeaderAsync(new MoveLeaderRequest { TargetID = (ulong)target + 1 }, Bounded).ResponseAsync;
            await Task.WhenAny(moving, Task.Delay(TimeSpan.FromSeconds(1.5)));
            var endedEarly = moving.IsCompleted;
            var healed = await commands.ExecuteAsync("fault heal");
            Assert.True(healed.Status == KvCluster.Pbm.CommandStatus.Ok, healed.Body);
            if (endedEarly && attempt < 3)
            {
                // The premise did not hold on a loaded machine (CI 17d6786): the third node missed the leader's
                // heartbeats long enough to let the cut-off target win an election of its own, or the leader lost its
                // lead before the call. Neither is the case under test; the scenario runs again, bounded.
                await moving.ContinueWith(_ => { }, TaskScheduler.Default);
                continue;
            }

            Assert.False(endedEarly, $"MoveLeader ended while the target could not be reached: {(moving.IsFaulted ? moving.Exception!.InnerException!.Message : "answered")}");
            await moving;
            var status = await new Maintenance.MaintenanceClient(targetChannel).StatusAsync(new StatusRequest(), Bounded);

            Assert.Equal((ulong)target + 1, status.Leader);
            return;
        }
    }

    [Fact]
    public async Task HashKV_AfterAWorkload_IsEqualOnEveryNode()
    {
        await using var cluster = await KvTestCluster.StartAsync(3, clientPort: true);
        var leader = await cluster.AwaitLeaderAsync();
        var channels = Enumerable.Range(0, 3).Select(i => cluster.Channel(i)).ToArray();
        try
        {
            var kv = new KV.KVClient(channels[leader]);
            PutResponse last = null!;
            for (var i = 0; i < 20; i++)
            {
                last = await kv.PutAsync(new PutRequest { Key = Google.Protobuf.ByteString.CopyFromUtf8($"h{i % 7}"), Value = Google.Protobuf.ByteString.CopyFromUtf8($"v{i}") }, Bounded);
            }

            await kv.DeleteRangeAsync(new DeleteRangeRequest { Key = Google.Protobuf.ByteString.CopyFromUtf8("h3") }, Bounded);
            var revision = last.Header.Revision + 1;
            var hashes = new List<HashKVResponse>();
            foreach (var channel in channels)
            {
                var deadline = DateTime.UtcNow + KvTestCluster.Wait;
                while (true)
                {
                    try
                    {
                        hashes.Add(await new Maintenance.MaintenanceClient(channel).HashKVAsync(new HashKVRequest { Revision = revision }, Bounded));
                        break;
                    }
                    catch (RpcException e) when (e.StatusCode == StatusCode.OutOfRange && e.Status.Detail.Contains("future", StringComparison.Ordinal) && DateTime.UtcNow < deadline)
                    {
                        await Task.Delay(50); // this replica has not applied the revision yet
                    }
                }
            }

            Assert.All(hashes, h => Assert.Equal(hashes[0].Hash, h.Hash));
            Assert.All(hashes, h => Assert.Equal(revision, h.HashRevision));
            Assert.Equal([1UL, 2UL, 3UL], hashes.Select(h => h.Header.MemberId).Order());
        }
        finally
        {
            foreach (var channel in channels)
            {
                channel.Dispose();
            }
        }
    }

    /// <summary>The member list once every member shows a client URL (it appears when the member is in the Akka cluster).</summary>
    private static async Task<MemberListResponse> AwaitClientUrlsAsync(Cluster.ClusterClient members)
    {
        var deadline = DateTime.UtcNow + KvTestCluster.Wait;
        MemberListResponse list;
        do
        {
            list = await members.MemberListAsync(new MemberListRequest(), Bounded);
        }
        while (list.Members.Any(m => m.ClientURLs.Count == 0) && DateTime.UtcNow < deadline && await Pause());

        return list;
    }

    /// <summary>
    /// MemberAdd retried while it fails because the leader changed (an election on a loaded machine). An add that failed
    /// so may still have been applied (etcd's "leader changed" leaves it unknown; CI 65662b4 saw the retry refused with
    /// "member ID already exist"): after one, that refusal counts as done, and the member is read from the member list.
    /// </summary>
    private static async Task<MemberAddResponse> MemberAddRetryingAsync(Cluster.ClusterClient members, MemberAddRequest request)
    {
        var leaderChanged = false;
        for (var attempt = 0; ; attempt++)
        {
            try
            {
                return await members.MemberAddAsync(request, Bounded).ResponseAsync;
            }
            catch (RpcException e) when (attempt < 50 && e.StatusCode == StatusCode.Unavailable)
            {
                leaderChanged = true;
                await Task.Delay(200);
            }
            catch (RpcException e) when (attempt < 50 && e.StatusCode == StatusCode.FailedPrecondition && e.Status.Detail.StartsWith("etcdserver: re-configuration failed", StringComparison.Ordinal))
            {
                // The add that failed with "leader changed" is still being applied by the new leader: wait for it.
                await Task.Delay(200);
            }
            catch (RpcException e) when (leaderChanged && e.StatusCode == StatusCode.FailedPrecondition && e.Status.Detail == "etcdserver: member ID already exist")
            {
                // The leader's configuration has the member; the follower asked may not have applied it yet. The list
                // gives the member's Akka address (akka.tcp://system@host:port), the request an http:// URL of the same
                // host and port (CI e7bd8be and bfc5936: matched by the whole URL, the member was never found).
                bool Added(Member m) => m.PeerURLs.Any(p => request.PeerURLs.Any(r => SameHostAndPort(p, r)));
                var list = await MemberListWhenAsync(members, l => l.Members.Any(Added));
                var member = Assert.Single(list.Members, Added);
                return new MemberAddResponse { Header = list.Header, Member = member, Members = { list.Members } };
            }
        }
    }

    /// <summary>
    /// MemberRemove retried while it fails because the leader changed; returns the members after it. A removal that
    /// failed so may still have been applied (etcd's "leader changed" leaves it unknown): after one, a retry refused with
    /// "member not found" counts as done, and the member list is read instead.
    /// </summary>
    private static async Task<IReadOnlyList<Member>> MemberRemoveRetryingAsync(Cluster.ClusterClient members, ulong id)
    {
        var leaderChanged = false;
        for (var attempt = 0; ; attempt++)
        {
            try
            {
                return (await members.MemberRemoveAsync(new MemberRemoveRequest { ID = id }, Bounded).ResponseAsync).Members;
            }
            catch (RpcException e) when (attempt < 50 && e.StatusCode == StatusCode.Unavailable)
            {
                leaderChanged = true;
                await Task.Delay(200);
            }
            catch (RpcException e) when (leaderChanged && e.StatusCode == StatusCode.NotFound)
            {
                return (await MemberListWhenAsync(members, l => l.Members.All(m => m.ID != id))).Members;
            }
        }
    }

    /// <summary>True when two URLs (any scheme, with or without user info) name the same host and port.</summary>
    private static bool SameHostAndPort(string a, string b) =>
        Uri.TryCreate(a, UriKind.Absolute, out var x) && Uri.TryCreate(b, UriKind.Absolute, out var y) && x.Host == y.Host && x.Port == y.Port;

    /// <summary>
    /// The member list of the node asked, read again (every 100 ms, for at most 20 s) until <paramref name="applied"/>
    /// holds: a change the leader has committed reaches a follower's configuration one heartbeat later. Returns the
    /// last list read, whether or not it holds, so that the caller's assertion names what is missing.
    /// </summary>
    private static async Task<MemberListResponse> MemberListWhenAsync(Cluster.ClusterClient members, Func<MemberListResponse, bool> applied)
    {
        var until = DateTime.UtcNow.AddSeconds(20);
        while (true)
        {
            var list = await members.MemberListAsync(new MemberListRequest(), Bounded);
            if (applied(list) || DateTime.UtcNow > until)
            {
                return list;
            }

            await Task.Delay(100);
        }
    }

    /// <summary>
    /// etcdctl that must succeed; retried while it fails because the leader changed (an election on a loaded machine), or
    /// because the node asked does not know the leader's client URL yet.
    /// A change that failed so may still have been applied (etcd's "leader changed" leaves it unknown): after one, a
    /// retry refused with <paramref name="appliedError"/> (the change is already there) counts as done and returns null.
    /// </summary>
    private static async Task<EtcdctlResult?> EtcdctlRetryingAsync(string endpoints, string appliedError, params string[] args)
    {
        var leaderChanged = false;
        for (var attempt = 0; ; attempt++)
        {
            var result = await EtcdTestNodes.EtcdctlAsync(endpoints, null, TimeSpan.FromSeconds(40), args);
            if (result.ExitCode == 0)
            {
                return result;
            }

            if (leaderChanged && result.Error.Contains(appliedError, StringComparison.Ordinal))
            {
                return null;
            }

            // A follower that forwards a member change to the leader needs the leader's client URL, which reaches each
            // node's Akka.Cluster view by gossip: refused until then, with nothing done, so asked again.
            var leaderUnknownYet = result.Error.Contains("announces no client URL yet", StringComparison.Ordinal);
            leaderChanged = result.Error.Contains("leader changed", StringComparison.Ordinal);
            Assert.True(attempt < 20 && (leaderChanged || leaderUnknownYet), $"etcdctl {string.Join(' ', args)} exited {result.ExitCode}: {result.Error}");
            await Task.Delay(200);
        }
    }

    private static async Task<System.Text.Json.JsonDocument> ListAsync(string endpoints)
    {
        var list = await EtcdTestNodes.EtcdctlAsync(endpoints, null, TimeSpan.FromSeconds(40), "member", "list", "-w", "json");
        Assert.True(list.ExitCode == 0, list.Error);
        return System.Text.Json.JsonDocument.Parse(list.Output);
    }

    /// <summary>Whether member <paramref name="id"/> of etcdctl's JSON member list is a learner (etcdctl omits false).</summary>
    private static bool IsLearner(System.Text.Json.JsonDocument list, ulong id)
    {
        using (list)
        {
            var member = list.RootElement.GetProperty("members").EnumerateArray().Single(m => m.GetProperty("ID").GetUInt64() == id);
            return member.TryGetProperty("isLearner", out var learner) && learner.GetBoolean();
        }
    }

    /// <summary>A serializable get from one node until it shows the key (that node has applied the write).</summary>
    private static async Task<string> AwaitSerializableGetAsync(string endpoint, string key)
    {
        var deadline = DateTime.UtcNow + KvTestCluster.Wait;
        while (true)
        {
            var get = await EtcdTestNodes.EtcdctlAsync(endpoint, null, TimeSpan.FromSeconds(40), "get", key, "--consistency=s");
            if ((get.ExitCode == 0 && get.Output.Length > 0) || DateTime.UtcNow > deadline)
            {
                return get.Output;
            }

            await Task.Delay(100);
        }
    }

    private static async Task<bool> Pause()
    {
        await Task.Delay(100);
        return true;
    }
}
