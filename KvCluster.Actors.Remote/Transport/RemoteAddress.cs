using System.Diagnostics.CodeAnalysis;
using System.Globalization;

namespace KvCluster.Actors.Remote.Transport;

/// <summary>
/// The network address of an actor system: <c>kv://system@host:port</c>. Two systems with the
/// same address but different incarnation uids are different incarnations of one node.
/// </summary>
/// <param name="System">The actor system name.</param>
/// <param name="Host">An IP literal or host name, as the system advertises it.</param>
/// <param name="Port">The TCP port the system listens on (1–65535).</param>
public readonly record struct RemoteAddress(string System, string Host, int Port)
{
    /// <summary>The URI scheme of remote addresses.</summary>
    public const string Scheme = "kv";

    /// <summary>Formats the address as <c>kv://system@host:port</c>.</summary>
    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"{Scheme}://{System}@{Host}:{Port}");

    /// <summary>
    /// Parses <c>kv://system@host:port</c>, ignoring any actor path that follows the port.
    /// </summary>
    /// <exception cref="FormatException">The text is not a remote address; the message says why.</exception>
    public static RemoteAddress Parse(string text)
    {
        if (TryParse(text, out var address, out var error))
        {
            return address;
        }

        throw new FormatException($"'{text}' is not a remote address (expected kv://system@host:port): {error}");
    }

    /// <summary>Parses an address (or the address part of a full actor path) without throwing.</summary>
    public static bool TryParse(string? text, out RemoteAddress address) => TryParse(text, out address, out _);

    private static bool TryParse(string? text, out RemoteAddress address, [NotNullWhen(false)] out string? error)
    {
        address = default;
        const string prefix = Scheme + "://";
        if (text is null || !text.StartsWith(prefix, StringComparison.Ordinal))
        {
            error = $"it does not start with {prefix}";
            return false;
        }

        var rest = text.AsSpan(prefix.Length);
        var slash = rest.IndexOf('/');
        if (slash >= 0)
        {
            rest = rest[..slash];
        }

        var at = rest.IndexOf('@');
        if (at <= 0)
        {
            error = "the system name before '@' is missing";
            return false;
        }

        var hostPort = rest[(at + 1)..];
        var colon = hostPort.LastIndexOf(':');
        if (colon <= 0)
        {
            error = "the host or ':port' is missing";
            return false;
        }

        if (!int.TryParse(hostPort[(colon + 1)..], NumberStyles.None, CultureInfo.InvariantCulture, out var port) || port is < 1 or > 65535)
        {
            error = "the port is not a number in 1..65535";
            return false;
        }

        var host = hostPort[..colon];
        if (host.Length > 2 && host[0] == '[' && host[^1] == ']')
        {
            host = host[1..^1];
        }

        address = new RemoteAddress(rest[..at].ToString(), host.ToString(), port);
        error = null;
        return true;
    }
}
