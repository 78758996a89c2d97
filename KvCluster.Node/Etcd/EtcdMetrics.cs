using System.Diagnostics.Metrics;
using KvCluster.Node.Hosting;
using KvCluster.Raft.Actor;
using KvCluster.Raft.Core;
using Prometheus;

namespace KvCluster.Node.Etcd;

/// <summary>
/// The node's Prometheus metrics (prometheus-net, one registry per node so that nodes sharing a process in tests do not
/// mix): Raft under etcd's names (<c>etcd_server_*</c>, so etcd dashboards and alerts apply), the gRPC requests under
/// go-grpc-prometheus's names (<c>grpc_server_*</c>, as etcd exports them), the journal size and write histograms, and
/// prometheus-net's process and .NET runtime metrics. Served at <c>GET /metrics</c>; docs/OPERATIONS.md lists them.
/// The journal histograms come from <see cref="RaftJournalMetrics"/>'s System.Diagnostics.Metrics instruments through a
/// <see cref="MeterListener"/> that keeps only this node's measurements. Hand-written bridge: prometheus-net's
/// MeterAdapter exports every node of the process into every registry and drops a series idle for 5 minutes.
/// </summary>
internal sealed class EtcdMetrics : IDisposable
{
    /// <summary>Listens to this node's journal measurements.</summary>
    private readonly MeterListener _journal = new();

    /// <summary>This node's tag on the journal measurements (<see cref="RaftJournalMetrics.NodeTag"/>).</summary>
    private readonly string _node;

    /// <summary>Creates the metrics of the node tagged <paramref name="node"/> (<see cref="RaftJournalMetrics.NodeOf"/>) in a new registry.</summary>
    public EtcdMetrics(string node)
    {
        _node = node;
        Registry = Prometheus.Metrics.NewCustomRegistry();
        DotNetStats.Register(Registry);
        var factory = Prometheus.Metrics.WithCustomRegistry(Registry);
        RegisterRuntimeExtras(factory);
        HasLeader = factory.CreateGauge("etcd_server_has_leader", "1 when this node knows a Raft leader, else 0.");
        IsLeader = factory.CreateGauge("etcd_server_is_leader", "1 when this node is the Raft leader, else 0.");
        IsLearner = factory.CreateGauge("etcd_server_is_learner", "1 when this node is a learner (non-voting member catching up), else 0.");
        LeaderChanges = factory.CreateCounter("etcd_server_leader_changes_seen_total", "Leader changes this node has seen (a new non-zero leader).");
        Term = factory.CreateGauge("akkakv_raft_term", "This node's current Raft term.");
        ProposalsCommitted = factory.CreateGauge("etcd_server_proposals_committed_total", "The Raft commit index this node knows (entries committed).");
        ProposalsApplied = factory.CreateGauge("etcd_server_proposals_applied_total", "The Raft index this node's state machine has applied.");
        LastIndex = factory.CreateGauge("akkakv_raft_last_index", "Index of this node's last Raft log entry.");
        ProposalsPending = factory.CreateGauge("etcd_server_proposals_pending", "Writes from this node's etcd API in flight (sent to Raft, not yet answered).");
        ProposalsFailed = factory.CreateCounter("etcd_server_proposals_failed_total", "Writes from this node's etcd API that failed (no leader, timeout, busy, stopping).");
        DbSize = factory.CreateGauge("etcd_mvcc_db_total_size_in_bytes", "Size of the node's journal on disk (raft.db and its WAL), in bytes.");
        Started = factory.CreateCounter("grpc_server_started_total", "gRPC calls started on this node.", "grpc_type", "grpc_service", "grpc_method");
        Handled = factory.CreateCounter("grpc_server_handled_total", "gRPC calls completed on this node, by status code.", "grpc_type", "grpc_service", "grpc_method", "grpc_code");
        HandlingSeconds = factory.CreateHistogram("grpc_server_handling_seconds", "Time from a gRPC call's start to its completion, in seconds.", new HistogramConfiguration
        {
            LabelNames = ["grpc_type", "grpc_service", "grpc_method"],
            Buckets = Histogram.ExponentialBuckets(0.0005, 2, 16),
        });
        JournalWriteSeconds = factory.CreateHistogram("akkakv_journal_write_duration_seconds", "Time of one Raft journal write (persist call to the journal's confirmation, fsync included), in seconds.", new HistogramConfiguration
        {
            Buckets = Histogram.ExponentialBuckets(0.0001, 2, 16), // 0.1 ms to 3.3 s
        });
        JournalEntriesPerWrite = factory.CreateHistogram("akkakv_journal_entries_per_write", "Raft log entries carried by one journal write (0: the hard state alone).", new HistogramConfiguration
        {
            Buckets = [0, 1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024],
        });
        _journal.InstrumentPublished = (instrument, listener) =>
        {
            if (instrument.Meter.Name == RaftJournalMetrics.MeterName)
            {
                listener.EnableMeasurementEvents(instrument);
            }
        };
        _journal.SetMeasurementEventCallback<double>((instrument, value, tags, _) => Record(instrument, value, tags));
        _journal.SetMeasurementEventCallback<int>((instrument, value, tags, _) => Record(instrument, value, tags));
        _journal.Start();
    }

