using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using KvCluster.Actors.Remote.Actors;

namespace KvCluster.Actors.Cmd.Palettes;

/// <summary>
/// The <c>actor</c> palette: inspection of the running actor system (read-only). The hierarchy
/// is a snapshot taken through <see cref="ActorIntrospection"/>; actors may start or stop while
/// it is taken.
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
        new("system", "Name, address, incarnation uid, start time, uptime, dead letters and remoting counters.", ctx => Task.FromResult(SystemInfo(ctx))),
        new("hierarchy", "The actor tree under a path, one actor per line, indented by depth, with its class.", ctx => Task.FromResult(Hierarchy(ctx)))
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
        var uptime = system.Scheduler.Now - system.StartTime;
        var remote = system.GetExtension<RemoteExtension>();

        // With remoting, the incarnation uid peers and the cluster see (cluster status shows the same).
        var uid = remote is null ? (ulong)system.Uid : remote.Transport.Uid;
        var text = new StringBuilder()
            .Append("name: ").Append(system.Name).Append('\n')
            .Append("address: ").Append(remote?.Address.ToString() ?? system.Address.ToString()).Append('\n')
            .Append("uid: ").Append(uid.ToString(CultureInfo.InvariantCulture)).Append('\n')
            .Append("started: ").Append(system.StartTime.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture)).Append('\n')
            .Append("uptime: ").Append(FormatUptime(uptime)).Append('\n')
            .Append("dead letters: ").Append(system.DeadLetterCount.ToString(CultureInfo.InvariantCulture));
        var data = new JsonObject
        {
            ["name"] = system.Name,
            ["address"] = remote?.Address.ToString() ?? system.Address.ToString(),
            ["uid"] = uid,
            ["started"] = system.StartTime.UtcDateTime,
            ["uptimeSeconds"] = Math.Round(uptime.TotalSeconds, 3),
            ["deadLetters"] = system.DeadLetterCount,
        };
        if (remote is not null)
        {
            var c = remote.Counters;
            text.Append('\n').Append(string.Create(CultureInfo.InvariantCulture, $"remoting: {c.EnvelopesSent} sent, {c.EnvelopesReceived} received, {c.ConnectionsAccepted} accepted, {c.ConnectionsDialed} dialed, {c.HandshakesRejected} handshakes rejected, {c.MalformedFrames + c.OversizedFrames + c.MalformedPayloads} bad frames"));
            data["remoting"] = new JsonObject
            {
                ["envelopesSent"] = c.EnvelopesSent,
                ["envelopesReceived"] = c.EnvelopesReceived,
                ["connectionsAccepted"] = c.ConnectionsAccepted,
                ["connectionsDialed"] = c.ConnectionsDialed,
                ["handshakesRejected"] = c.HandshakesRejected,
                ["badFrames"] = c.MalformedFrames + c.OversizedFrames + c.MalformedPayloads,
            };
        }

        return CommandResult.Ok(text.ToString(), data);
    }

    private static CommandResult Hierarchy(CommandContext context)
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
        IActorRef? root;
        try
        {
            root = ActorIntrospection.Find(context.System, start);
        }
        catch (FormatException ex)
        {
            return CommandResult.UsageError($"-s: {ex.Message}");
        }

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
            var info = ActorIntrospection.Describe(actor);
            if (info is null)
            {
                continue; // stopped while the snapshot was taken
            }

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

                text.Append(' ', depth * 2).Append(path).Append(" [").Append(info.ActorType.Name).Append(']');
                json.Add(new JsonObject { ["path"] = path, ["type"] = info.ActorType.FullName, ["depth"] = depth, ["children"] = info.Children.Count });
            }

            if (depth < maxDepth)
            {
                for (var i = info.Children.Count - 1; i >= 0; i--)
                {
                    stack.Push((info.Children[i], depth + 1));
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

    private static string FormatUptime(TimeSpan uptime) =>
        uptime.TotalDays >= 1
            ? string.Create(CultureInfo.InvariantCulture, $"{(int)uptime.TotalDays}d {uptime:hh\\:mm\\:ss}")
            : uptime.ToString("hh\\:mm\\:ss", CultureInfo.InvariantCulture);
}
