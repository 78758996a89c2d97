using System.Collections.Concurrent;
using Google.Protobuf;
using KvCluster.Actors.Remote.Protocol;
using KvCluster.Actors.Remote.Transport;
using Microsoft.Extensions.Logging;

namespace KvCluster.Actors.Remote.Actors;

/// <summary>
/// The ref provider of a remoting-enabled actor system: local work is delegated to a
/// <see cref="LocalActorRefProvider"/> built with the address <c>kv://name@host:port</c>; paths
/// of other addresses resolve to <see cref="RemoteActorRef"/>s; inbound envelopes are resolved
/// and delivered to local actors with their sender as a ref that can be replied to.
/// </summary>
/// <remarks>Installed by <see cref="RemoteActorSystem.CreateAsync"/>. All members are thread-safe.</remarks>
internal sealed partial class RemoteActorRefProvider : IActorRefProvider
{
    private const int MaxCachedRefs = 10_000;

    private readonly LocalActorRefProvider _local;
    private readonly RemoteTransport _transport;
    private readonly ILogger _logger;
    private readonly ConcurrentDictionary<string, InternalActorRef> _localCache = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, RemoteActorRef> _remoteCache = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<ActorPath, RemoteActorRef> _watchedRemote = new();

    public RemoteActorRefProvider(ActorSystem system, RemoteTransport transport)
    {
        _transport = transport;
        var address = ToAddress(transport.LocalAddress);
        _local = new LocalActorRefProvider(system, address);
        _logger = system.LoggerFactory.CreateLogger("KvCluster.Actors.Remote.Provider");
    }

    /// <summary>The transport this provider sends through.</summary>
    public RemoteTransport Transport => _transport;

    /// <inheritdoc />
    public ActorSystem System => _local.System;

    /// <inheritdoc />
    public Address DefaultAddress => _local.DefaultAddress;

    /// <inheritdoc />
    public ActorPath RootPath => _local.RootPath;

    /// <inheritdoc />
    public InternalActorRef RootGuardian => _local.RootGuardian;

    /// <inheritdoc />
    public InternalActorRef Guardian => _local.Guardian;

    /// <inheritdoc />
    public InternalActorRef SystemGuardian => _local.SystemGuardian;

    /// <inheritdoc />
    public InternalActorRef DeadLetters => _local.DeadLetters;

    /// <summary>Creates the guardians, then hangs the <see cref="RemoteExtension"/> on the system
    /// and arranges for remoting to stop (after draining) when the system terminates.</summary>
    public void Init()
    {
        _local.Init();
        var extension = System.RegisterExtension(new RemoteExtensionId(_transport));
        System.RegisterOnTermination(() => _ = extension.StopAsync(RemoteActorSystem.DefaultDrainTimeout));
    }

    /// <inheritdoc />
    public InternalActorRef ResolveActorRef(ActorPath path)
    {
        ArgumentNullException.ThrowIfNull(path);
        if (_local.IsLocalAddress(path.Address) || !path.Address.HasGlobalScope)
        {
            return _local.ResolveActorRef(path);
        }

        return new RemoteActorRef(this, path);
    }

    /// <inheritdoc />
    public InternalActorRef ResolveActorRef(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        return ActorPath.TryParse(path, out var parsed) ? ResolveActorRef(parsed) : _local.DeadLetters;
    }

    /// <inheritdoc />
    public ActorPath TempPath() => _local.TempPath();

    /// <inheritdoc />
    public void RegisterTempActor(InternalActorRef actorRef) => _local.RegisterTempActor(actorRef);

    /// <inheritdoc />
    public void UnregisterTempActor(ActorPath path) => _local.UnregisterTempActor(path);

    internal static RemoteAddress ToRemoteAddress(Address address) =>
        new(address.System, address.Host ?? throw new ArgumentException($"{address} has no host"), address.Port ?? 0);

    internal static Address ToAddress(RemoteAddress address) => new(address.System, address.Host, address.Port);

    /// <summary>The last two wire paths resolved (a stream repeats its recipient and sender);
    /// the transport hands the same string instance for repeated paths, so a reference check hits.</summary>
    private ResolvedPath? _lastRecipient;
    private ResolvedPath? _lastSender;

