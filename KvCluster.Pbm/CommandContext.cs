using Akka.Actor;

namespace KvCluster.Pbm;

/// <summary>What a <see cref="CommandHandler"/> gets: the actor system, the command, its parsed
/// arguments and the deadline. One instance per request.</summary>
public sealed class CommandContext
{
    internal CommandContext(ActorSystem system, ICommandPalette palette, CommandDefinition command, CommandArguments arguments, TimeSpan timeout, CancellationToken cancellationToken)
    {
        System = system;
        Palette = palette;
        Command = command;
        Arguments = arguments;
        Timeout = timeout;
        CancellationToken = cancellationToken;
    }

    /// <summary>The actor system the host serves.</summary>
    public ActorSystem System { get; }

    /// <summary>The palette the command belongs to.</summary>
    public ICommandPalette Palette { get; }

    /// <summary>The command being run.</summary>
    public CommandDefinition Command { get; }

    /// <summary>The parsed positional arguments and options.</summary>
    public CommandArguments Arguments { get; }

    /// <summary>Time left for the command (<see cref="CommandHostSettings.CommandTimeout"/>): pass it to Ask.</summary>
    public TimeSpan Timeout { get; }

    /// <summary>Fires at the deadline or when the host stops.</summary>
    public CancellationToken CancellationToken { get; }
}

/// <summary>The parsed arguments of one command line, keyed by <see cref="CommandArgument.Name"/>
/// and <see cref="CommandOption.Name"/>.</summary>
public sealed class CommandArguments
{
    private readonly IReadOnlyDictionary<string, string> _values;
    private readonly IReadOnlySet<string> _flags;

    internal CommandArguments(IReadOnlyDictionary<string, string> values, IReadOnlySet<string> flags)
    {
        _values = values;
        _flags = flags;
    }

    /// <summary>The value of a positional argument or valued option, or null when it was not given.</summary>
    public string? Get(string name) => _values.TryGetValue(name, out var value) ? value : null;

    /// <summary>True when the flag or option <paramref name="name"/> was given.</summary>
    public bool Has(string name) => _flags.Contains(name) || _values.ContainsKey(name);
}
