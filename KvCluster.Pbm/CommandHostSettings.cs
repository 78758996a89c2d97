using System.Net;

namespace KvCluster.Pbm;

/// <summary>
/// Configuration of a <see cref="CommandHost"/>. Validated by <see cref="CommandHost.StartAsync"/>
/// (see <see cref="Validate"/>); an invalid value fails the start with an
/// <see cref="ArgumentException"/> whose message names the setting.
/// </summary>
public sealed record CommandHostSettings
{
    /// <summary>The pbm port every AkkaKv node and the lighthouse listen on by default.</summary>
    public const int DefaultPort = 9110;

    /// <summary>The IP address to listen on (<c>127.0.0.1</c> by default: the commands change
    /// membership, so they are not exposed beyond the machine unless asked; <c>0.0.0.0</c> in a container).</summary>
    public string Host { get; init; } = "127.0.0.1";

    /// <summary>The TCP port (0: an ephemeral port, see <see cref="CommandHost.LocalEndPoint"/>).</summary>
    public int Port { get; init; } = DefaultPort;

    /// <summary>Largest accepted request payload, in bytes; a larger frame closes its connection.</summary>
    public int MaxRequestBytes { get; init; } = 64 * 1024;

    /// <summary>Largest response payload sent, in bytes; a larger output is replaced by a <c>failed</c> response saying so.</summary>
    public int MaxResponseBytes { get; init; } = CommandFrame.MaxResponseBytes;

    /// <summary>Connections served at once; one more is answered <c>failed</c> and closed.</summary>
    public int MaxConnections { get; init; } = 32;

    /// <summary>How long a connection may wait for its next complete request before it is closed.</summary>
    public TimeSpan IdleTimeout { get; init; } = TimeSpan.FromMinutes(5);

    /// <summary>How long one command may run before it is answered <c>failed</c> (passed to handlers as <see cref="CommandContext.Timeout"/>).</summary>
    public TimeSpan CommandTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Throws <see cref="ArgumentException"/> naming the first invalid setting.</summary>
    public void Validate()
    {
        Require(Host == "localhost" || IPAddress.TryParse(Host, out _), nameof(Host), $"'{Host}' must be an IP address (127.0.0.1, 0.0.0.0, ::1) or localhost");
        Require(Port is >= 0 and <= 65535, nameof(Port), $"{Port} must be in 0..65535 (0 = ephemeral)");
        Require(MaxRequestBytes is >= 256 and <= 16 * 1024 * 1024, nameof(MaxRequestBytes), $"{MaxRequestBytes} must be in 256..16777216");
        Require(MaxResponseBytes is >= 1024 and <= CommandFrame.MaxResponseBytes, nameof(MaxResponseBytes), $"{MaxResponseBytes} must be in 1024..{CommandFrame.MaxResponseBytes}");
        Require(MaxConnections > 0, nameof(MaxConnections), $"{MaxConnections} must be positive");
        Require(IdleTimeout > TimeSpan.Zero, nameof(IdleTimeout), "must be positive");
        Require(CommandTimeout > TimeSpan.Zero, nameof(CommandTimeout), "must be positive");
    }

    private static void Require(bool condition, string setting, string problem)
    {
        if (!condition)
        {
            throw new ArgumentException($"Command host setting {setting} is invalid: {problem}.", setting);
        }
    }
}
