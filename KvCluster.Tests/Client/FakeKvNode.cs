using System.Collections.Concurrent;
using Akka.Actor;
using Akka.Cluster.Tools.Client;
using Akka.Configuration;
using KvCluster.Client;
using KvCluster.Client.Protocol;
using KvCluster.Client.Serialization;

namespace KvCluster.Tests.Client;

/// <summary>
/// A stand-in for an AkkaKv node, as a client sees one: an actor system named <c>akkakv</c> that is a cluster of one
/// on a loopback port, with Akka's ClusterClientReceptionist and a scripted router at <c>/user/kv-router</c>
/// registered with it. Messages are serialized even locally (<c>serialize-messages = on</c>).
/// </summary>
internal sealed class FakeKvNode : IAsyncDisposable
{
    /// <summary>The configuration of a fake node; also what a real node must set for clients.</summary>
    private const string NodeHocon = """
        akka {
          loglevel = WARNING
          stdout-loglevel = WARNING
          log-dead-letters = off
          actor {
            provider = cluster
            serialize-messages = on
            serialize-creators = off
          }
          remote {
            log-remote-lifecycle-events = off
            dot-netty.tcp { hostname = 127.0.0.1, port = 0 }
          }
          cluster {
            min-nr-of-members = 1
            run-coordinated-shutdown-when-down = off
          }
          extensions = ["Akka.Cluster.Tools.Client.ClusterClientReceptionistExtensionProvider, Akka.Cluster.Tools"]
        }
        """;

    private readonly ActorSystem _system;

    private FakeKvNode(ActorSystem system, KvEndpoint endpoint)
    {
        _system = system;
        Endpoint = endpoint;
    }

    /// <summary>The node's endpoint (its remoting host:port).</summary>
    public KvEndpoint Endpoint { get; }

    /// <summary>What the node believes: the leader endpoint it reports ("" for none).</summary>
    public string LeaderEndpoint { get; set; } = string.Empty;

    /// <summary>How the router answers a request; null leaves it unanswered. Default: OK with revision 1.</summary>
    public Func<KvRequest, int, KvResponse?> Answer { get; set; } = (_, _) => Ok(1);

    /// <summary>When false, <see cref="GetContacts"/> goes unanswered.</summary>
    public bool AnswerContacts { get; set; } = true;

    /// <summary>Every request the router received, in order.</summary>
    public ConcurrentQueue<KvRequest> Requests { get; } = new();

    /// <summary>The sender of every request, as the router sees it (the receptionist's response tunnel).</summary>
    public ConcurrentQueue<string> RequestSenders { get; } = new();

    /// <summary>How many <see cref="GetContacts"/> the router received.</summary>
    public int ContactRequests => Volatile.Read(ref _contactRequests);

    private int _contactRequests;

    /// <summary>Starts a node on a free loopback port and waits until it is Up: a cluster of one, or a member of <paramref name="seed"/>'s.</summary>
    public static async Task<FakeKvNode> StartAsync(FakeKvNode? seed = null, int port = 0)
    {
        var config = ConfigurationFactory.ParseString($"akka.remote.dot-netty.tcp.port = {port}")
            .WithFallback(ConfigurationFactory.ParseString(NodeHocon))
            .WithFallback(KvProtocolSerializer.Config)
            .WithFallback(ClusterClientReceptionist.DefaultConfig())
            .WithFallback(Akka.Cluster.Tools.PublishSubscribe.DistributedPubSub.DefaultConfig());
        var system = ActorSystem.Create(KvWireTypes.DefaultSystemName, config);
        var cluster = Akka.Cluster.Cluster.Get(system);
        var up = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        cluster.RegisterOnMemberUp(() => up.TrySetResult());
        cluster.Join(seed is null ? cluster.SelfAddress : Akka.Cluster.Cluster.Get(seed._system).SelfAddress);
        await up.Task.WaitAsync(TimeSpan.FromSeconds(20));
        var address = cluster.SelfAddress;
        var node = new FakeKvNode(system, new KvEndpoint(address.Host!, address.Port!.Value));
        var router = system.ActorOf(Props.Create(() => new FakeRouter(node)), "kv-router");
        ClusterClientReceptionist.Get(system).RegisterService(router);
        return node;
    }

    /// <summary>An OK answer with a put result at <paramref name="revision"/>.</summary>
    public static KvResponse Ok(long revision) => new() { Code = ResponseCode.Ok, Result = new KvResult { Status = KvStatus.Ok, Revision = revision } };

    /// <summary>Stops the node (its connections close, as when a process dies).</summary>
    public async ValueTask DisposeAsync()
    {
        await _system.Terminate().WaitAsync(TimeSpan.FromSeconds(20));
    }

    /// <summary>The scripted router.</summary>
    private sealed class FakeRouter : ReceiveActor
    {
        public FakeRouter(FakeKvNode node)
        {
            Receive<GetContacts>(_ =>
            {
                Interlocked.Increment(ref node._contactRequests);
                if (node.AnswerContacts)
                {
                    Sender.Tell(new Contacts { Endpoints = { node.Endpoint.ToString() }, LeaderEndpoint = node.LeaderEndpoint, NodeId = 1 });
                }
            });
            Receive<KvRequest>(request =>
            {
                node.Requests.Enqueue(request);
                node.RequestSenders.Enqueue(Sender.Path.ToString());
                if (node.Answer(request, node.Requests.Count) is { } response)
                {
                    if (string.IsNullOrEmpty(response.LeaderEndpoint))
                    {
                        response.LeaderEndpoint = node.LeaderEndpoint;
                    }

                    // Like the real router: the answer names its request (the client correlates by id).
                    response.RequestId = request.RequestId;
                    Sender.Tell(response);
                }
            });
        }
    }
}
