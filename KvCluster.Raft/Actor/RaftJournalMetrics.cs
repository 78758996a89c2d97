using System.Diagnostics;
using System.Diagnostics.Metrics;
using Akka.Actor;

namespace KvCluster.Raft.Actor;

/// <summary>
/// The Raft journal's measurements as System.Diagnostics.Metrics instruments (meter <see cref="MeterName"/>): how long
/// one journal write takes (from the persist call to the journal's confirmation, Akka.Persistence's queueing, the SQL
/// write and its fsync: the analogue of etcd's <c>etcd_disk_wal_fsync_duration_seconds</c>) and how many log entries
/// one write carries (Raft batching: one write per Ready). Each measurement is tagged <see cref="NodeTag"/> with the
/// node's actor system address so a listener can tell apart nodes that share a process (tests); the node exports them
/// to Prometheus as <c>akkakv_journal_write_duration_seconds</c> and <c>akkakv_journal_entries_per_write</c>.
/// </summary>
public static class RaftJournalMetrics
{
    /// <summary>The meter's name.</summary>
    public const string MeterName = "AkkaKv.Raft.Journal";

    /// <summary>The tag naming the node (its actor system's address) on every measurement.</summary>
    public const string NodeTag = "node";

    /// <summary>The meter (process-wide; instruments are static).</summary>
    private static readonly Meter s_meter = new(MeterName);

    /// <summary>Seconds from a Ready's persist call to the journal's confirmation.</summary>
    public static readonly Histogram<double> WriteDuration =
        s_meter.CreateHistogram<double>("akkakv.journal.write.duration", "s", "Time of one Raft journal write (persist call to confirmation, fsync included), in seconds.");

    /// <summary>Raft log entries in one journal write (0 for a write of the hard state alone).</summary>
    public static readonly Histogram<int> EntriesPerWrite =
        s_meter.CreateHistogram<int>("akkakv.journal.entries_per_write", "{entry}", "Raft log entries carried by one journal write.");

    /// <summary>The <see cref="NodeTag"/> value of <paramref name="system"/>: its default address.</summary>
    public static string NodeOf(ActorSystem system) => ((ExtendedActorSystem)system).Provider.DefaultAddress.ToString();

    /// <summary>Records one write of <paramref name="entries"/> entries begun at <paramref name="startedTimestamp"/> (<see cref="Stopwatch.GetTimestamp"/>).</summary>
    internal static void Written(string node, long startedTimestamp, int entries)
    {
        var tag = new KeyValuePair<string, object?>(NodeTag, node);
        if (WriteDuration.Enabled)
        {
            WriteDuration.Record(Stopwatch.GetElapsedTime(startedTimestamp).TotalSeconds, tag);
        }

        if (EntriesPerWrite.Enabled)
        {
            EntriesPerWrite.Record(entries, tag);
        }
    }
}
