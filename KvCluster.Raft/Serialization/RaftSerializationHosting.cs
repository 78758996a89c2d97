using Akka.Hosting;

namespace KvCluster.Raft.Serialization;

/// <summary>Akka.Hosting registration of <see cref="RaftWireSerializer"/>.</summary>
public static class RaftSerializationHosting
{
    /// <summary>
    /// Registers <see cref="RaftWireSerializer"/> (id 7110) and binds it to every Raft type that crosses the network or
    /// goes to the journal (<see cref="RaftWireSerializer.BoundTypes"/>). Call on every node (and in every test system
    /// that runs a RaftActor).
    /// </summary>
    /// <param name="builder">The builder.</param>
    /// <returns>The same builder.</returns>
    public static AkkaConfigurationBuilder WithRaftSerializer(this AkkaConfigurationBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        return builder.AddHocon(RaftWireSerializer.Config, HoconAddMode.Prepend);
    }
}
