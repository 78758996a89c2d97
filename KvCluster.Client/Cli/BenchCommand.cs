using System.CommandLine;
using System.CommandLine.Parsing;
using System.Globalization;
using KvCluster.Client.Bench;

namespace KvCluster.Client.Cli;

/// <summary>
/// <c>kv bench</c>: a closed-loop load generator in the manner of etcd's <c>benchmark</c> tool.
/// This file declares the options and turns them into validated <see cref="BenchSettings"/>;
/// <c>BenchCommand.Run.cs</c> runs the load.
/// </summary>
internal static partial class BenchCommand
{
    /// <summary>Largest accepted <c>--value-size</c>: etcd's default request limit is 1.5 MiB.</summary>
    public const int MaxValueSize = 1024 * 1024;

    /// <summary>Builds the <c>bench</c> command.</summary>
    public static Command Create(GlobalOptions globals, KvConsole console)
    {
        var options = new BenchOptions();
        var command = new Command("bench", "Load a cluster with puts and gets from many closed-loop clients and report throughput and latency percentiles.");
        foreach (var option in options.All)
        {
            command.Options.Add(option);
        }

        command.SetAction((parseResult, cancellationToken) =>
        {
            if (!TryCreateSettings(parseResult, globals, options, console, out var settings, out var error))
            {
                return Task.FromResult(KvCli.UsageError(parseResult, error, console));
            }

            var json = parseResult.GetValue(globals.Output) == "json";
            return RunAsync(settings, json, console, cancellationToken);
        });
        return command;
    }

    /// <summary>
    /// Validates the options as a whole (endpoints present and well-formed, counts in range,
    /// exactly one of duration and total) and builds the settings, or names the first problem.
    /// </summary>
    internal static bool TryCreateSettings(
        ParseResult parseResult,
        GlobalOptions globals,
        BenchOptions options,
        KvConsole console,
        out BenchSettings settings,
        out string error)
    {
        settings = null!;
        var endpointsText = parseResult.GetValue(globals.Endpoints) ?? console.GetEnvironmentVariable(KvCli.EndpointsVariable);
        if (string.IsNullOrWhiteSpace(endpointsText))
        {
            error = $"no endpoints: pass --endpoints host:port,... or set {KvCli.EndpointsVariable}";
            return false;
        }

        var endpoints = BenchEndpoint.TryParseList(endpointsText, out var endpointError);
        if (endpoints is null)
        {
            error = $"--endpoints: {endpointError}";
            return false;
        }

        var clients = parseResult.GetValue(options.Clients);
        var conns = parseResult.GetValue(options.Conns);
        var duration = parseResult.GetValue(options.Duration);
        var total = parseResult.GetValue(options.Total);
        var keySpace = parseResult.GetValue(options.KeySpace);
        var keySize = parseResult.GetValue(options.KeySize);
        var valueSize = parseResult.GetValue(options.ValueSize);
        var readRatio = parseResult.GetValue(options.ReadRatio);
        var timeout = parseResult.GetValue(options.RequestTimeout);
        var warmup = parseResult.GetValue(options.Warmup);
        var txnOps = parseResult.GetValue(options.TxnOps);
        string? problem =
            clients < 1 ? $"--clients must be at least 1 (got {clients})"
            : conns < 1 ? $"--conns must be at least 1 (got {conns})"
            : conns > clients ? $"--conns ({conns}) must not exceed --clients ({clients}): a connection without a client carries no load"
            : duration is not null && total is not null ? "give either --duration or --total, not both"
            : duration is { } d && d <= TimeSpan.Zero ? "--duration must be positive"
            : total is < 1 ? $"--total must be at least 1 (got {total})"
            : keySpace < 1 ? $"--key-space must be at least 1 (got {keySpace})"
            : keySize < KeyFormatter.DigitsFor(keySpace) ? $"--key-size {keySize} is too small for --key-space {keySpace}: keys are {KeyFormatter.DigitsFor(keySpace)}-digit decimal"
            : keySize > 4096 ? $"--key-size must be at most 4096 (got {keySize})"
            : valueSize is < 0 or > MaxValueSize ? $"--value-size must be between 0 and {MaxValueSize} (got {valueSize})"
            : !(readRatio is >= 0 and <= 1) ? $"--read-ratio must be between 0 and 1 (got {readRatio.ToString(CultureInfo.InvariantCulture)})"
            : timeout <= TimeSpan.Zero ? "--request-timeout must be positive"
            : warmup < TimeSpan.Zero ? "--warmup must not be negative"
            : txnOps is < 0 or > 128 ? $"--txn-ops must be between 0 and 128 (got {txnOps})"
            : txnOps > keySpace ? $"--txn-ops ({txnOps}) must not exceed --key-space ({keySpace}): a txn's keys are distinct"
            : null;
        if (problem is not null)
        {
            error = problem;
            return false;
        }

        var (user, password) = UserOf(parseResult);
        if (user is not null && (user.Length == 0 || password is null))
        {
            error = "--user: give name:password, or the name with --password";
            return false;
        }

        if (user is not null && parseResult.GetValue(options.Target) != "etcd")
        {
            error = "--user applies to --target etcd (the Akka.NET path is not subject to etcd's auth)";
            return false;
        }

        settings = new BenchSettings
        {
            User = user,
            Password = password,
            Target = parseResult.GetValue(options.Target)!,
            Endpoints = endpoints,
            Clients = clients,
            Connections = conns,
            Duration = total is null ? duration ?? TimeSpan.FromSeconds(10) : null,
            Total = total,
            KeySpace = keySpace,
            KeySize = keySize,
            ValueSize = valueSize,
            ReadRatio = readRatio,
            TxnOps = txnOps,
            Consistency = parseResult.GetValue(options.Consistency) == "s" ? ReadConsistency.Serializable : ReadConsistency.Linearizable,
            RequestTimeout = timeout,
            Warmup = warmup,
            Seed = parseResult.GetValue(options.Seed),
        };
        error = string.Empty;
        return true;
    }

