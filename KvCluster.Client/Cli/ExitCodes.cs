using KvCluster.Client.Bench;

namespace KvCluster.Client.Cli;

/// <summary>The process exit codes of `kv`, listed in <c>kv --help</c>.</summary>
internal static class ExitCodes
{
    /// <summary>The command did what was asked.</summary>
    public const int Success = 0;

    /// <summary>The key does not exist (data commands).</summary>
    public const int NotFound = 1;

    /// <summary>The command line is wrong: unknown command, bad or missing option.</summary>
    public const int Usage = 2;

    /// <summary>The cluster could not be reached or could not serve the request.</summary>
    public const int Unavailable = 3;

    /// <summary>The request did not complete within its deadline.</summary>
    public const int Timeout = 4;

    /// <summary>The request was refused (compare-and-swap mismatch, invalid request).</summary>
    public const int Rejected = 5;

    /// <summary>Interrupted by Ctrl+C or SIGTERM (128 + SIGINT, the shell convention).</summary>
    public const int Interrupted = 130;

    /// <summary>The help text's exit-code table.</summary>
    public const string HelpText =
        "Exit codes: 0 success, 1 key not found, 2 usage error, 3 unavailable, 4 timeout, " +
        "5 rejected (e.g. CAS mismatch / bad request), 130 interrupted.";

    /// <summary>The exit code of a benchmark failure kind.</summary>
    public static int For(BenchErrorKind kind) => kind switch
    {
        BenchErrorKind.Unavailable => Unavailable,
        BenchErrorKind.Timeout => Timeout,
        BenchErrorKind.Rejected => Rejected,
        _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, "Unknown error kind."),
    };
}