    /// <summary>
    /// What DotNetStats leaves out and a latency tail needs (etcd's <c>go_gc_duration_seconds</c> has the same use):
    /// the time the GC paused the process, and the thread pool's threads and queued work items. Read at each scrape.
    /// </summary>
    private void RegisterRuntimeExtras(MetricFactory factory)
    {
        var gcPause = factory.CreateCounter("dotnet_gc_pause_seconds_total", "Total time the garbage collector paused the process (GC.GetTotalPauseDuration), in seconds.");
        var threads = factory.CreateGauge("dotnet_threadpool_threads", "Threads in the .NET thread pool (ThreadPool.ThreadCount).");
        var queued = factory.CreateGauge("dotnet_threadpool_queue_length", "Work items queued to the .NET thread pool and not started (ThreadPool.PendingWorkItemCount).");
        Registry.AddBeforeCollectCallback(() =>
        {
            gcPause.IncTo(GC.GetTotalPauseDuration().TotalSeconds);
            threads.Set(ThreadPool.ThreadCount);
            queued.Set(ThreadPool.PendingWorkItemCount);
        });
    }

    /// <summary>The registry <c>/metrics</c> exposes.</summary>
    public CollectorRegistry Registry { get; }

    /// <summary>etcd_server_has_leader.</summary>
    public Gauge HasLeader { get; }

    /// <summary>etcd_server_is_leader.</summary>
    public Gauge IsLeader { get; }

    /// <summary>etcd_server_is_learner.</summary>
    public Gauge IsLearner { get; }

    /// <summary>etcd_server_leader_changes_seen_total.</summary>
    public Counter LeaderChanges { get; }

    /// <summary>akkakv_raft_term.</summary>
    public Gauge Term { get; }

    /// <summary>etcd_server_proposals_committed_total (a gauge in etcd too: the commit index).</summary>
    public Gauge ProposalsCommitted { get; }

    /// <summary>etcd_server_proposals_applied_total (the applied index).</summary>
    public Gauge ProposalsApplied { get; }

    /// <summary>akkakv_raft_last_index.</summary>
    public Gauge LastIndex { get; }

    /// <summary>etcd_server_proposals_pending.</summary>
    public Gauge ProposalsPending { get; }

    /// <summary>etcd_server_proposals_failed_total.</summary>
    public Counter ProposalsFailed { get; }

    /// <summary>etcd_mvcc_db_total_size_in_bytes.</summary>
    public Gauge DbSize { get; }

    /// <summary>grpc_server_started_total.</summary>
    public Counter Started { get; }

    /// <summary>grpc_server_handled_total.</summary>
    public Counter Handled { get; }

    /// <summary>grpc_server_handling_seconds.</summary>
    public Histogram HandlingSeconds { get; }

    /// <summary>akkakv_journal_write_duration_seconds.</summary>
    public Histogram JournalWriteSeconds { get; }

    /// <summary>akkakv_journal_entries_per_write.</summary>
    public Histogram JournalEntriesPerWrite { get; }

    /// <summary>Sets the Raft gauges from <paramref name="status"/>; counts a leader change against <paramref name="previous"/>.</summary>
    public void Observe(RaftStatus status, RaftStatus? previous)
    {
        HasLeader.Set(status.Leader == 0 ? 0 : 1);
        IsLeader.Set(status.Role == RaftRole.Leader ? 1 : 0);
        IsLearner.Set(status.Learners.Contains(status.NodeId) ? 1 : 0);
        Term.Set(status.Term);
        ProposalsCommitted.Set(status.Commit);
        ProposalsApplied.Set(status.Applied);
        LastIndex.Set(status.LastIndex);
        if (status.Leader != 0 && status.Leader != (previous?.Leader ?? 0))
        {
            LeaderChanges.Inc();
        }
    }

    /// <summary>Sets the journal size of <paramref name="node"/>.</summary>
    public void ObserveDisk(KvNode node) => DbSize.Set(EtcdMaintenanceService.JournalBytes(node));

    /// <summary>Stops listening to the journal measurements.</summary>
    public void Dispose() => _journal.Dispose();

    private void Record(Instrument instrument, double value, ReadOnlySpan<KeyValuePair<string, object?>> tags)
    {
        foreach (var tag in tags)
        {
            if (tag.Key == RaftJournalMetrics.NodeTag && !_node.Equals(tag.Value))
            {
                return;
            }
        }

        if (ReferenceEquals(instrument, RaftJournalMetrics.WriteDuration))
        {
            JournalWriteSeconds.Observe(value);
        }
        else if (ReferenceEquals(instrument, RaftJournalMetrics.EntriesPerWrite))
        {
            JournalEntriesPerWrite.Observe(value);
        }
    }
}
