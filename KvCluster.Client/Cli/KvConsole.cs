using KvCluster.Client.Bench;

namespace KvCluster.Client.Cli;

/// <summary>
/// What `kv` needs from its process: output streams, environment variables, whether a person is
/// watching, and how bench targets are created. Tests pass their own to run the CLI in-process.
/// </summary>
internal sealed class KvConsole
{
    /// <summary>Standard output: results.</summary>
    public required TextWriter Out { get; init; }

    /// <summary>Standard error: errors, usage.</summary>
    public required TextWriter Error { get; init; }

    /// <summary>Standard input: the lines of <c>kv shell</c>.</summary>
    public TextReader In { get; init; } = TextReader.Null;

    /// <summary>Reads an environment variable (null when unset).</summary>
    public Func<string, string?> GetEnvironmentVariable { get; init; } = Environment.GetEnvironmentVariable;

    /// <summary>True when standard output is a terminal, so live progress may be drawn.</summary>
    public bool IsInteractive { get; init; }

    /// <summary>True for the real process: SIGINT/SIGTERM cancel the running command instead of killing it.</summary>
    public bool HandleSignals { get; init; }

    /// <summary>Creates the bench target for a <c>--target</c> name; null means "not available in this build".</summary>
    public Func<string, IBenchTarget?> CreateBenchTarget { get; init; } = BenchTargets.Create;

    /// <summary>The console of this process.</summary>
    public static KvConsole System() => new()
    {
        Out = Console.Out,
        Error = Console.Error,
        In = Console.In,
        IsInteractive = !Console.IsOutputRedirected,
        HandleSignals = true,
    };
}
