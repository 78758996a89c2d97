using System.Globalization;

namespace KvCluster.Client;

/// <summary>A node's client endpoint: the host and port of its remoting listener.</summary>
/// <param name="Host">Host name or IP address.</param>
/// <param name="Port">TCP port, 1-65535.</param>
public readonly record struct KvEndpoint(string Host, int Port)
{
    /// <summary>Formats as <c>host:port</c>.</summary>
    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"{Host}:{Port}");

    /// <summary>Parses <c>host:port</c> (an IPv6 host in brackets, <c>[::1]:4054</c>).</summary>
    /// <exception cref="FormatException">The text is not host:port with a port in 1-65535; the message quotes it.</exception>
    public static KvEndpoint Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var trimmed = text.Trim();
        var colon = trimmed.LastIndexOf(':');
        if (colon <= 0 || colon == trimmed.Length - 1)
        {
            throw new FormatException($"'{text}' is not an endpoint: expected host:port, for example 127.0.0.1:{KvWireTypes.DefaultNodePort}.");
        }

        var host = trimmed[..colon];
        if (host.StartsWith('[') && host.EndsWith(']'))
        {
            host = host[1..^1];
        }

        if (!int.TryParse(trimmed[(colon + 1)..], NumberStyles.None, CultureInfo.InvariantCulture, out var port) || port is < 1 or > 65535)
        {
            throw new FormatException($"'{text}' is not an endpoint: the port must be a number from 1 to 65535.");
        }

        if (host.Length == 0 || host.Any(char.IsWhiteSpace))
        {
            throw new FormatException($"'{text}' is not an endpoint: the host is empty or has spaces.");
        }

        return new KvEndpoint(host, port);
    }

    /// <summary>Parses a comma-separated list of endpoints; empty items are skipped.</summary>
    /// <exception cref="FormatException">An item is not host:port, or the list is empty.</exception>
    public static IReadOnlyList<KvEndpoint> ParseList(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var list = text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(Parse).ToArray();
        if (list.Length == 0)
        {
            throw new FormatException("The endpoint list is empty: give host:port[,host:port...].");
        }

        return list;
    }
}
