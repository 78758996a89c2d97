using System.Reflection;
using BenchmarkDotNet.Running;

namespace KvCluster.Benchmarks;

/// <summary>
/// Entry point of every in-process benchmark and every benchmark driver process.
/// <c>dotnet run -c Release --project bench/KvCluster.Benchmarks -- NAME ...</c> runs the
/// <see cref="IBenchCommand"/> called NAME (drivers for multi-process benchmarks, raw baselines);
/// anything else goes to BenchmarkDotNet's switcher (<c>-- --filter '*PingPong*'</c>).
/// </summary>
public static class Program
{
    public static async Task<int> Main(string[] args)
    {
        var commands = typeof(Program).Assembly.GetTypes()
            .Where(t => typeof(IBenchCommand).IsAssignableFrom(t) && t is { IsAbstract: false, IsInterface: false })
            .Select(t => (IBenchCommand)Activator.CreateInstance(t)!)
            .ToDictionary(c => c.Name, StringComparer.OrdinalIgnoreCase);

        if (args.Length > 0 && commands.TryGetValue(args[0], out var command))
        {
            return await command.RunAsync(args[1..]);
        }

        if (args.Length > 0 && (args[0] == "--list-commands"))
        {
            foreach (var c in commands.Values.OrderBy(c => c.Name))
            {
                Console.WriteLine($"{c.Name,-28} {c.Description}");
            }
            return 0;
        }

        BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
        return 0;
    }
}

/// <summary>
/// A named benchmark driver run in its own process, for work BenchmarkDotNet cannot host
/// (two-process remoting, raw-socket and raw-SQLite baselines, whole clusters).
/// Implementations need a public parameterless constructor; they are discovered by reflection.
/// </summary>
public interface IBenchCommand
{
    /// <summary>The first command-line argument that selects this command.</summary>
    string Name { get; }

    /// <summary>One line for <c>--list-commands</c>.</summary>
    string Description { get; }

    /// <summary>Runs the command with the remaining arguments; returns the process exit code.</summary>
    Task<int> RunAsync(string[] args);
}
