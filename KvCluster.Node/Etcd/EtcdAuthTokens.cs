using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Buffers.Text;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Google.Protobuf;
using KvCluster.Node.Kv;

namespace KvCluster.Node.Etcd;

/// <summary>Who made a call: the user its token names and the auth revision it was checked at (none: "" and 0).</summary>
/// <param name="User">The user name.</param>
/// <param name="Revision">The node's auth revision when the token was checked.</param>
internal sealed record AuthIdentity(string User, ulong Revision)
{
    /// <summary>A call without a token.</summary>
    public static AuthIdentity None { get; } = new(string.Empty, 0);
}

/// <summary>
/// Passwords and tokens of etcd's Auth service.
/// <para>Passwords: bcrypt with etcd's default cost (10), through BCrypt.Net-Next, so a stored hash is the form etcd
/// stores, and etcd 3.5 clients may send a hash they made (<c>hashedPassword</c>) instead of the password.</para>
/// <para>Tokens: etcd's default "simple" tokens live in each member's memory and are assigned through the log. AkkaKv's
/// are signed instead, so that any node accepts a token another issued with no log entry and no state: base64url of
/// (format 1, expiry in Unix seconds, 8 bytes of SHA-256 of the user's stored password hash, the user name), a dot, and
/// base64url of the first 16 bytes of HMAC-SHA256 of that with the store's token key (drawn when authentication was
/// enabled, replicated with the store). A token stops working when it expires, when authentication is disabled (a
/// re-enable draws a new key), and when its user is deleted or changes password, as etcd invalidates a user's tokens.</para>
/// </summary>
internal sealed class EtcdAuthTokens
{
    /// <summary>bcrypt's cost for new passwords: etcd's default <c>--bcrypt-cost</c>.</summary>
    public const int BcryptCost = 10;

    private const byte TokenFormat = 1;
    private const int MacBytes = 16;
    private const int FingerprintBytes = 8;

    /// <summary>Tokens this node accepted, with the auth store they were checked against (a new store: checked again).</summary>
    private readonly ConcurrentDictionary<string, (KvAuthState Auth, AuthIdentity Identity, long ExpiresUnix)> _accepted = new(StringComparer.Ordinal);

    /// <summary>At most this many tokens are remembered; past it the memory starts over.</summary>
    private const int MaxAccepted = 10_000;

    private readonly TimeSpan _ttl;
    private readonly TimeProvider _clock;

    /// <summary>Creates the issuer: tokens valid for <paramref name="ttl"/> by <paramref name="clock"/>.</summary>
    public EtcdAuthTokens(TimeSpan ttl, TimeProvider? clock = null)
    {
        _ttl = ttl;
        _clock = clock ?? TimeProvider.System;
    }

    /// <summary>The stored hash of <paramref name="password"/>: bcrypt at <see cref="BcryptCost"/>, with a fresh salt.</summary>
    public static ByteString HashPassword(string password) =>
        ByteString.CopyFromUtf8(BCrypt.Net.BCrypt.HashPassword(password, BcryptCost));

    /// <summary>True when <paramref name="hash"/> is a bcrypt hash a client may hand over as its password's (etcd 3.5's
    /// <c>hashedPassword</c>): one BCrypt.Net-Next can verify against.</summary>
    public static bool IsBcryptHash(string hash)
    {
        try
        {
            _ = BCrypt.Net.BCrypt.Verify(string.Empty, hash);
            return true;
        }
        catch (Exception e) when (e is BCrypt.Net.SaltParseException or ArgumentException)
        {
            return false;
        }
    }

    /// <summary>True when <paramref name="password"/> matches <paramref name="stored"/> (false for a malformed or empty one).</summary>
    public static bool VerifyPassword(string password, ByteString stored)
    {
        if (stored.IsEmpty)
        {
            return false;
        }

        try
        {
            return BCrypt.Net.BCrypt.Verify(password, stored.ToStringUtf8());
        }
        catch (Exception e) when (e is BCrypt.Net.SaltParseException or ArgumentException)
        {
            return false;
        }
    }

