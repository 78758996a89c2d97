using Akka.Configuration;

namespace KvCluster.Tests.Cmd;

/// <summary>The HOCON every pbm spec's actor system starts from.</summary>
internal static class PbmTestConfig
{
    /// <summary>
    /// Messages are serialized on every local send (a message that cannot cross the wire fails a
    /// spec, not production); props are not (they hold closures). Akka's own log only for warnings.
    /// </summary>
    public static readonly Config Local = ConfigurationFactory.ParseString("""
        akka {
          loglevel = WARNING
          stdout-loglevel = WARNING
          actor {
            serialize-messages = on
            serialize-creators = off
          }
          coordinated-shutdown.run-by-clr-shutdown-hook = off
        }
        """);
}