    private sealed record ResolvedPath(string Text, InternalActorRef Ref);

    private InternalActorRef ResolveRecipient(string text) => ResolveRemembered(text, ref _lastRecipient);

    private InternalActorRef ResolveSender(string text) => ResolveRemembered(text, ref _lastSender);

    private InternalActorRef ResolveRemembered(string text, ref ResolvedPath? last)
    {
        var remembered = Volatile.Read(ref last);
        if (remembered is not null && ReferenceEquals(remembered.Text, text) && !remembered.Ref.IsTerminated)
        {
            return remembered.Ref;
        }

        var resolved = ResolveWirePath(text);
        Volatile.Write(ref last, new ResolvedPath(text, resolved));
        return resolved;
    }

    /// <summary>Resolves a path received from the wire, with a bounded cache of live refs.</summary>
    internal InternalActorRef ResolveWirePath(string text)
    {
        if (TryResolveTemp(text) is { } temp)
        {
            return temp;
        }

        if (_remoteCache.TryGetValue(text, out var remote))
        {
            return remote;
        }

        if (_localCache.TryGetValue(text, out var cached) && !cached.IsTerminated)
        {
            return cached;
        }

        if (!ActorPath.TryParse(text, out var path))
        {
            _logger.LogWarning("Remoting {Address}: '{Path}' from the wire is not an actor path; using dead letters", DefaultAddress, text);
            return _local.DeadLetters;
        }

        var resolved = ResolveActorRef(path);
        if (IsTemporary(path))
        {
            // An Ask's reply ref lives for one request: caching it would only evict the refs that repeat.
            return resolved;
        }

        if (_localCache.Count + _remoteCache.Count > MaxCachedRefs)
        {
            _localCache.Clear();
            _remoteCache.Clear();
        }

        if (resolved is RemoteActorRef r)
        {
            _remoteCache[text] = r;
        }
        else if (!resolved.IsTerminated)
        {
            _localCache[text] = resolved;
        }

        return resolved;
    }

    /// <summary>The marker between the address and the name of an Ask's reply path.</summary>
    private const string TempMarker = "/temp/";

    /// <summary>Addresses of remote reply paths by their printed form (bounded like the ref caches).</summary>
    private readonly ConcurrentDictionary<string, Address> _addresses = new(StringComparer.Ordinal);

    /// <summary><see cref="_addresses"/> keyed by spans of the received text.</summary>
    private ConcurrentDictionary<string, Address>.AlternateLookup<ReadOnlySpan<char>> AddressLookup => _addressLookup ??= _addresses.GetAlternateLookup<ReadOnlySpan<char>>();

    private ConcurrentDictionary<string, Address>.AlternateLookup<ReadOnlySpan<char>>? _addressLookup;

    /// <summary>
    /// The common case of a one-shot path, without a full parse: every request a client Asks arrives with a sender
    /// <c>kv://system@host:port/temp/$n#uid</c>, and every answer comes back to one. A reply to this system looks the
    /// name up among the live /temp refs; a sender from another system becomes a <see cref="RemoteActorRef"/> whose
    /// address comes from a small table and whose wire text is the received string itself. Anything unusual (a
    /// deeper path, an invalid name or uid, an unknown address form, a reply ref that is gone) returns null: the full
    /// parse decides, logs and dead-letters as before.
    /// </summary>
    private InternalActorRef? TryResolveTemp(string text)
    {
        var marker = text.IndexOf(TempMarker, StringComparison.Ordinal);
        if (marker <= 0)
        {
            return null;
        }

        var nameStart = marker + TempMarker.Length;
        var hash = text.IndexOf('#', nameStart);
        var name = hash < 0 ? text.AsSpan(nameStart) : text.AsSpan(nameStart, hash - nameStart);
        if (!ActorPath.IsValidElement(name))
        {
            return null;
        }

        long uid = 0;
        if (hash >= 0 && !long.TryParse(text.AsSpan(hash + 1), global::System.Globalization.NumberStyles.AllowLeadingSign, global::System.Globalization.CultureInfo.InvariantCulture, out uid))
        {
            return null;
        }

        var prefix = text.AsSpan(0, marker);
        if (prefix.SequenceEqual(DefaultAddress.ToString()))
        {
            return _local.GetTempChild(name);
        }

        if (!AddressLookup.TryGetValue(prefix, out var address))
        {
            var printed = prefix.ToString();
            if (!Address.TryParse(printed, out var parsed) || !parsed.HasGlobalScope || _local.IsLocalAddress(parsed))
            {
                return null;
            }

            if (_addresses.Count >= MaxCachedRefs)
            {
                _addresses.Clear();
            }

            address = _addresses.GetOrAdd(printed, parsed);
        }

        return new RemoteActorRef(this, ActorPath.CreateUnchecked(address, ["temp", name.ToString()], uid, serialized: text));
    }

