namespace KvCluster.Actors;

/// <summary>
/// The address of an actor system: <c>kv://system</c> for a local-only system, or
/// <c>kv://system@host:port</c> once remoting gives it a network endpoint.
/// Two addresses are equal when protocol, system name, host and port are equal.
/// </summary>
/// <param name="System">The actor system's name (letters, digits, '-' and '_'; starts with a letter or digit).</param>
/// <param name="Host">The host remoting listens on, or <c>null</c> for a local-only system.</param>
/// <param name="Port">The TCP port remoting listens on, or <c>null</c> for a local-only system.</param>
public sealed record Address(string System, string? Host = null, int? Port = null)
{
    /// <summary>The URI scheme of every AkkaKv actor address.</summary>
    public const string Protocol = "kv";

    /// <summary>The <c>kv://</c> prefix every address string starts with.</summary>
    public const string SchemePrefix = Protocol + "://";

    /// <summary>True when the address has no host and port (the system is not reachable remotely).</summary>
    public bool HasLocalScope => Host is null;

    /// <summary>True when the address carries a host and a port.</summary>
    public bool HasGlobalScope => Host is not null && Port is not null;

    /// <summary>The printed form, computed once: every path printed against this address starts with it.</summary>
    private string? _text;

    /// <summary>Returns <c>kv://system</c> or <c>kv://system@host:port</c> (IPv6 hosts in brackets).</summary>
    public override string ToString()
    {
        return _text ??= Host is null
            ? SchemePrefix + System
            : SchemePrefix + System + "@" + (Host.Contains(':') && !Host.StartsWith('[') ? "[" + Host + "]" : Host) + ":" + Port;
    }

    /// <summary>Equal when system, host and port are equal (the cached text is not part of the value).</summary>
    public bool Equals(Address? other) =>
        ReferenceEquals(this, other) || (other is not null && System == other.System && Host == other.Host && Port == other.Port);

    /// <inheritdoc />
    public override int GetHashCode() => HashCode.Combine(System, Host, Port);

    /// <summary>Parses <c>kv://system</c> or <c>kv://system@host:port</c>; throws <see cref="FormatException"/> naming the problem.</summary>
    public static Address Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        if (!TryParse(text, out var address, out var error))
        {
            throw new FormatException($"'{text}' is not an actor system address: {error}");
        }
        return address;
    }

    /// <summary>Tries to parse an address; returns false (never throws) for malformed input.</summary>
    public static bool TryParse(string text, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out Address? address)
    {
        return TryParse(text, out address, out _);
    }

    internal static bool TryParse(string? text, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out Address? address, out string error)
    {
        address = null;
        if (string.IsNullOrEmpty(text) || !text.StartsWith(SchemePrefix, StringComparison.Ordinal))
        {
            error = $"it must start with '{SchemePrefix}'";
            return false;
        }
        var authority = text.AsSpan(SchemePrefix.Length);
        return TryParseAuthority(authority, out address, out error);
    }

    internal static bool TryParseAuthority(ReadOnlySpan<char> authority, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out Address? address, out string error)
    {
        address = null;
        var at = authority.IndexOf('@');
        var system = at < 0 ? authority : authority[..at];
        if (!IsValidSystemName(system))
        {
            error = $"system name '{system.ToString()}' is empty or has characters other than letters, digits, '-' and '_'";
            return false;
        }
        if (at < 0)
        {
            address = new Address(system.ToString());
            error = "";
            return true;
        }
        var hostPort = authority[(at + 1)..];
        ReadOnlySpan<char> host;
        ReadOnlySpan<char> portText;
        if (hostPort.StartsWith("["))
        {
            var close = hostPort.IndexOf(']');
            if (close < 0 || close + 1 >= hostPort.Length || hostPort[close + 1] != ':')
            {
                error = "an IPv6 host must be written as [host]:port";
                return false;
            }
            host = hostPort[1..close];
            portText = hostPort[(close + 2)..];
        }
        else
        {
            var colon = hostPort.LastIndexOf(':');
            if (colon <= 0)
            {
                error = "a host must be followed by ':port'";
                return false;
            }
            host = hostPort[..colon];
            portText = hostPort[(colon + 1)..];
        }
        if (!int.TryParse(portText, global::System.Globalization.NumberStyles.None, global::System.Globalization.CultureInfo.InvariantCulture, out var port) || port is < 0 or > 65535)
        {
            error = $"port '{portText.ToString()}' is not a number between 0 and 65535";
            return false;
        }
        address = new Address(system.ToString(), host.ToString(), port);
        error = "";
        return true;
    }

    /// <summary>True for a valid actor system name: letters, digits, '-' and '_', starting with a letter or digit.</summary>
    public static bool IsValidSystemName(ReadOnlySpan<char> name)
    {
        if (name.IsEmpty || !char.IsAsciiLetterOrDigit(name[0]))
        {
            return false;
        }
        foreach (var c in name)
        {
            if (!char.IsAsciiLetterOrDigit(c) && c != '-' && c != '_')
            {
                return false;
            }
        }
        return true;
    }
}
