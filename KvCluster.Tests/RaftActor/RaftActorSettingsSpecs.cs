using KvCluster.Raft.Actor;
using KvCluster.Raft.Core;

namespace KvCluster.Tests.RaftActor;

public sealed class RaftActorSettingsSpecs
{
    private static RaftActorSettings Valid() => new()
    {
        Raft = new RaftConfig { NodeId = 1, Voters = new ulong[] { 1, 2, 3 } },
        StateMachineFactory = () => new RecordingStateMachine(),
    };

    [Fact]
    public void Props_ValidSettings_Succeeds()
    {
        var props = KvCluster.Raft.Actor.RaftActor.Props(Valid());

        Assert.Equal(typeof(KvCluster.Raft.Actor.RaftActor), props.Type);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(-5)]
    public void Props_NonPositiveTickInterval_ThrowsNamingTickInterval(int milliseconds)
    {
        var settings = Valid() with { TickInterval = TimeSpan.FromMilliseconds(milliseconds) };

        var error = Assert.Throws<ArgumentException>(() => KvCluster.Raft.Actor.RaftActor.Props(settings));

        Assert.Equal(nameof(RaftActorSettings.TickInterval), error.ParamName);
    }

    [Fact]
    public void Props_BadCoreSetting_ThrowsNamingCoreSetting()
    {
        var settings = Valid() with { Raft = new RaftConfig { NodeId = 4, Voters = new ulong[] { 1, 2, 3 } } };

        var error = Assert.Throws<ArgumentException>(() => KvCluster.Raft.Actor.RaftActor.Props(settings));

        Assert.Equal(nameof(RaftConfig.Voters), error.ParamName);
    }

    [Fact]
    public void Props_BlankPersistenceId_ThrowsNamingPersistenceId()
    {
        var settings = Valid() with { PersistenceId = " " };

        var error = Assert.Throws<ArgumentException>(() => KvCluster.Raft.Actor.RaftActor.Props(settings));

        Assert.Equal(nameof(RaftActorSettings.PersistenceId), error.ParamName);
    }

    public static TheoryData<string, Func<RaftActorSettings, RaftActorSettings>> BadCatchUpSettings => new()
    {
        { nameof(RaftActorSettings.CatchUpMaxLag), s => s with { CatchUpMaxLag = -1 } },
        { nameof(RaftActorSettings.CatchUpMaxRounds), s => s with { CatchUpMaxRounds = 0 } },
        { nameof(RaftActorSettings.CatchUpTimeout), s => s with { CatchUpTimeout = TimeSpan.FromMilliseconds(10) } },
        { nameof(RaftActorSettings.SnapshotLogRatio), s => s with { SnapshotLogRatio = -1 } },
        { nameof(RaftActorSettings.SnapshotLogRatio), s => s with { SnapshotLogRatio = double.NaN } },
        { nameof(RaftActorSettings.SnapshotMinEntries), s => s with { SnapshotMinEntries = 0 } },
        { nameof(RaftActorSettings.SnapshotOnStopRatio), s => s with { SnapshotOnStopRatio = -0.1 } },
        { nameof(RaftActorSettings.SnapshotOnStopRatio), s => s with { SnapshotOnStopRatio = double.PositiveInfinity } },
        { nameof(RaftActorSettings.SnapshotOnStopMinEntries), s => s with { SnapshotOnStopMinEntries = 0 } },
    };

    [Theory]
    [MemberData(nameof(BadCatchUpSettings))]
    public void Props_BadCatchUpSetting_ThrowsNamingIt(string setting, Func<RaftActorSettings, RaftActorSettings> breakIt)
    {
        var error = Assert.Throws<ArgumentException>(() => KvCluster.Raft.Actor.RaftActor.Props(breakIt(Valid())));

        Assert.Equal(setting, error.ParamName);
    }

    [Fact]
    public void Props_JoiningNodeWithoutVoters_Succeeds()
    {
        var settings = Valid() with { Raft = new RaftConfig { NodeId = 4, Voters = [], Join = true } };

        Assert.Equal(typeof(KvCluster.Raft.Actor.RaftActor), KvCluster.Raft.Actor.RaftActor.Props(settings).Type);
    }

    [Fact]
    public void EffectivePersistenceId_NotSet_IsRaftDashNodeId()
    {
        Assert.Equal("raft-1", Valid().EffectivePersistenceId);
    }
}
