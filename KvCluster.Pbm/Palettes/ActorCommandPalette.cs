using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using Akka.Actor;
using Akka.Remote;

namespace KvCluster.Pbm.Palettes;

/// <summary>
/// The <c>actor</c> palette: inspection of the running actor system (read-only). The hierarchy
/// is a snapshot: the start actor is found with an <see cref="ActorSelection"/> and
/// <see cref="Identify"/>, then the tree below it is walked through the children each local actor
/// holds; actors may start or stop while it is taken.
/// </summary>
public sealed class ActorCommandPalette : ICommandPalette
{
    /// <summary>Most actors listed by one <c>actor hierarchy</c>; the rest is summarised in one line.</summary>
    public const int MaxListedActors = 5000;

    /// <inheritdoc />
    public string Name => "actor";

    /// <inheritdoc />
    public string Description => "The actor system: its identity, uptime and actor hierarchy.";

    /// <inheritdoc />
    public IReadOnlyList<CommandDefinition> Commands { get; } =
    [
        new("system", "Name, address, incarnation uid, start time, uptime and dead letters.", ctx => Task.FromResult(SystemInfo(ctx))),
        new("hierarchy", "The actor tree under a path, one actor per line, indented by depth, with its class.", HierarchyAsync)
        {
            Options =
            [
                new CommandOption("depth", "How many levels below the start to list (0: the start only); default all.") { Alias = 'd', ValueName = "depth" },
                new CommandOption("start", "The actor to start from, for example /user or /system/cluster; default /.") { Alias = 's', ValueName = "path" },
            ],
        },
    ];

    private static CommandResult SystemInfo(CommandContext context)
    {
        var system = context.System;
        var uptime = system.Uptime;
        var address = ((ExtendedActorSystem)system).Provider.DefaultAddress.ToString();
        var started = DateTimeOffset.FromUnixTimeMilliseconds((long)system.StartTime.TotalMilliseconds).UtcDateTime;

        // The incarnation uid peers and the cluster see (cluster status shows the same with remoting).
        var uid = AddressUidExtension.Uid(system);
        var deadLetters = DeadLetterCounter.Get(system).Count;
        var text = new StringBuilder()
            .Append("name: ").Append(system.Name).Append('\n')
            .Append("address: ").Append(address).Append('\n')
            .Append("uid: ").Append(uid.ToString(CultureInfo.InvariantCulture)).Append('\n')
            .Append("started: ").Append(started.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture)).Append('\n')
            .Append("uptime: ").Append(FormatUptime(uptime)).Append('\n')
            .Append("dead letters: ").Append(deadLetters.ToString(CultureInfo.InvariantCulture));
        var data = new JsonObject
        {
            ["name"] = system.Name,
            ["address"] = address,
            ["uid"] = uid,
            ["started"] = started,
            ["uptimeSeconds"] = Math.Round(uptime.TotalSeconds, 3),
            ["deadLetters"] = deadLetters,
        };
        return CommandResult.Ok(text.ToString(), data);
    }

    private static async Task<CommandResult> HierarchyAsync(CommandContext context)
    {
        var maxDepth = int.MaxValue;
        if (context.Arguments.Get("depth") is { } depthText)
        {
            if (!int.TryParse(depthText, NumberStyles.None, CultureInfo.InvariantCulture, out maxDepth))
            {
                return CommandResult.UsageError($"-d must be a whole number of levels, 0 or more (got '{depthText}')");
            }
        }

        var start = context.Arguments.Get("start") ?? "/";
        if (!start.StartsWith('/'))
        {
            return CommandResult.UsageError($"-s: '{start}' must start with '/' (an actor path such as /user or /system/cluster)");
        }

        if (start.Contains("//", StringComparison.Ordinal) || start.IndexOfAny(['*', '?', '[', ']']) >= 0 || (start.Length > 1 && start.EndsWith('/')))
        {
            return CommandResult.UsageError($"-s: '{start}' is not one actor's path (no wildcards, empty names or trailing '/')");
        }

        var root = await FindAsync(context, start).ConfigureAwait(false);
        if (root is null)
        {
            return CommandResult.Failed($"no actor at {start} in {context.System.Name}; 'actor hierarchy -d 2' shows the top levels");
        }

        var text = new StringBuilder();
        var listed = 0;
        var omitted = 0;
        var stack = new Stack<(IActorRef Actor, int Depth)>();
        stack.Push((root, 0));
        var json = new JsonArray();
        while (stack.Count > 0)
        {
            var (actor, depth) = stack.Pop();
            var children = Children(actor);
            if (listed >= MaxListedActors)
            {
                omitted++;
            }
            else
            {
                listed++;
                var path = actor.Path.ToStringWithoutAddress();
                if (text.Length > 0)
                {
                    text.Append('\n');
                }

                var type = ActorType(actor);
                text.Append(' ', depth * 2).Append(path).Append(" [").Append(type?.Name ?? actor.GetType().Name).Append(']');
                json.Add(new JsonObject { ["path"] = path, ["type"] = type?.FullName ?? actor.GetType().FullName, ["depth"] = depth, ["children"] = children.Count });
            }

            if (depth < maxDepth)
            {
                for (var i = children.Count - 1; i >= 0; i--)
                {
                    stack.Push((children[i], depth + 1));
                }
            }
        }

        text.Append('\n').Append(listed.ToString(CultureInfo.InvariantCulture)).Append(listed == 1 ? " actor" : " actors");
        if (omitted > 0)
        {
            text.Append(CultureInfo.InvariantCulture, $" listed, {omitted} more not listed (over {MaxListedActors}; use -s and -d to narrow)");
        }

        return CommandResult.Ok(text.ToString(), new JsonObject { ["start"] = start, ["actors"] = json, ["omitted"] = omitted });
    }

    /// <summary>
    /// Resolves <paramref name="path"/> (an absolute path without address) with an
    /// <see cref="ActorSelection"/> and <see cref="Identify"/>; null when no actor answers. The
    /// root guardian does not answer Identify, so <c>/</c> is taken from the provider directly.
    /// </summary>
    private static async Task<IActorRef?> FindAsync(CommandContext context, string path)
    {
        var provider = ((ExtendedActorSystem)context.System).Provider;
        if (path == "/")
        {
            return provider.RootGuardian;
        }

        var identity = await context.System.ActorSelection(path)
            .Ask<ActorIdentity>(new Identify(path), context.Timeout, context.CancellationToken)
            .ConfigureAwait(false);
        return identity.Subject;
    }

    /// <summary>
    /// The children of a local actor, sorted by name. An Identify sent to <c>path/*</c> would find
    /// them too, but nothing tells when the last answer has arrived, so the walk reads the
    /// children each local actor's cell holds: exact, and without a settling delay.
    /// </summary>
    private static List<IActorRef> Children(IActorRef actor)
    {
        if (actor is not ActorRefWithCell withCell)
        {
            return [];
        }

        try
        {
            return [.. withCell.Children.Cast<IActorRef>().OrderBy(c => c.Path.Name, StringComparer.Ordinal)];
        }
        catch (InvalidOperationException)
        {
            return []; // the children changed while they were read
        }
    }

    private static Type? ActorType(IActorRef actor) =>
        actor is ActorRefWithCell { Underlying: { } cell } ? cell.Props?.Type : null;

    private static string FormatUptime(TimeSpan uptime) =>
        uptime.TotalDays >= 1
            ? string.Create(CultureInfo.InvariantCulture, $"{(int)uptime.TotalDays}d {uptime:hh\\:mm\\:ss}")
            : uptime.ToString("hh\\:mm\\:ss", CultureInfo.InvariantCulture);
}
