using System.Globalization;

namespace KvCluster.Chaos;

/// <summary>The run's settings, from <c>--name value</c> flags.</summary>
internal sealed record ChaosSettings
{
    public const string Usage =
        "usage: KvCluster.Chaos [--duration S (60)] [--clients N (8)] [--keys N (30)] [--tick-ms MS (50)]\n" +
        "         [--election-ticks-min N (10)] [--election-ticks-max N (20)] [--hold S (3)] [--calm S (2)]\n" +
        "         [--tail S (3)] [--request-timeout-ms MS (3000)] [--check-seconds S (60)] [--seed N (1)]\n" +
        "         [--lock-holders N (3; 0: no lock-holder workload)]\n" +
        "         [--serializable-reads true|false (false; true reads any node's own copy, which is NOT\n" +
        "          linearizable: a self-check that the run catches stale reads)]\n" +
        "         [--watchers N (3; etcd watchers of every key, checked for gaps, duplicates and order; 0: none)]\n" +
        "         [--work-dir DIR (temp)] [--history-out FILE (WORK/chaos-history.json)]\n" +
        "         [--node-dll PATH (KvCluster.Node/bin/Release/net10.0/KvCluster.Node.dll)]";

    public bool Help { get; init; }

    public TimeSpan Duration { get; init; } = TimeSpan.FromSeconds(60);

    public int Clients { get; init; } = 8;

    public int Keys { get; init; } = 30;

    public int TickMs { get; init; } = 50;

    public int ElectionTicksMin { get; init; } = 10;

    public int ElectionTicksMax { get; init; } = 20;

    public TimeSpan Hold { get; init; } = TimeSpan.FromSeconds(3);

    public TimeSpan Calm { get; init; } = TimeSpan.FromSeconds(2);

    public TimeSpan Tail { get; init; } = TimeSpan.FromSeconds(3);

    public TimeSpan RequestTimeout { get; init; } = TimeSpan.FromSeconds(3);

    public TimeSpan CheckBudget { get; init; } = TimeSpan.FromSeconds(60);

    public int Seed { get; init; } = 1;

    public bool SerializableReads { get; init; }

    /// <summary>Etcd watchers of every key (<see cref="ChaosWatcher"/>); 0 turns them off.</summary>
    public int Watchers { get; init; } = 3;

    /// <summary>Holders of the fenced lock workload (<see cref="LockHolder"/>); 0 turns it off.</summary>
    public int LockHolders { get; init; } = 3;

    public string WorkDir { get; init; } = Path.Combine(Path.GetTempPath(), "akkakv-chaos-" + Environment.ProcessId.ToString(CultureInfo.InvariantCulture));

    public string? HistoryOutFlag { get; init; }

    public string HistoryOut => HistoryOutFlag ?? Path.Combine(WorkDir, "chaos-history.json");

    public string NodeDll { get; init; } = Path.GetFullPath("KvCluster.Node/bin/Release/net10.0/KvCluster.Node.dll");

    public string NodeArgs => string.Create(CultureInfo.InvariantCulture,
        $"--tick-ms {TickMs} --election-ticks-min {ElectionTicksMin} --election-ticks-max {ElectionTicksMax} --watch-progress-interval-ms 500");

    /// <exception cref="ArgumentException">A flag is unknown or its value is not valid; the message names it.</exception>
    public static ChaosSettings Parse(string[] args)
    {
        var settings = new ChaosSettings();
        for (var i = 0; i < args.Length; i++)
        {
            var flag = args[i];
            if (flag is "--help" or "-h")
            {
                return settings with { Help = true };
            }

            if (i + 1 >= args.Length)
            {
                throw new ArgumentException($"{flag} needs a value");
            }

            var value = args[++i];
            settings = flag switch
            {
                "--duration" => settings with { Duration = TimeSpan.FromSeconds(Positive(flag, value)) },
                "--clients" => settings with { Clients = Positive(flag, value) },
                "--keys" => settings with { Keys = Positive(flag, value) },
                "--tick-ms" => settings with { TickMs = Positive(flag, value) },
                "--election-ticks-min" => settings with { ElectionTicksMin = Positive(flag, value) },
                "--election-ticks-max" => settings with { ElectionTicksMax = Positive(flag, value) },
                "--hold" => settings with { Hold = TimeSpan.FromSeconds(PositiveDouble(flag, value)) },
                "--calm" => settings with { Calm = TimeSpan.FromSeconds(PositiveDouble(flag, value)) },
                "--tail" => settings with { Tail = TimeSpan.FromSeconds(PositiveDouble(flag, value)) },
                "--request-timeout-ms" => settings with { RequestTimeout = TimeSpan.FromMilliseconds(Positive(flag, value)) },
                "--check-seconds" => settings with { CheckBudget = TimeSpan.FromSeconds(Positive(flag, value)) },
                "--seed" => settings with { Seed = Positive(flag, value) },
                "--watchers" => settings with { Watchers = int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var w) ? w : throw new ArgumentException($"{flag} must be a whole number, not '{value}'") },
                "--lock-holders" => settings with { LockHolders = int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var h) ? h : throw new ArgumentException($"{flag} must be a whole number, not '{value}'") },
                "--serializable-reads" => settings with { SerializableReads = bool.TryParse(value, out var b) ? b : throw new ArgumentException($"{flag} must be true or false, not '{value}'") },
                "--work-dir" => settings with { WorkDir = Path.GetFullPath(value) },
                "--history-out" => settings with { HistoryOutFlag = Path.GetFullPath(value) },
                "--node-dll" => settings with { NodeDll = Path.GetFullPath(value) },
                _ => throw new ArgumentException($"unknown flag '{flag}'"),
            };
        }

        if (!File.Exists(settings.NodeDll))
        {
            throw new ArgumentException($"--node-dll: {settings.NodeDll} does not exist (build KvCluster.Node -c Release first)");
        }

        if (settings.ElectionTicksMax < settings.ElectionTicksMin)
        {
            throw new ArgumentException("--election-ticks-max must not be below --election-ticks-min");
        }

        return settings;
    }

    private static int Positive(string flag, string value) =>
        int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var n) && n > 0
            ? n
            : throw new ArgumentException($"{flag} must be a positive whole number, not '{value}'");

    private static double PositiveDouble(string flag, string value) =>
        double.TryParse(value, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var n) && n > 0
            ? n
            : throw new ArgumentException($"{flag} must be a positive number of seconds, not '{value}'");
}
