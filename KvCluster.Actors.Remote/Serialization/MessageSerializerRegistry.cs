using System.Buffers;
using System.Collections.Concurrent;
using Google.Protobuf;
using KvCluster.Actors.Remote.Protocol;

namespace KvCluster.Actors.Remote.Serialization;

/// <summary>
/// Maps every protobuf message type that may cross the network to a stable numeric id, and turns
/// payloads back into messages. The id, not the CLR type name, goes on the wire, so types can be
/// renamed or moved without breaking peers.
/// </summary>
/// <remarks>
/// <para>Id ranges: 1–99 are reserved for remoting itself (<see cref="RemoteSystemTypeIds"/>);
/// 100–199 Raft; 200–299 key-value; 300–399 cluster membership; 1000 and above are free for
/// applications and tests. Register every type before the first message of that type is sent or
/// received; registration is thread-safe and usually done once at start-up by each layer.</para>
/// <para>Lookups are lock-free and may run concurrently on any thread.</para>
/// </remarks>
public sealed class MessageSerializerRegistry
{
    /// <summary>Ids below this value are reserved for remoting's own messages.</summary>
    public const int FirstUserTypeId = 100;

    private readonly ConcurrentDictionary<int, MessageParser> _parsersById = new();
    private readonly ConcurrentDictionary<Type, int> _idsByType = new();
    private readonly object _registrationLock = new();

    /// <summary>Creates a registry that already holds remoting's system messages.</summary>
    public MessageSerializerRegistry()
    {
        RegisterCore<WatchRequest>(RemoteSystemTypeIds.WatchRequest);
        RegisterCore<UnwatchRequest>(RemoteSystemTypeIds.UnwatchRequest);
        RegisterCore<DeathWatchNotice>(RemoteSystemTypeIds.DeathWatchNotice);
        RegisterCore<TerminateRequest>(RemoteSystemTypeIds.TerminateRequest);
        RegisterCore<IdentifyRequest>(RemoteSystemTypeIds.IdentifyRequest);
        RegisterCore<ActorIdentityResponse>(RemoteSystemTypeIds.ActorIdentityResponse);
        RegisterCore<PoisonPillRequest>(RemoteSystemTypeIds.PoisonPillRequest);
        RegisterCore<ActorSelectionRequest>(RemoteSystemTypeIds.ActorSelectionRequest);
        RegisterCore<StatusFailure>(RemoteSystemTypeIds.StatusFailure);
    }

    /// <summary>
    /// Registers <typeparamref name="T"/> under <paramref name="typeId"/>. Registering the same
    /// pair again is a no-op, so layers may register idempotently.
    /// </summary>
    /// <param name="typeId">A stable id, at least <see cref="FirstUserTypeId"/>.</param>
    /// <exception cref="ArgumentOutOfRangeException">The id is in the reserved range.</exception>
    /// <exception cref="ArgumentException">The id is already taken by another type, or the type
    /// is already registered under another id.</exception>
    public void Register<T>(int typeId)
        where T : IMessage<T>, new()
    {
        if (typeId < FirstUserTypeId)
        {
            throw new ArgumentOutOfRangeException(
                nameof(typeId),
                typeId,
                $"Type ids below {FirstUserTypeId} are reserved for remoting; choose an id >= {FirstUserTypeId} for {typeof(T).FullName}.");
        }

        RegisterCore<T>(typeId);
    }

    /// <summary>Returns the id registered for <paramref name="messageType"/>, or false.</summary>
    public bool TryGetTypeId(Type messageType, out int typeId) => _idsByType.TryGetValue(messageType, out typeId);

    /// <summary>Returns the id registered for the message's runtime type.</summary>
    /// <exception cref="UnknownMessageTypeException">The type was never registered.</exception>
    public int GetTypeId(IMessage message)
    {
        ArgumentNullException.ThrowIfNull(message);
        if (_idsByType.TryGetValue(message.GetType(), out var id))
        {
            return id;
        }

        throw UnknownMessageTypeException.ForType(message.GetType());
    }

    /// <summary>True when <paramref name="typeId"/> has a registered type.</summary>
    public bool IsRegistered(int typeId) => _parsersById.ContainsKey(typeId);

    /// <summary>Parses a payload of the type registered under <paramref name="typeId"/>.</summary>
    /// <exception cref="UnknownMessageTypeException">No type is registered under the id.</exception>
    /// <exception cref="InvalidProtocolBufferException">The bytes are not a valid message of that type.</exception>
    public IMessage Deserialize(int typeId, ReadOnlySpan<byte> payload) => GetParser(typeId).ParseFrom(payload);