    /// <summary>The root command's <c>--user</c> (name or name:password) and <c>--password</c>, when given.</summary>
    private static (string? User, string? Password) UserOf(ParseResult parse)
    {
        var options = parse.RootCommandResult.Command.Options;
        if (options.FirstOrDefault(o => o.Name == "--user") is not Option<string?> userOption || parse.GetValue(userOption) is not { } user)
        {
            return (null, null);
        }

        var colon = user.IndexOf(':', StringComparison.Ordinal);
        if (colon >= 0)
        {
            return (user[..colon], user[(colon + 1)..]);
        }

        return (user, options.FirstOrDefault(o => o.Name == "--password") is Option<string?> passwordOption ? parse.GetValue(passwordOption) : null);
    }

    /// <summary>
    /// Parses a duration: a number with unit <c>ms</c>, <c>s</c>, <c>m</c> or <c>h</c>
    /// (<c>500ms</c>, <c>10s</c>, <c>2m</c>), a bare number of seconds, or <c>hh:mm:ss</c>.
    /// </summary>
    internal static bool TryParseDuration(string text, out TimeSpan duration)
    {
        text = text.Trim();
        (string Suffix, double Seconds)[] units = [("ms", 0.001), ("s", 1), ("m", 60), ("h", 3600)];
        foreach (var (suffix, seconds) in units)
        {
            if (text.EndsWith(suffix, StringComparison.OrdinalIgnoreCase)
                && double.TryParse(text[..^suffix.Length], NumberStyles.Float, CultureInfo.InvariantCulture, out var value)
                && double.IsFinite(value) && Math.Abs(value * seconds) < TimeSpan.MaxValue.TotalSeconds)
            {
                duration = TimeSpan.FromSeconds(value * seconds);
                return true;
            }
        }

        if (double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var plain)
            && double.IsFinite(plain) && Math.Abs(plain) < TimeSpan.MaxValue.TotalSeconds)
        {
            duration = TimeSpan.FromSeconds(plain);
            return true;
        }

