using KvCluster.Raft.Core;

namespace KvCluster.Tests.Raft;

public sealed class RaftConfigTests
{
    private static RaftConfig Valid => new() { NodeId = 1, Voters = [1, 2, 3] };

    [Fact]
    public void Validate_DefaultsWithVoters_DoesNotThrow()
    {
        Valid.Validate();
    }

    public static TheoryData<string, Func<RaftConfig, RaftConfig>> BadSettings => new()
    {
        { nameof(RaftConfig.NodeId), c => c with { NodeId = 0 } },
        { nameof(RaftConfig.Voters), c => c with { Voters = [] } },
        { nameof(RaftConfig.Voters), c => c with { Voters = [2, 3] } },
        { nameof(RaftConfig.Voters), c => c with { Voters = [1, 2, 2] } },
        { nameof(RaftConfig.Voters), c => c with { Voters = [1, 0] } },
        { nameof(RaftConfig.HeartbeatIntervalTicks), c => c with { HeartbeatIntervalTicks = 0 } },
        { nameof(RaftConfig.ElectionTimeoutMinTicks), c => c with { HeartbeatIntervalTicks = 10, ElectionTimeoutMinTicks = 10 } },
        { nameof(RaftConfig.ElectionTimeoutMaxTicks), c => c with { ElectionTimeoutMinTicks = 10, ElectionTimeoutMaxTicks = 10 } },
        { nameof(RaftConfig.MaxInflightMessages), c => c with { MaxInflightMessages = 0 } },
        { nameof(RaftConfig.MaxInflightBytes), c => c with { MaxInflightBytes = 0 } },
        { nameof(RaftConfig.MaxEntriesPerMessage), c => c with { MaxEntriesPerMessage = -1 } },
        { nameof(RaftConfig.MaxBytesPerMessage), c => c with { MaxBytesPerMessage = 0 } },
        { nameof(RaftConfig.MaxUncommittedBytes), c => c with { MaxUncommittedBytes = 0 } },
    };

    [Theory]
    [MemberData(nameof(BadSettings))]
    public void Validate_BadSetting_ThrowsNamingTheSetting(string setting, Func<RaftConfig, RaftConfig> breakIt)
    {
        var ex = Assert.Throws<ArgumentException>(() => breakIt(Valid).Validate());

        Assert.Equal(setting, ex.ParamName);
        Assert.Contains(setting, ex.Message);
    }

    [Fact]
    public void RaftNode_InvalidConfig_RefusesToStart()
    {
        var ex = Assert.Throws<ArgumentException>(() =>
            new RaftNode(Valid with { Voters = [2, 3] }, new MemoryRaftStorage(), new FixedRaftRandom(10)));

        Assert.Equal(nameof(RaftConfig.Voters), ex.ParamName);
    }
}
