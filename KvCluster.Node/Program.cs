using KvCluster.Actors;
using KvCluster.Node.Demo;
using Microsoft.Extensions.Logging;

// Until the KV node exists (Raft, persistence, remoting are being built), the node host runs the
// closest runnable thing: an actor system named "akkakv" with console logging and a small
// pinger/ponger demo. It runs until Ctrl-C or SIGTERM, then terminates the actor system in order
// (children before parents) and exits with code 0.

using var loggerFactory = LoggerFactory.Create(builder => builder
    .AddSimpleConsole(options =>
    {
        options.SingleLine = true;
        options.TimestampFormat = "HH:mm:ss.fff ";
    })
    .SetMinimumLevel(LogLevel.Information));
var log = loggerFactory.CreateLogger("KvCluster.Node");

var system = ActorSystem.Create("akkakv", ActorSystemSetup.Default.WithLoggerFactory(loggerFactory));
log.LogInformation("Actor system {Address} started (uid {Uid}).", system.Address, system.Uid);
log.LogWarning("The key-value store is not built yet: this node only runs the actor runtime demo (pinger/ponger).");

var ponger = system.ActorOf(Props.Create<Ponger>(), "ponger");
system.ActorOf(Props.Create(() => new Pinger(ponger, TimeSpan.FromSeconds(1))), "pinger");

using var shutdown = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) =>
{
    e.Cancel = true;
    shutdown.Cancel();
};
using var sigterm = System.Runtime.InteropServices.PosixSignalRegistration.Create(System.Runtime.InteropServices.PosixSignal.SIGTERM, context =>
{
    context.Cancel = true;
    shutdown.Cancel();
});

try
{
    await Task.Delay(Timeout.Infinite, shutdown.Token);
}
catch (OperationCanceledException)
{
    // Ctrl-C or SIGTERM: shut down in order.
}

log.LogInformation("Shutting down actor system {Address}.", system.Address);
var terminated = system.Terminate();
if (await Task.WhenAny(terminated, Task.Delay(TimeSpan.FromSeconds(30))) != terminated)
{
    log.LogError("The actor system did not terminate within 30 s.");
    return 1;
}
log.LogInformation("Actor system terminated; dead letters: {Count}.", system.DeadLetterCount);
return 0;