        return TimeSpan.TryParse(text, CultureInfo.InvariantCulture, out duration);
    }

    internal static TimeSpan? ParseDurationArgument(ArgumentResult result)
    {
        var text = result.Tokens.Count == 1 ? result.Tokens[0].Value : string.Empty;
        if (TryParseDuration(text, out var duration))
        {
            return duration;
        }

        result.AddError($"'{text}' is not a duration for {((OptionResult)result.Parent!).Option.Name} (examples: 500ms, 10s, 2m)");
        return null;
    }

    /// <summary>The options of <c>kv bench</c>.</summary>
    internal sealed class BenchOptions
    {
        /// <summary>Creates the option objects with their defaults and help text.</summary>
        public BenchOptions()
        {
            Target.AcceptOnlyFromAmong(BenchTargets.Names);
            Consistency.AcceptOnlyFromAmong("l", "s");
            All = [Target, Clients, Conns, Duration, Total, KeySpace, KeySize, ValueSize, ReadRatio, TxnOps, Consistency, Warmup, RequestTimeout, Seed];
        }

        /// <summary>Every option, in help order.</summary>
        public Option[] All { get; }

        /// <summary><c>--target</c>.</summary>
        public Option<string> Target { get; } = new("--target")
        {
            Description = "System to load: etcd (any etcd v3 gRPC endpoint: etcd, or AkkaKv's client port) or akkakv (AkkaKv through its Akka.NET ClusterClient).",
            DefaultValueFactory = _ => BenchTargets.AkkaKv,
        };

        /// <summary><c>--clients</c>.</summary>
        public Option<int> Clients { get; } = new("--clients")
        {
            Description = "Concurrent clients, each with one request in flight (closed loop).",
            DefaultValueFactory = _ => 1,
        };

        /// <summary><c>--conns</c>.</summary>
        public Option<int> Conns { get; } = new("--conns")
        {
            Description = "Connections the clients share (client i uses connection i mod conns; connection j goes to endpoint j mod endpoints).",
            DefaultValueFactory = _ => 1,
        };

        /// <summary><c>--duration</c>.</summary>
        public Option<TimeSpan?> Duration { get; } = new("--duration")
        {
            Description = "Run for this long (e.g. 10s, 2m). Default 10s unless --total is given.",
            CustomParser = ParseDurationArgument,
        };

        /// <summary><c>--total</c>.</summary>
        public Option<long?> Total { get; } = new("--total")
        {
            Description = "Run until this many requests have been issued, instead of --duration.",
        };

        /// <summary><c>--key-space</c>.</summary>
        public Option<long> KeySpace { get; } = new("--key-space")
        {
            Description = "Number of distinct keys; each request picks one uniformly at random.",
            DefaultValueFactory = _ => 10_000,
        };

        /// <summary><c>--key-size</c>.</summary>
        public Option<int> KeySize { get; } = new("--key-size")
        {
            Description = "Key size in bytes (zero-padded decimal).",
            DefaultValueFactory = _ => 8,
        };

        /// <summary><c>--value-size</c>.</summary>
        public Option<int> ValueSize { get; } = new("--value-size")
        {
            Description = "Value size in bytes.",
            DefaultValueFactory = _ => 256,
        };

        /// <summary><c>--read-ratio</c>.</summary>
        public Option<double> ReadRatio { get; } = new("--read-ratio")
        {
            Description = "Fraction of requests that are gets: 0 = all puts, 1 = all gets, 0.9 = 90% gets.",
            DefaultValueFactory = _ => 0,
        };

        /// <summary><c>--txn-ops</c>.</summary>
        public Option<int> TxnOps { get; } = new("--txn-ops")
        {
            Description = "Make every write one txn of this many puts on consecutive keys (etcd target; 0 = plain puts).",
            DefaultValueFactory = _ => 0,
        };

        /// <summary><c>--consistency</c>.</summary>
        public Option<string> Consistency { get; } = new("--consistency")
        {
            Description = "Consistency of gets: l (linearizable) or s (serializable).",
            DefaultValueFactory = _ => "l",
        };

        /// <summary><c>--warmup</c>.</summary>
        public Option<TimeSpan> Warmup { get; } = new("--warmup")
        {
            Description = "Run the same load this long first and discard it (JIT tiering, connection warm-up); 0 for none.",
            DefaultValueFactory = _ => TimeSpan.FromSeconds(1),
            CustomParser = r => ParseDurationArgument(r) ?? TimeSpan.Zero,
            HelpName = "duration",
        };

        /// <summary><c>--request-timeout</c>.</summary>
        public Option<TimeSpan> RequestTimeout { get; } = new("--request-timeout")
        {
            Description = "Deadline of one request; a slower request counts as a timeout error.",
            DefaultValueFactory = _ => TimeSpan.FromSeconds(10),
            CustomParser = r => ParseDurationArgument(r) ?? TimeSpan.Zero,
            HelpName = "duration",
        };

        /// <summary><c>--seed</c>.</summary>
        public Option<int> Seed { get; } = new("--seed")
        {
            Description = "Seed of the key generators, to repeat a run's key sequence.",
            DefaultValueFactory = _ => 1,
        };
    }
}
