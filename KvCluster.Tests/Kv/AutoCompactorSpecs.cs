using KvCluster.Node.Kv;

namespace KvCluster.Tests.Kv;

public sealed class AutoCompactorSpecs
{
    private static readonly DateTimeOffset T0 = new(2026, 12, 6, 0, 0, 0, TimeSpan.Zero);

    [Fact]
    public void RevisionMode_KeepsTheNewestRevisions()
    {
        var compactor = new AutoCompactor(new AutoCompactionSettings { Mode = AutoCompactionMode.Revision, RetainRevisions = 100 });

        Assert.Null(compactor.Next(T0, currentRevision: 50, compactRevision: KvStateMachine.NotCompacted));
        Assert.Equal(400L, compactor.Next(T0, currentRevision: 500, compactRevision: KvStateMachine.NotCompacted));
        Assert.Null(compactor.Next(T0, currentRevision: 500, compactRevision: 400));
        Assert.Equal(401L, compactor.Next(T0, currentRevision: 501, compactRevision: 400));
    }

    [Fact]
    public void PeriodicMode_CompactsToTheRevisionSeenRetainAgeAgo()
    {
        var compactor = new AutoCompactor(new AutoCompactionSettings
        {
            Mode = AutoCompactionMode.Periodic,
            RetainAge = TimeSpan.FromMinutes(10),
            CheckInterval = TimeSpan.FromMinutes(1),
        });

        long? last = null;
        for (var minute = 0; minute <= 10; minute++)
        {
            last = compactor.Next(T0.AddMinutes(minute), currentRevision: 100 + (minute * 10), compactRevision: KvStateMachine.NotCompacted);
            if (minute < 10)
            {
                Assert.Null(last);
            }
        }

        Assert.Equal(100L, last);
        Assert.Equal(110L, compactor.Next(T0.AddMinutes(11), currentRevision: 210, compactRevision: 100));
        Assert.Equal(110L, compactor.Next(T0.AddMinutes(11.5), currentRevision: 215, compactRevision: 100));
        Assert.Null(compactor.Next(T0.AddMinutes(11.7), currentRevision: 216, compactRevision: 110));
    }

    [Fact]
    public void PeriodicMode_AfterReset_WaitsAFullRetainAgeAgain()
    {
        var compactor = new AutoCompactor(new AutoCompactionSettings { Mode = AutoCompactionMode.Periodic, RetainAge = TimeSpan.FromMinutes(5) });
        compactor.Next(T0, 100, KvStateMachine.NotCompacted);

        compactor.Reset();

        Assert.Null(compactor.Next(T0.AddMinutes(6), 200, KvStateMachine.NotCompacted));
        Assert.Equal(200L, compactor.Next(T0.AddMinutes(11), 300, KvStateMachine.NotCompacted));
    }

    [Fact]
    public void Off_NeverCompacts()
    {
        var compactor = new AutoCompactor(new AutoCompactionSettings { Mode = AutoCompactionMode.Off });

        Assert.Null(compactor.Next(T0, 1_000_000, KvStateMachine.NotCompacted));
    }

    [Fact]
    public void Defaults_AreOn_ByRevision()
    {
        var settings = new AutoCompactionSettings();

        Assert.Equal(AutoCompactionMode.Revision, settings.Mode);
        Assert.Equal(AutoCompactionSettings.DefaultRetainRevisions, settings.RetainRevisions);
    }

    [Fact]
    public void InvalidSettings_NameTheSetting()
    {
        var error = Assert.Throws<ArgumentException>(() => new AutoCompactor(new AutoCompactionSettings { RetainRevisions = 0 }));

        Assert.Equal(nameof(AutoCompactionSettings.RetainRevisions), error.ParamName);
    }
}
