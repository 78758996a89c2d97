using Akka.Actor;
using Akka.Cluster.Tools.Client;
using Akka.Serialization;
using KvCluster.Client;

namespace KvCluster.Tests.Client;

public sealed class ContactPinTests : IDisposable
{
    private readonly ActorSystem _system = ActorSystem.Create("pin-spec", KvClient.ClientConfig(
        new KvClientOptions { Endpoints = [new KvEndpoint("127.0.0.1", 4054)], AkkaConfig = "akka.actor.serialize-messages = on" },
        logging: false));

    public void Dispose() => _system.Terminate().Wait(TimeSpan.FromSeconds(10));

    [Fact]
    public async Task TryStart_ThisAkkaVersion_AnswersGetContactsWithExactlyTheOneReceptionist()
    {
        var receptionist = ActorPath.Parse("akka.tcp://akkakv@127.0.0.1:4054/system/receptionist");

        var pin = ContactPin.TryStart(_system, receptionist, "pin");

        Assert.NotNull(pin);
        var serializer = (SerializerWithStringManifest)_system.Serialization.FindSerializerForType(typeof(ClusterClient.Send));
        var getContacts = serializer.FromBinary([], "B");
        var contacts = await pin.Ask<object>(getContacts, TimeSpan.FromSeconds(5));
        Assert.Equal("A", serializer.Manifest(contacts));
        var points = (System.Collections.IEnumerable)contacts.GetType().GetProperty("ContactPoints")!.GetValue(contacts)!;
        Assert.Equal([receptionist.ToString()], points.Cast<string>());
    }
}
