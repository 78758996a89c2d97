using Google.Protobuf;
using KvCluster.Actors.Remote.Protocol;
using KvCluster.Actors.Remote.Serialization;
using KvCluster.Actors.Remote.Transport;
using Microsoft.Extensions.Logging;

namespace KvCluster.Actors.Remote.Actors;

/// <summary>Translation between runtime messages and wire messages, and inbound delivery.</summary>
internal sealed partial class RemoteActorRefProvider
{
    /// <summary>Delivers one inbound message (transport reader thread; never blocks).</summary>
    internal void Deliver(InboundMessage inbound)
    {
        var recipient = ResolveRecipient(inbound.Recipient);
        var sender = inbound.Sender.Length == 0 ? null : ResolveSender(inbound.Sender);
        if (recipient is RemoteActorRef)
        {
            _logger.LogWarning("Remoting {Address}: {Peer} sent a message for {Recipient}, which is not on this system; dropped", DefaultAddress, inbound.From, inbound.Recipient);
            System.DeadLetters.Tell(new DeadLetter(inbound.Message, sender, recipient), sender);
            return;
        }

        switch (inbound.Message)
        {
            case WatchRequest watch:
                {
                    var watcher = ResolveWirePath(watch.Watcher);
                    if (watcher is RemoteActorRef remoteWatcher)
                    {
                        // Watch the watcher's node too, so its crash frees our watcher entries.
                        _transport.EnsureAssociation(remoteWatcher.RemoteAddress);
                    }

                    recipient.SendSystemMessage(new Watch(recipient, watcher));
                    break;
                }

            case UnwatchRequest unwatch:
                recipient.SendSystemMessage(new Unwatch(recipient, ResolveWirePath(unwatch.Watcher)));
                break;
            case Protocol.DeathWatchNotice dwn:
                recipient.SendSystemMessage(new DeathWatchNotification(CanonicalWatched(dwn.Actor), dwn.ExistenceConfirmed, dwn.AddressTerminated));
                break;
            case TerminateRequest:
                recipient.SendSystemMessage(Terminate.Instance);
                break;
            case ActorSelectionRequest selection:
                DeliverSelection(recipient, sender, selection, inbound);
                break;
            default:
                recipient.Tell(FromWire(inbound.Message), sender);
                break;
        }
    }

    private void DeliverSelection(InternalActorRef anchor, InternalActorRef? sender, ActorSelectionRequest selection, InboundMessage inbound)
    {
        IMessage inner;
        try
        {
            inner = _transport.Registry.Deserialize(selection.TypeId, selection.Payload.Span);
        }
        catch (Exception ex) when (ex is UnknownMessageTypeException or InvalidProtocolBufferException)
        {
            _logger.LogWarning("Remoting {Address}: dropped a selection message from {Peer}: {Problem}", DefaultAddress, inbound.From, ex.Message);
            return;
        }

        ActorSelection.DeliverSelection(anchor, sender, new ActorSelectionMessage(FromWire(inner), selection.Elements.ToArray()));
    }

    private InternalActorRef CanonicalWatched(string wirePath)
    {
        var actor = ResolveWirePath(wirePath);
        if (_watchedRemote.TryGetValue(actor.Path, out var watched) && (watched.Path.Uid == 0 || watched.Path.Uid == actor.Path.Uid))
        {
            return watched;
        }

        return actor;
    }