    /// <summary>How many wire paths the resolve cache holds (for tests).</summary>
    internal int CachedRefCount => _localCache.Count + _remoteCache.Count;

    /// <summary>True for a path under <c>/temp</c> (an Ask's one-shot reply ref).</summary>
    private static bool IsTemporary(ActorPath path)
    {
        var elements = path.Elements;
        return elements.Count > 1 && elements[0] == "temp";
    }

    private static string? WirePathOf(IActorRef? actor) => actor switch
    {
        null => null,
        RemoteActorRef remote => remote.WirePath,
        _ when actor.IsNobody() => null,
        // The path caches its own text, so a hot sender costs no string building per message, and an Ask's one-shot
        // reply path costs no table entry (a weak table's dependent handle per request was a GC cost of its own).
        _ => actor.Path.ToSerializationFormat(),
    };

    private void DeadLetter(object message, IActorRef? sender, IActorRef recipient, string reason)
    {
        _logger.LogWarning("Remoting {Address}: {MessageType} to {Recipient} not sent: {Reason}", DefaultAddress, message.GetType().Name, recipient.Path, reason);
        System.DeadLetters.Tell(new DeadLetter(message, sender, recipient), sender);
    }

    /// <summary>Sends a user message (or a runtime message remoting can translate) to a remote actor.</summary>
    internal void SendRemote(RemoteActorRef to, object message, IActorRef? sender)
    {
        var wire = ToWire(message, out var problem);
        if (wire is null)
        {
            DeadLetter(message, sender, to, problem!);
            return;
        }

        _transport.SendVia(ref to.Association, to.RemoteAddress, to.WirePath, WirePathOf(sender), wire);
    }

    /// <summary>Sends a system message to a remote actor (or to a remote watcher).</summary>
    internal void SendSystemRemote(RemoteActorRef to, ISystemMessage message)
    {
        IMessage? wire = message switch
        {
            Watch watch => WatchRequestFor(to, watch),
            Unwatch unwatch => new UnwatchRequest { Watchee = WirePathOf(unwatch.Watchee) ?? string.Empty, Watcher = WirePathOf(unwatch.Watcher) ?? string.Empty },
            DeathWatchNotification dwn => new Protocol.DeathWatchNotice
            {
                Actor = WirePathOf(dwn.Actor) ?? string.Empty,
                ExistenceConfirmed = dwn.ExistenceConfirmed,
                AddressTerminated = dwn.AddressTerminated,
            },
            Terminate => new TerminateRequest(),
            _ => null,
        };
        if (wire is null)
        {
            _logger.LogDebug("Remoting {Address}: system message {Type} for {Recipient} is local-only; ignored", DefaultAddress, message.GetType().Name, to.Path);
            return;
        }

        _transport.SendVia(ref to.Association, to.RemoteAddress, to.WirePath, null, wire);
    }

    private WatchRequest WatchRequestFor(RemoteActorRef watchee, Watch watch)
    {
        // Keep the exact ref the watcher holds, so the notification that comes back (whose path
        // carries the actor's uid) is turned into a Terminated for an equal ref.
        _watchedRemote[watchee.Path] = watchee;
        _transport.EnsureAssociation(watchee.RemoteAddress);
        return new WatchRequest { Watchee = watchee.WirePath, Watcher = WirePathOf(watch.Watcher) ?? string.Empty };
    }
}
