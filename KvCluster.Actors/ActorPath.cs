using System.Diagnostics.CodeAnalysis;
using System.Buffers;

namespace KvCluster.Actors;

/// <summary>
/// The immutable path of an actor: an <see cref="Actors.Address"/> and a sequence of element names
/// from the root, e.g. <c>kv://akkakv@10.0.0.1:4053/user/kv-router</c>.
/// Equality and hash code use the address and the elements only; the incarnation <see cref="Uid"/>
/// is carried along (and printed by <see cref="ToSerializationFormat"/> as <c>#uid</c>) but is
/// compared by actor refs, not by paths, exactly as in Akka.
/// </summary>
public sealed class ActorPath : IEquatable<ActorPath>, IComparable<ActorPath>
{
    private static readonly SearchValues<char> s_validElementChars = SearchValues.Create(
        "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.*$+:@&=,!~';");

    private readonly string[] _elements;
    private string? _text;

    /// <summary>Computed once: a path never changes, and a sender's is written into every remote message it sends.</summary>
    private string? _serialized;

    private ActorPath(Address address, string[] elements, long uid)
    {
        Address = address;
        _elements = elements;
        Uid = uid;
    }

    /// <summary>The address of the actor system the actor lives in.</summary>
    public Address Address { get; }

    /// <summary>The element names from the root (empty for the root path itself).</summary>
    public IReadOnlyList<string> Elements => _elements;

    /// <summary>The last element, or the empty string for the root path.</summary>
    public string Name => _elements.Length == 0 ? "" : _elements[^1];

    /// <summary>The incarnation uid of the actor this path was taken from; 0 when unknown.</summary>
    public long Uid { get; }

    /// <summary>The parent path, or <c>null</c> for the root path.</summary>
    public ActorPath? Parent => _elements.Length == 0 ? null : new ActorPath(Address, _elements[..^1], 0);

    /// <summary>The root path (<c>kv://system/</c>) of this path's address.</summary>
    public ActorPath Root => _elements.Length == 0 ? this : new ActorPath(Address, [], 0);

    /// <summary>The number of elements below the root.</summary>
    public int Depth => _elements.Length;

    /// <summary>Creates the root path of an address.</summary>
    public static ActorPath CreateRoot(Address address)
    {
        ArgumentNullException.ThrowIfNull(address);
        return new ActorPath(address, [], 0);
    }

    /// <summary>Returns the path of a child called <paramref name="name"/> (uid 0).</summary>
    /// <exception cref="InvalidActorNameException">The name is empty or has a character not allowed in a path element.</exception>
    public ActorPath Child(string name)
    {
        ValidateElement(name);
        var elements = new string[_elements.Length + 1];
        _elements.CopyTo(elements, 0);
        elements[^1] = name;
        return new ActorPath(Address, elements, 0);
    }

    /// <summary>Shorthand for <see cref="Child"/>: <c>root / "user" / "a"</c>.</summary>
    public static ActorPath operator /(ActorPath path, string name) => path.Child(name);

    /// <summary>Returns this path carrying the given incarnation uid.</summary>
    public ActorPath WithUid(long uid) => uid == Uid ? this : new ActorPath(Address, _elements, uid);

    /// <summary>Returns this path re-rooted at <paramref name="address"/> (used when a local path is sent to another system).</summary>
    public ActorPath WithAddress(Address address) => address == Address ? this : new ActorPath(address, _elements, Uid);

    /// <summary>True when <paramref name="name"/> can be a path element (non-empty; letters, digits and <c>-_.*$+:@&amp;=,!~';</c>).</summary>
    public static bool IsValidElement(string? name)
    {
        return !string.IsNullOrEmpty(name) && IsValidElement(name.AsSpan());
    }

    /// <summary>The span form of <see cref="IsValidElement(string?)"/>.</summary>
    internal static bool IsValidElement(ReadOnlySpan<char> name) => !name.IsEmpty && !name.ContainsAnyExcept(s_validElementChars);

    /// <summary>
    /// A path whose elements the caller has validated (or generated), without copying them; with
    /// <paramref name="serialized"/>, the <see cref="ToSerializationFormat"/> text it was read from.
    /// </summary>
    internal static ActorPath CreateUnchecked(Address address, string[] elements, long uid, string? serialized = null) =>
        new(address, elements, uid) { _serialized = serialized };

    internal static void ValidateElement(string name)
    {
        if (!IsValidElement(name))
        {
            throw new InvalidActorNameException(
                $"Invalid actor path element [{name}]: it must be non-empty and use only letters, digits and -_.*$+:@&=,!~';");
        }
    }

