namespace KvCluster.Actors;

/// <summary>Marker of a per-system singleton hung on the <see cref="ActorSystem"/> (remoting, persistence, cluster).</summary>
public interface IExtension
{
}

/// <summary>Creates the extension <typeparamref name="T"/> for a system; registered with <see cref="ActorSystem.RegisterExtension{T}"/>.</summary>
public interface IExtensionId<out T> where T : class, IExtension
{
    /// <summary>Builds the extension; called at most once per system.</summary>
    T CreateExtension(ActorSystem system);
}
