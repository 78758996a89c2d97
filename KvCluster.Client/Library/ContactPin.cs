using Akka.Actor;
using Akka.Cluster.Tools.Client;
using Akka.Serialization;
using Google.Protobuf;

namespace KvCluster.Client;

/// <summary>
/// The initial contact of one lane's ClusterClient: a local actor that answers ClusterClient's <c>GetContacts</c>
/// with exactly one receptionist, the lane's endpoint, as ClusterClientDiscovery feeds discovered contacts. Without
/// it, a ClusterClient asks its contact for the cluster's contacts (every node) and connects to whichever answers
/// first, so lanes meant for different nodes pile onto one and the client cannot reach the leader directly.
/// <para>
/// Akka keeps the receptionist's <c>Contacts</c> message internal; the pin builds one through its public wire format
/// (ClusterClientMessageSerializer, manifest "A": a protobuf with the contact paths as field 1). When that is not
/// possible (a future Akka changed it), <see cref="TryStart"/> returns null and the lane uses the receptionist itself
/// as its initial contact: requests then still arrive, through whichever node the lane reached, whose router forwards.
/// </para>
/// </summary>
internal static class ContactPin
{
    /// <summary>ClusterClientMessageSerializer's manifest of <c>ClusterReceptionist.Contacts</c>.</summary>
    private const string ContactsManifest = "A";

    /// <summary>Its manifest of <c>ClusterReceptionist.GetContacts</c>.</summary>
    private const string GetContactsManifest = "B";

    /// <summary>Starts a pin answering with <paramref name="receptionist"/>; null when Akka's wire format does not allow it.</summary>
    public static IActorRef? TryStart(ActorSystem system, ActorPath receptionist, string name)
    {
        try
        {
            if (system.Serialization.FindSerializerForType(typeof(ClusterClient.Send)) is not SerializerWithStringManifest serializer)
            {
                return null;
            }

            var getContacts = serializer.FromBinary([], GetContactsManifest).GetType();
            using var buffer = new MemoryStream();
            using (var output = new CodedOutputStream(buffer, leaveOpen: true))
            {
                output.WriteTag(1, WireFormat.WireType.LengthDelimited);
                output.WriteString(receptionist.ToString());
            }

            var contacts = serializer.FromBinary(buffer.ToArray(), ContactsManifest);
            if (contacts.GetType().Name != "Contacts" || serializer.Manifest(contacts) != ContactsManifest)
            {
                return null;
            }

            return system.ActorOf(Props.Create(() => new PinActor(getContacts, contacts)), name);
        }
        catch (Exception e) when (e is System.Runtime.Serialization.SerializationException or ArgumentException or InvalidProtocolBufferException or InvalidOperationException)
        {
            return null;
        }
    }

    /// <summary>Answers ClusterClient's GetContacts with the one contact.</summary>
    private sealed class PinActor : ReceiveActor
    {
        public PinActor(Type getContacts, object contacts)
        {
            Receive<object>(m => m.GetType() == getContacts, _ => Sender.Tell(contacts));
        }
    }
}
