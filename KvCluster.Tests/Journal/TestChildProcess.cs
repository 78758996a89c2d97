using System.Diagnostics;
using System.Reflection;

// Moved from KvCluster.Tests/Persistence (whose specs of the in-house runtime are deleted) with its namespace kept,
// so the other folders that start child processes or use TempDirectory keep compiling.
namespace KvCluster.Tests.Persistence;

/// <summary>
/// Runs a static <c>int Run(string[] args)</c> of THIS test assembly in a separate process, so a
/// test can SIGKILL real work without a separate project: the child is
/// <c>dotnet exec KvCluster.Tests.dll args...</c> with the assembly registered as a .NET startup
/// hook (DOTNET_STARTUP_HOOKS). The hook (<see cref="StartupHook"/>) runs before the test SDK's
/// empty generated Main, finds the entry type named in <see cref="EntryVariable"/>, runs it and
/// exits with its code. Everything the child needs was built by <c>dotnet test</c> already.
/// </summary>
internal static class TestChildProcess
{
    /// <summary>Names the entry type (full name) in the child's environment; absent in every other process.</summary>
    public const string EntryVariable = "AKKAKV_TEST_CHILD_ENTRY";

    /// <summary>Start info for a child running <paramref name="entryType"/>'s Run with <paramref name="args"/>; stdout and stderr redirected.</summary>
    public static ProcessStartInfo CreateStartInfo(Type entryType, params string[] args)
    {
        var assembly = typeof(TestChildProcess).Assembly.Location;
        var info = new ProcessStartInfo(DotnetHost())
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        info.ArgumentList.Add("exec");
        info.ArgumentList.Add(assembly);
        foreach (var arg in args)
        {
            info.ArgumentList.Add(arg);
        }
        info.Environment["DOTNET_STARTUP_HOOKS"] = assembly;
        info.Environment[EntryVariable] = entryType.FullName;
        return info;
    }

    /// <summary>The dotnet host running this test process, else DOTNET_HOST_PATH, else "dotnet" from PATH.</summary>
    private static string DotnetHost()
    {
        var current = Environment.ProcessPath;
        if (current is not null && Path.GetFileNameWithoutExtension(current).Equals("dotnet", StringComparison.OrdinalIgnoreCase))
        {
            return current;
        }
        return Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host ? host : "dotnet";
    }

    /// <summary>Called by <see cref="StartupHook"/> in a child; returns normally in every other process.</summary>
    internal static void RunChildIfRequested()
    {
        var entry = Environment.GetEnvironmentVariable(EntryVariable);
        if (string.IsNullOrEmpty(entry))
        {
            return;
        }
        var code = 3;
        try
        {
            var type = typeof(TestChildProcess).Assembly.GetType(entry, throwOnError: true)!;
            var main = type.GetMethod("Run", BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Static, [typeof(string[])])
                ?? throw new MissingMethodException(entry, "Run(string[])");
            // GetCommandLineArgs()[0] is the assembly; the rest are the child's arguments.
            code = (int)main.Invoke(null, [Environment.GetCommandLineArgs()[1..]])!;
        }
        catch (Exception ex)
        {
            Console.Error.WriteLine($"child entry '{entry}' failed: {ex}");
        }
        Environment.Exit(code);
    }
}
