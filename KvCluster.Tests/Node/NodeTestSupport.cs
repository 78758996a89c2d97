using KvCluster.Tests.Persistence;
using System.Net;
using System.Net.Sockets;
using KvCluster.Node.Hosting;

namespace KvCluster.Tests.Node;

/// <summary>What the node specs share: temp directories, free ports, the test HOCON.</summary>
internal static class NodeTestSupport
{
    /// <summary>
    /// Every actor system a node spec creates runs with serialize-messages on, so a message that cannot cross the wire
    /// fails a spec rather than production.
    /// </summary>
    public const string TestHocon = """
        akka.actor.serialize-messages = on
        akka.actor.serialize-creators = off
        """;

    /// <summary>The hooks every in-process node of a spec starts with.</summary>
    public static KvNodeHooks Hooks { get; } = new() { ExtraHocon = TestHocon };

    public static int[] FreePorts(int count)
    {
        var listeners = Enumerable.Range(0, count).Select(_ => new TcpListener(IPAddress.Loopback, 0)).ToArray();
        foreach (var listener in listeners)
        {
            listener.Start();
        }

        var ports = listeners.Select(l => ((IPEndPoint)l.LocalEndpoint).Port).ToArray();
        foreach (var listener in listeners)
        {
            listener.Stop();
        }

        return ports;
    }

    public static int FreePort() => FreePorts(1)[0];
}
