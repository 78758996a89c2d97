using Google.Protobuf.WellKnownTypes;
using KvCluster.Actors;
using KvCluster.Actors.Remote.Actors;
using KvCluster.Actors.TestKit;

namespace KvCluster.Tests.Remote;

/// <summary>The TestKit hosting a remoting-enabled system: probes receive from remote actors.</summary>
[Trait("Category", "Integration")]
public sealed class RemoteTestKitSpecs : TestKit
{
    private readonly ActorSystem _peer;

    public RemoteTestKitSpecs()
        : base(setup: Prepare("kit").ApplyTo(ActorSystemSetup.Default), systemName: "kit")
    {
        _peer = RemoteSystems.StartAsync("peer").GetAwaiter().GetResult();
        _peer.ActorOf(Props.Create(() => new RemoteEchoActor()), "echo");
    }

    private static RemotingSetup Prepare(string name) =>
        RemoteActorSystem.PrepareAsync(RemoteTestNode.FastSettings(name), RemoteTestNode.NewRegistry()).GetAwaiter().GetResult();

    private IActorRef Echo => Sys.Provider.ResolveActorRef(_peer.PathOf("echo"));

    [Fact]
    public void Probe_TellsRemoteEcho_ExpectsReplyFromRemoteSender()
    {
        var probe = CreateTestProbe("p");

        probe.Send(Echo, new StringValue { Value = "from a probe" });

        probe.ExpectMsg<StringValue>(m => m.Value == "from a probe", TimeSpan.FromSeconds(10));
        Assert.Equal(Echo.Path, probe.LastSender!.Path);
        Assert.Equal($"kv://kit@127.0.0.1:{RemoteExtension.Get(Sys).Address.Port}", Sys.Address.ToString());
    }

    [Fact]
    public void Probe_WatchesRemoteActor_ExpectTerminatedAfterPoisonPill()
    {
        var echo = Echo;
        Watch(echo);
        echo.Tell(new StringValue { Value = "sync" }, TestActor);
        ExpectMsg<StringValue>(timeout: TimeSpan.FromSeconds(10));

        echo.Tell(PoisonPill.Instance, TestActor);

        var terminated = ExpectTerminated(echo, TimeSpan.FromSeconds(10));
        Assert.True(terminated.ExistenceConfirmed);
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            RemoteActorSystem.TerminateAsync(_peer).Wait(TimeSpan.FromSeconds(10));
            RemoteActorSystem.TerminateAsync(Sys).Wait(TimeSpan.FromSeconds(10));
        }

        base.Dispose(disposing);
    }
}