    /// <summary>A new secret to sign tokens with.</summary>
    public static ByteString NewTokenKey() => ByteString.CopyFrom(RandomNumberGenerator.GetBytes(32));

    /// <summary>A token for <paramref name="user"/> signed with <paramref name="auth"/>'s key, valid for the TTL from now.</summary>
    public string Issue(KvAuthState auth, string user)
    {
        var name = Encoding.UTF8.GetBytes(user);
        var payload = new byte[1 + 8 + FingerprintBytes + name.Length];
        payload[0] = TokenFormat;
        BinaryPrimitives.WriteInt64BigEndian(payload.AsSpan(1), (_clock.GetUtcNow() + _ttl).ToUnixTimeSeconds());
        Fingerprint(auth.Users[user].Password).CopyTo(payload.AsSpan(9));
        name.CopyTo(payload.AsSpan(9 + FingerprintBytes));
        return $"{Base64Url.EncodeToString(payload)}.{Base64Url.EncodeToString(Mac(auth.TokenKey, payload))}";
    }

    /// <summary>
    /// The identity <paramref name="token"/> proves against <paramref name="auth"/> (at its current revision), or null
    /// when it is malformed, forged, expired, or its user is gone or changed password.
    /// </summary>
    public AuthIdentity? Validate(string token, KvAuthState auth)
    {
        // A client sends the same token with every call: one accepted against this very store is accepted again
        // without the MAC and hashes (2.5 us; docs/BENCHMARKS.md), until it expires.
        var now = _clock.GetUtcNow().ToUnixTimeSeconds();
        if (_accepted.TryGetValue(token, out var known) && ReferenceEquals(known.Auth, auth) && known.ExpiresUnix > now)
        {
            return known.Identity;
        }

        var identity = Check(token, auth, out var expires);
        if (identity is not null)
        {
            if (_accepted.Count >= MaxAccepted)
            {
                _accepted.Clear();
            }

            _accepted[token] = (auth, identity, expires);
        }

        return identity;
    }

    private AuthIdentity? Check(string token, KvAuthState auth, out long expires)
    {
        expires = 0;
        var dot = token.IndexOf('.', StringComparison.Ordinal);
        if (dot <= 0 || auth.TokenKey.IsEmpty)
        {
            return null;
        }

        byte[] payload;
        byte[] mac;
        try
        {
            payload = Base64Url.DecodeFromChars(token.AsSpan(0, dot));
            mac = Base64Url.DecodeFromChars(token.AsSpan(dot + 1));
        }
        catch (FormatException)
        {
            return null;
        }

        if (payload.Length < 1 + 8 + FingerprintBytes + 1 || payload[0] != TokenFormat
            || !CryptographicOperations.FixedTimeEquals(mac, Mac(auth.TokenKey, payload)))
        {
            return null;
        }

        expires = BinaryPrimitives.ReadInt64BigEndian(payload.AsSpan(1));
        if (expires <= _clock.GetUtcNow().ToUnixTimeSeconds())
        {
            return null;
        }

        string user;
        try
        {
            user = new UTF8Encoding(false, true).GetString(payload.AsSpan(9 + FingerprintBytes));
        }
        catch (ArgumentException)
        {
            return null;
        }

        return auth.Users.TryGetValue(user, out var stored) && Fingerprint(stored.Password).SequenceEqual(payload.AsSpan(9, FingerprintBytes))
            ? new AuthIdentity(user, auth.Revision)
            : null;
    }

    private static byte[] Mac(ByteString key, byte[] payload) => HMACSHA256.HashData(key.Span, payload).AsSpan(0, MacBytes).ToArray();

    private static byte[] Fingerprint(ByteString passwordHash) => SHA256.HashData(passwordHash.Span).AsSpan(0, FingerprintBytes).ToArray();
}
