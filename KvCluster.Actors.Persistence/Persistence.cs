using KvCluster.Actors.Persistence.Journal;
using KvCluster.Actors.Persistence.Serialization;
using KvCluster.Actors.Persistence.Snapshot;

namespace KvCluster.Actors.Persistence;

/// <summary>
/// The persistence extension of an actor system: the one journal and snapshot store its
/// persistent actors share (so writes of many actors meet in the journal's group commit), and the
/// serializer. Configure it once with <see cref="Configure"/> before the first persistent actor
/// starts; both stores are disposed when the system terminates.
/// </summary>
public sealed class Persistence : IExtension
{
    private Persistence(ActorSystem system, PersistenceSettings settings)
    {
        Settings = settings;
        Journal = settings.JournalFactory();
        try
        {
            SnapshotStore = settings.SnapshotStoreFactory();
        }
        catch
        {
            Journal.DisposeAsync().AsTask().GetAwaiter().GetResult();
            throw;
        }
        system.RegisterOnTermination(() =>
        {
            Journal.DisposeAsync().AsTask().GetAwaiter().GetResult();
            SnapshotStore.DisposeAsync().AsTask().GetAwaiter().GetResult();
        });
    }

    /// <summary>The settings the extension was created with.</summary>
    public PersistenceSettings Settings { get; }

    /// <summary>The journal shared by every persistent actor of the system.</summary>
    public IJournal Journal { get; }

    /// <summary>The snapshot store shared by every persistent actor of the system.</summary>
    public ISnapshotStore SnapshotStore { get; }

    /// <summary>Serializes events and snapshots.</summary>
    public IEventSerializer Serializer => Settings.Serializer;

    /// <summary>
    /// Sets up persistence for <paramref name="system"/>: opens the journal and snapshot store now,
    /// so a bad file is reported at start-up.
    /// </summary>
    /// <param name="system">The actor system.</param>
    /// <param name="settings">Which stores to use.</param>
    /// <returns>The extension.</returns>
    /// <exception cref="InvalidOperationException">Persistence was already configured with other settings.</exception>
    /// <exception cref="PersistenceStoreException">A store could not be opened; the message names the file.</exception>
    public static Persistence Configure(ActorSystem system, PersistenceSettings settings)
    {
        ArgumentNullException.ThrowIfNull(system);
        ArgumentNullException.ThrowIfNull(settings);
        var extension = system.RegisterExtension(new ExtensionId(settings));
        if (!ReferenceEquals(extension.Settings, settings))
        {
            throw new InvalidOperationException($"Persistence of actor system '{system.Name}' is already configured; Configure it once, before the first persistent actor starts.");
        }
        return extension;
    }

    /// <summary>The persistence extension of <paramref name="system"/>.</summary>
    /// <param name="system">The actor system.</param>
    /// <returns>The extension.</returns>
    /// <exception cref="InvalidOperationException">Persistence was not configured for the system.</exception>
    public static Persistence Get(ActorSystem system)
    {
        ArgumentNullException.ThrowIfNull(system);
        return system.GetExtension<Persistence>()
            ?? throw new InvalidOperationException(
                $"Persistence is not configured for actor system '{system.Name}'; call Persistence.Configure(system, PersistenceSettings.Sqlite(dataDirectory)) (or .InMemory() for tests) before starting persistent actors.");
    }

    private sealed class ExtensionId(PersistenceSettings settings) : IExtensionId<Persistence>
    {
        public Persistence CreateExtension(ActorSystem system) => new(system, settings);
    }
}
