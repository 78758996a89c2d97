using KvCluster.Actors.Remote.Serialization;
using KvCluster.Client.Protocol;

namespace KvCluster.Client;

/// <summary>
/// The stable wire type ids of the client protocol (KV's range is 200-299). The node host and every client
/// register them on their remoting registry before the actor system starts.
/// </summary>
public static class KvWireTypes
{
    /// <summary>Wire id of <see cref="KvRequest"/>.</summary>
    public const int Request = 200;

    /// <summary>Wire id of <see cref="KvResponse"/>.</summary>
    public const int Response = 201;

    /// <summary>Wire id of <see cref="GetContacts"/>.</summary>
    public const int GetContacts = 202;

    /// <summary>Wire id of <see cref="Contacts"/>.</summary>
    public const int Contacts = 203;

    /// <summary>The actor system name every AkkaKv node uses unless configured otherwise.</summary>
    public const string DefaultSystemName = "akkakv";

    /// <summary>The remoting port of a node started with no arguments; <c>kv</c> uses it when given no endpoints.</summary>
    public const int DefaultNodePort = 4054;

    /// <summary>The path of every node's receptionist, the client's entry point.</summary>
    public const string ReceptionistPath = "/user/receptionist";

    /// <summary>The path of every node's router.</summary>
    public const string RouterPath = "/user/kv-router";

    /// <summary>Registers the client protocol's messages (idempotent).</summary>
    /// <param name="registry">The registry of the system that will send or receive them.</param>
    public static void Register(MessageSerializerRegistry registry)
    {
        ArgumentNullException.ThrowIfNull(registry);
        registry.Register<KvRequest>(Request);
        registry.Register<KvResponse>(Response);
        registry.Register<Protocol.GetContacts>(GetContacts);
        registry.Register<Protocol.Contacts>(Contacts);
    }
}
