namespace KvCluster.Pbm;

/// <summary>
/// A group of operator commands served by the <see cref="CommandHost"/>, in the manner of a
/// Petabridge.Cmd command palette: a command line <c>cluster show</c> runs the command
/// <c>show</c> of the palette named <c>cluster</c>.
/// </summary>
/// <remarks>
/// <para>Register a palette with <see cref="CommandHost.Register"/> before or after
/// <see cref="CommandHost.StartAsync"/>; names must be unique per host. The host reads
/// <see cref="Name"/>, <see cref="Description"/> and <see cref="Commands"/> once, at registration,
/// so they must not change afterwards.</para>
/// <para>A palette holds no per-system state of its own unless it wants to: every handler gets the
/// host's <see cref="CommandContext.System"/>. A palette that talks to one actor (a Raft palette
/// asking the node's RaftActor) takes that actor's ref in its constructor and Asks it from its
/// async handlers with <see cref="CommandContext.Timeout"/> and
/// <see cref="CommandContext.CancellationToken"/>.</para>
/// </remarks>
/// <example>
/// <code>
/// public sealed class RaftCommandPalette(IActorRef raft) : ICommandPalette
/// {
///     public string Name => "raft";
///     public string Description => "Raft state of this node.";
///     public IReadOnlyList&lt;CommandDefinition&gt; Commands =>
///     [
///         new("status", "Role, term, leader and indexes.", async ctx =>
///         {
///             var status = await raft.Ask&lt;RaftStatus&gt;(GetStatus.Instance, ctx.Timeout, ctx.CancellationToken);
///             return CommandResult.Ok($"role: {status.Role}");
///         }),
///         new("remove-member", "Removes a member from the configuration.", RemoveAsync)
///         {
///             Arguments = [new CommandArgument("address", "The member, akka.tcp://system@host:port.")],
///         },
///     ];
/// }
/// </code>
/// </example>
public interface ICommandPalette
{
    /// <summary>The first word of this palette's command lines: lowercase ASCII letters, digits
    /// and '-', starting with a letter, and not <c>help</c> (reserved by the host).</summary>
    string Name { get; }

    /// <summary>One line shown by <c>help</c>.</summary>
    string Description { get; }

    /// <summary>The commands, in the order <c>help</c> lists them; names unique within the palette.</summary>
    IReadOnlyList<CommandDefinition> Commands { get; }
}

/// <summary>
/// Runs one command. Called by the <see cref="CommandHost"/> on a thread-pool thread, never on an
/// actor's thread, so it may await (Ask actors, read files); it must honour
/// <see cref="CommandContext.CancellationToken"/>, which fires when
/// <see cref="CommandHostSettings.CommandTimeout"/> elapses or the host stops. Expected outcomes
/// are results (<see cref="CommandResult.Failed"/>, <see cref="CommandResult.UsageError"/>); an
/// exception is reported to the client as <c>failed</c> with its message only (no stack trace)
/// and logged by the host.
/// </summary>
/// <param name="context">The parsed arguments, the actor system and the deadline.</param>
/// <returns>The command's result.</returns>
public delegate Task<CommandResult> CommandHandler(CommandContext context);

/// <summary>
/// One command of a palette: its name, its help text, its arguments and options (which the host
/// parses and checks before calling <see cref="Handler"/>), and its handler.
/// </summary>
public sealed class CommandDefinition
{
    /// <summary>Defines a command.</summary>
    /// <param name="name">The command's word after the palette name: lowercase ASCII letters, digits and '-'.</param>
    /// <param name="description">One line shown by <c>help</c>.</param>
    /// <param name="handler">Runs the command once its arguments parsed.</param>
    public CommandDefinition(string name, string description, CommandHandler handler)
    {
        ArgumentNullException.ThrowIfNull(name);
        ArgumentNullException.ThrowIfNull(description);
        ArgumentNullException.ThrowIfNull(handler);
        Name = name;
        Description = description;
        Handler = handler;
    }

    /// <summary>The command's word after the palette name.</summary>
    public string Name { get; }

    /// <summary>One line shown by <c>help</c>.</summary>
    public string Description { get; }

    /// <summary>The handler.</summary>
    public CommandHandler Handler { get; }

    /// <summary>Positional arguments, in order. Optional ones must follow the required ones.</summary>
    public IReadOnlyList<CommandArgument> Arguments { get; init; } = [];

    /// <summary>Options (<c>-d 3</c>, <c>--depth 3</c>, <c>--depth=3</c>, or flags without a value).
    /// <c>-h</c> / <c>--help</c> is always accepted and answers the command's usage.</summary>
    public IReadOnlyList<CommandOption> Options { get; init; } = [];
}

/// <summary>A positional argument of a <see cref="CommandDefinition"/>.</summary>
/// <param name="Name">Its name, shown in the usage as <c>&lt;name&gt;</c> and used with <see cref="CommandArguments.Get"/>.</param>
/// <param name="Description">One line for the command's detailed help.</param>
/// <param name="IsRequired">False when it may be left out (usage <c>[&lt;name&gt;]</c>).</param>
public sealed record CommandArgument(string Name, string Description, bool IsRequired = true);

/// <summary>An option of a <see cref="CommandDefinition"/>.</summary>
/// <param name="Name">Its long name without dashes (<c>depth</c> for <c>--depth</c>); also the key for <see cref="CommandArguments.Get"/>.</param>
/// <param name="Description">One line for the command's detailed help.</param>
public sealed record CommandOption(string Name, string Description)
{
    /// <summary>Its one-letter alias (<c>'d'</c> for <c>-d</c>), or null.</summary>
    public char? Alias { get; init; }

    /// <summary>The name of its value in the usage (<c>depth</c> gives <c>-d &lt;depth&gt;</c>); null for a flag, which takes no value.</summary>
    public string? ValueName { get; init; }
}
