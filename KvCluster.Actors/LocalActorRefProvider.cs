using System.Collections.Concurrent;

namespace KvCluster.Actors;

/// <summary>
/// The in-process <see cref="IActorRefProvider"/>. Built with the address the system should have,
/// so a remoting provider can construct it with <c>kv://name@host:port</c> and delegate local work
/// to it. Paths with any other address resolve to a missing-actor ref (dead letters).
/// </summary>
public sealed class LocalActorRefProvider : IActorRefProvider
{
    private readonly ConcurrentDictionary<string, InternalActorRef> _temp = new(StringComparer.Ordinal);
    private long _tempNumber;

    /// <summary><see cref="_temp"/> keyed by spans, for names read from the wire.</summary>
    private readonly ConcurrentDictionary<string, InternalActorRef>.AlternateLookup<ReadOnlySpan<char>> _tempByName;
    private LocalActorRef? _root;
    private LocalActorRef? _user;
    private LocalActorRef? _systemGuardian;

    /// <summary>Creates the provider for <paramref name="system"/> with <paramref name="address"/> (whose system name must equal the system's name).</summary>
    public LocalActorRefProvider(ActorSystem system, Address address)
    {
        ArgumentNullException.ThrowIfNull(system);
        ArgumentNullException.ThrowIfNull(address);
        _tempByName = _temp.GetAlternateLookup<ReadOnlySpan<char>>();
        if (address.System != system.Name)
        {
            throw new ArgumentException($"Address {address} does not belong to actor system '{system.Name}'.", nameof(address));
        }
        System = system;
        DefaultAddress = address;
        RootPath = ActorPath.CreateRoot(address);
        DeadLetterRef = new DeadLetterActorRef(system, RootPath / "deadLetters");
    }

    /// <inheritdoc />
    public ActorSystem System { get; }

    /// <inheritdoc />
    public Address DefaultAddress { get; }

    /// <inheritdoc />
    public ActorPath RootPath { get; }

    internal DeadLetterActorRef DeadLetterRef { get; }

    /// <inheritdoc />
    public InternalActorRef DeadLetters => DeadLetterRef;

    /// <inheritdoc />
    public InternalActorRef RootGuardian => _root ?? throw NotInitialized();

    /// <inheritdoc />
    public InternalActorRef Guardian => _user ?? throw NotInitialized();

    /// <inheritdoc />
    public InternalActorRef SystemGuardian => _systemGuardian ?? throw NotInitialized();

    internal LocalActorRef UserGuardianRef => _user ?? throw NotInitialized();

    internal LocalActorRef SystemGuardianRef => _systemGuardian ?? throw NotInitialized();

    private static InvalidOperationException NotInitialized() => new("The provider is not initialized (Init was not called).");

    /// <inheritdoc />
    public void Init()
    {
        if (_root is not null)
        {
            return;
        }
        var rootParent = new RootParentRef(System, RootPath / "bubble-walker");
        var guardianProps = Props.Create(() => new RootGuardianActor(this))
            .WithSupervisorStrategy(new OneForOneStrategy(ex => Directive.Resume));
        _root = new LocalActorRef(System, guardianProps, rootParent, RootPath.WithUid(ActorCell.NewUid()));
        _root.Start();
        var userProps = Props.Create(() => new GuardianActor());
        if (System.Settings.GuardianSupervisorStrategy is { } strategy)
        {
            userProps = userProps.WithSupervisorStrategy(strategy);
        }
        _user = _root.Cell.ActorOf(userProps, "user", systemName: true, callingThread: false);
        _systemGuardian = _root.Cell.ActorOf(Props.Create(() => new GuardianActor()), "system", systemName: true, callingThread: false);
        _root.Tell(RootGuardianActor.WatchGuardians.Instance, null);
    }

    /// <inheritdoc />
    public InternalActorRef ResolveActorRef(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        return ActorPath.TryParse(path, out var parsed) ? ResolveActorRef(parsed) : DeadLetterRef;
    }

    /// <inheritdoc />
    public InternalActorRef ResolveActorRef(ActorPath path)
    {
        ArgumentNullException.ThrowIfNull(path);
        if (!IsLocalAddress(path.Address))
        {
            return new MissingActorRef(System, path);
        }
        var elements = path.Elements;
        if (elements.Count == 0)
        {
            return RootGuardian;
        }
        if (elements.Count == 1 && elements[0] == "deadLetters")
        {
            return DeadLetterRef;
        }
        if (elements[0] == "temp")
        {
            return elements.Count == 2 && _temp.TryGetValue(elements[1], out var temp) ? temp : new MissingActorRef(System, path);
        }
        InternalActorRef current = RootGuardian;
        foreach (var element in elements)
        {
            var next = current.GetChild(element);
            if (next is null)
            {
                return new MissingActorRef(System, path);
            }
            current = next;
        }
        if (path.Uid != 0 && current.Path.Uid != path.Uid)
        {
            return new MissingActorRef(System, path);
        }
        return current;
    }

    /// <summary>True when <paramref name="address"/> denotes this system (its full address, or its local form <c>kv://name</c>).</summary>
    public bool IsLocalAddress(Address address)
    {
        return address == DefaultAddress || (address.HasLocalScope && address.System == DefaultAddress.System);
    }

    /// <summary>Looks up a registered temporary ref by name (the element after <c>/temp/</c>).</summary>
    internal InternalActorRef? GetTempChild(string name) => _temp.TryGetValue(name, out var temp) ? temp : null;

    /// <summary>The live /temp ref called <paramref name="name"/>, looked up without allocating a string; null when none.</summary>
    internal InternalActorRef? GetTempChild(ReadOnlySpan<char> name) => _tempByName.TryGetValue(name, out var temp) ? temp : null;

    /// <inheritdoc />
    public ActorPath TempPath()
    {
        var n = Interlocked.Increment(ref _tempNumber);
        // One per Ask: built directly (the name is generated, so valid) instead of through two Child steps.
        return ActorPath.CreateUnchecked(RootPath.Address, ["temp", "$" + n.ToString(global::System.Globalization.CultureInfo.InvariantCulture)], ActorCell.NewUid());
    }

    /// <inheritdoc />
    public void RegisterTempActor(InternalActorRef actorRef)
    {
        ArgumentNullException.ThrowIfNull(actorRef);
        var elements = actorRef.Path.Elements;
        if (elements.Count != 2 || elements[0] != "temp")
        {
            throw new ArgumentException($"{actorRef.Path} is not a /temp path.", nameof(actorRef));
        }
        _temp[elements[1]] = actorRef;
    }

    /// <inheritdoc />
    public void UnregisterTempActor(ActorPath path)
    {
        ArgumentNullException.ThrowIfNull(path);
        if (path.Elements.Count == 2)
        {
            _temp.TryRemove(path.Elements[1], out _);
        }
    }
}