    /// <summary>The path without the address, e.g. <c>/user/a/b</c> (<c>/</c> for the root).</summary>
    public string ToStringWithoutAddress()
    {
        return _elements.Length switch
        {
            0 => "/",
            1 => "/" + _elements[0],
            2 => string.Concat("/", _elements[0], "/", _elements[1]),
            _ => "/" + string.Join('/', _elements),
        };
    }

    /// <summary>The path printed against another address (e.g. the system's remote address).</summary>
    public string ToStringWithAddress(Address address) => address + ToStringWithoutAddress();

    /// <summary>The full path, <c>kv://system@host:port/user/a</c>, without the uid.</summary>
    public override string ToString() => _text ??= Address + ToStringWithoutAddress();

    /// <summary>The full path with <c>#uid</c> appended when the uid is known; <see cref="Parse"/> reads it back.</summary>
    public string ToSerializationFormat() =>
        _serialized ??= Uid == 0 ? ToString() : string.Concat(ToString(), "#", Uid.ToString(System.Globalization.CultureInfo.InvariantCulture));

    /// <summary>Parses a full path (<c>kv://system[@host:port]/a/b[#uid]</c>); throws <see cref="FormatException"/> naming the problem.</summary>
    public static ActorPath Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        if (!TryParse(text, out var path, out var error))
        {
            throw new FormatException($"'{text}' is not an actor path: {error}");
        }
        return path;
    }

    /// <summary>Tries to parse a full path; returns false (never throws) for malformed input.</summary>
    public static bool TryParse(string? text, [NotNullWhen(true)] out ActorPath? path)
    {
        return TryParse(text, out path, out _);
    }

    private static bool TryParse(string? text, [NotNullWhen(true)] out ActorPath? path, out string error)
    {
        path = null;
        if (text is null || !text.StartsWith(Address.SchemePrefix, StringComparison.Ordinal))
        {
            error = $"it must start with '{Address.SchemePrefix}'";
            return false;
        }
        var rest = text.AsSpan(Address.SchemePrefix.Length);
        long uid = 0;
        var hash = rest.IndexOf('#');
        if (hash >= 0)
        {
            if (!long.TryParse(rest[(hash + 1)..], System.Globalization.NumberStyles.AllowLeadingSign, System.Globalization.CultureInfo.InvariantCulture, out uid))
            {
                error = "the text after '#' is not a numeric uid";
                return false;
            }
            rest = rest[..hash];
        }
        var slash = rest.IndexOf('/');
        var authority = slash < 0 ? rest : rest[..slash];
        if (!Address.TryParseAuthority(authority, out var address, out error))
        {
            return false;
        }
        var elements = new List<string>();
        if (slash >= 0)
        {
            foreach (var range in rest[(slash + 1)..].Split('/'))
            {
                var element = rest[(slash + 1)..][range];
                if (element.IsEmpty)
                {
                    continue;
                }
                var name = element.ToString();
                if (!IsValidElement(name))
                {
                    error = $"path element '{name}' has a character that is not allowed";
                    return false;
                }
                elements.Add(name);
            }
        }
        path = new ActorPath(address, [.. elements], uid);
        error = "";
        return true;
    }

    /// <summary>Equal when the addresses and all elements are equal (the uid is ignored).</summary>
    public bool Equals(ActorPath? other)
    {
        if (ReferenceEquals(this, other))
        {
            return true;
        }
        return other is not null && other._elements.AsSpan().SequenceEqual(_elements) && other.Address == Address;
    }

    /// <inheritdoc />
    public override bool Equals(object? obj) => obj is ActorPath other && Equals(other);

    /// <inheritdoc />
    public override int GetHashCode()
    {
        var hash = new HashCode();
        hash.Add(Address);
        foreach (var element in _elements)
        {
            hash.Add(element);
        }
        return hash.ToHashCode();
    }

    /// <summary>Orders paths by their string form (ordinal), then by uid.</summary>
    public int CompareTo(ActorPath? other)
    {
        if (other is null)
        {
            return 1;
        }
        var byText = string.CompareOrdinal(ToString(), other.ToString());
        return byText != 0 ? byText : Uid.CompareTo(other.Uid);
    }

    /// <summary>Path equality (uid ignored).</summary>
    public static bool operator ==(ActorPath? left, ActorPath? right) => left is null ? right is null : left.Equals(right);

    /// <summary>Path inequality (uid ignored).</summary>
    public static bool operator !=(ActorPath? left, ActorPath? right) => !(left == right);
}