    /// <summary>Parses a payload that may span several buffer segments.</summary>
    /// <exception cref="UnknownMessageTypeException">No type is registered under the id.</exception>
    /// <exception cref="InvalidProtocolBufferException">The bytes are not a valid message of that type.</exception>
    public IMessage Deserialize(int typeId, ReadOnlySequence<byte> payload) => GetParser(typeId).ParseFrom(payload);

    /// <summary>Serializes a registered message to a new array (tests, tooling; the transport
    /// writes straight into its output buffer instead).</summary>
    /// <exception cref="UnknownMessageTypeException">The type was never registered.</exception>
    public (int TypeId, byte[] Payload) Serialize(IMessage message) => (GetTypeId(message), message.ToByteArray());

    private MessageParser GetParser(int typeId)
    {
        if (_parsersById.TryGetValue(typeId, out var parser))
        {
            return parser;
        }

        throw UnknownMessageTypeException.ForId(typeId);
    }

    private void RegisterCore<T>(int typeId)
        where T : IMessage<T>, new()
    {
        lock (_registrationLock)
        {
            if (_idsByType.TryGetValue(typeof(T), out var existingId))
            {
                if (existingId == typeId)
                {
                    return;
                }

                throw new ArgumentException(
                    $"{typeof(T).FullName} is already registered with type id {existingId}; it cannot also take id {typeId}.",
                    nameof(typeId));
            }

            if (_parsersById.TryGetValue(typeId, out var other))
            {
                throw new ArgumentException(
                    $"Type id {typeId} is already taken by {DescribeParser(other)}; {typeof(T).FullName} needs another id.",
                    nameof(typeId));
            }

            _parsersById[typeId] = new MessageParser<T>(() => new T());
            _idsByType[typeof(T)] = typeId;
        }
    }

    private string DescribeParser(MessageParser parser)
    {
        foreach (var pair in _idsByType)
        {
            if (_parsersById.TryGetValue(pair.Value, out var p) && ReferenceEquals(p, parser))
            {
                return pair.Key.FullName ?? pair.Key.Name;
            }
        }

        return "another type";
    }
}

/// <summary>The ids of remoting's own messages (the reserved range 1–99).</summary>
public static class RemoteSystemTypeIds
{
    /// <summary>Id of <see cref="Protocol.WatchRequest"/>.</summary>
    public const int WatchRequest = 1;

    /// <summary>Id of <see cref="Protocol.UnwatchRequest"/>.</summary>
    public const int UnwatchRequest = 2;

    /// <summary>Id of <see cref="Protocol.DeathWatchNotice"/>.</summary>
    public const int DeathWatchNotice = 3;

    /// <summary>Id of <see cref="Protocol.TerminateRequest"/>.</summary>
    public const int TerminateRequest = 4;

    /// <summary>Id of <see cref="Protocol.IdentifyRequest"/>.</summary>
    public const int IdentifyRequest = 5;

    /// <summary>Id of <see cref="Protocol.ActorIdentityResponse"/>.</summary>
    public const int ActorIdentityResponse = 6;

    /// <summary>Id of <see cref="Protocol.PoisonPillRequest"/>.</summary>
    public const int PoisonPillRequest = 7;

    /// <summary>Id of <see cref="Protocol.ActorSelectionRequest"/>.</summary>
    public const int ActorSelectionRequest = 8;

    /// <summary>Id of <see cref="Protocol.StatusFailure"/>.</summary>
    public const int StatusFailure = 9;
}

/// <summary>
/// A message type or type id that is not registered in the <see cref="MessageSerializerRegistry"/>.
/// On send the message goes to dead letters; on receive the envelope is dropped and counted, and
/// the connection stays open (the frame itself was well-formed).
/// </summary>
public sealed class UnknownMessageTypeException : Exception
{
    private UnknownMessageTypeException(string message)
        : base(message)
    {
    }

    /// <summary>The unregistered id, when the failure came from the wire; otherwise null.</summary>
    public int? TypeId { get; private init; }

    /// <summary>The unregistered CLR type, when the failure came from a send; otherwise null.</summary>
    public Type? MessageType { get; private init; }

    internal static UnknownMessageTypeException ForId(int typeId) => new(
        $"No message type is registered under type id {typeId}; register it with MessageSerializerRegistry.Register<T>({typeId}) on this node.")
    {
        TypeId = typeId,
    };

    internal static UnknownMessageTypeException ForType(Type type) => new(
        $"{type.FullName} is not registered for remoting; call MessageSerializerRegistry.Register<{type.Name}>(id) before sending it to another node.")
    {
        MessageType = type,
    };
}
