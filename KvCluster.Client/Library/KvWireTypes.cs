namespace KvCluster.Client;

/// <summary>
/// The fixed names of the client protocol: the actor system, the default port and the paths a client reaches. The
/// messages themselves travel with <see cref="Serialization.KvProtocolSerializer"/> (serializer id 7120).
/// </summary>
public static class KvWireTypes
{
    /// <summary>The actor system name every AkkaKv node uses unless configured otherwise.</summary>
    public const string DefaultSystemName = "akkakv";

    /// <summary>The remoting port of a node started with no arguments; <c>kv</c> uses it when given no endpoints.</summary>
    public const int DefaultNodePort = 4054;

    /// <summary>The path of every node's ClusterClientReceptionist (Akka's), the client's contact point.</summary>
    public const string ReceptionistPath = "/system/receptionist";

    /// <summary>
    /// The path of every node's router, registered with the receptionist: the client's requests are
    /// <c>ClusterClient.Send(RouterPath, request, localAffinity: true)</c>.
    /// </summary>
    public const string RouterPath = "/user/kv-router";
}