    /// <summary>Turns a runtime message into its wire form; null (with a reason) when it cannot travel.</summary>
    private IMessage? ToWire(object message, out string? problem)
    {
        problem = null;
        switch (message)
        {
            case IMessage protobuf:
                return protobuf;
            case PoisonPill:
                return new PoisonPillRequest();
            case Identify identify:
                return new IdentifyRequest { MessageId = ToWireId(identify.MessageId) };
            case ActorIdentity identity:
                return new ActorIdentityResponse { MessageId = ToWireId(identity.MessageId), Actor = WirePathOf(identity.Subject) ?? string.Empty };
            case Status.Failure failure:
                return new StatusFailure { ExceptionType = failure.Cause.GetType().FullName ?? "Exception", Message = failure.Cause.Message };
            case ActorSelectionMessage selection:
                {
                    var inner = ToWire(selection.Message, out problem);
                    if (inner is null)
                    {
                        return null;
                    }

                    if (!_transport.Registry.TryGetTypeId(inner.GetType(), out var typeId))
                    {
                        problem = UnknownMessageTypeException.ForType(inner.GetType()).Message;
                        return null;
                    }

                    var request = new ActorSelectionRequest { TypeId = typeId, Payload = inner.ToByteString() };
                    request.Elements.AddRange(selection.Elements);
                    return request;
                }

            default:
                problem = $"{message.GetType().FullName} is not a protobuf message; only registered protobuf messages (and PoisonPill, Identify, ActorIdentity, Status.Failure) can be sent to another system";
                return null;
        }
    }

    /// <summary>Turns a wire message back into the runtime message it stands for.</summary>
    private object FromWire(IMessage message) => message switch
    {
        PoisonPillRequest => PoisonPill.Instance,
        IdentifyRequest identify => new Identify(FromWireId(identify.MessageId)),
        ActorIdentityResponse identity => new ActorIdentity(
            FromWireId(identity.MessageId),
            identity.Actor.Length == 0 ? null : ResolveWirePath(identity.Actor)),
        StatusFailure failure => new Status.Failure(new RemoteFailureException(failure.ExceptionType, failure.Message)),
        _ => message,
    };

    private static MessageId? ToWireId(object? id) => id switch
    {
        null => null,
        string text => new MessageId { Text = text },
        int i => new MessageId { Int32Value = i },
        long l => new MessageId { Int64Value = l },
        _ => new MessageId { Text = id.ToString() ?? string.Empty },
    };

    private static object? FromWireId(MessageId? id) => id?.ValueCase switch
    {
        MessageId.ValueOneofCase.Text => id.Text,
        MessageId.ValueOneofCase.Int32Value => id.Int32Value,
        MessageId.ValueOneofCase.Int64Value => id.Int64Value,
        _ => null,
    };

    /// <summary>Transport events, forwarded by <see cref="RemoteListenerBridge"/>.</summary>
    internal void OnDeadLetter(OutboundDeadLetter deadLetter)
    {
        var recipient = ResolveWirePath(deadLetter.Recipient);
        var sender = deadLetter.Sender is null ? null : ResolveWirePath(deadLetter.Sender);
        _logger.LogInformation("Remoting {Address}: message {Type} to {Recipient} went to dead letters: {Reason}", DefaultAddress, deadLetter.Message.GetType().Name, deadLetter.Recipient, deadLetter.Reason);
        System.DeadLetters.Tell(new DeadLetter(deadLetter.Message, sender, recipient), sender);
    }

    internal void OnAddressTerminated(RemoteAddress peer)
    {
        var address = ToAddress(peer);
        foreach (var key in _watchedRemote.Keys.Where(p => p.Address == address).ToList())
        {
            _watchedRemote.TryRemove(key, out _);
        }

        System.EventStream.Publish(new AddressTerminated(address));
    }
}

/// <summary>
/// Forwards transport events to the provider, which exists only after the transport is bound
/// (the address needs the bound port). Messages arriving before that are dropped and logged.
/// </summary>
internal sealed class RemoteListenerBridge(ILogger logger) : IRemoteTransportListener
{
    private volatile RemoteActorRefProvider? _provider;

    public void Attach(RemoteActorRefProvider provider) => _provider = provider;

    public void OnMessage(InboundMessage message)
    {
        if (_provider is { } provider)
        {
            provider.Deliver(message);
        }
        else
        {
            logger.LogWarning("Remoting: a message from {Peer} arrived before the actor system started; dropped", message.From);
        }
    }

    public void OnDeadLetter(OutboundDeadLetter deadLetter) => _provider?.OnDeadLetter(deadLetter);

    public void OnPeerRestarted(RemoteAddress peer, ulong oldUid, ulong newUid) => _provider?.OnAddressTerminated(peer);

    public void OnAddressTerminated(RemoteAddress peer, ulong peerUid) => _provider?.OnAddressTerminated(peer);
}
