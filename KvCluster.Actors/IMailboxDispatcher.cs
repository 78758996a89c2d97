namespace KvCluster.Actors;

/// <summary>
/// The seam that decides where and when mailbox turns run (Akka's dispatcher). The default, when
/// <see cref="ActorSystemSetup.Dispatcher"/> is null, is the .NET thread pool; a test passes a
/// <see cref="DeterministicDispatcher"/> to run turns one at a time on its own thread.
/// </summary>
/// <remarks>
/// Contract: <see cref="Schedule"/> is called from any thread (any actor or non-actor sender),
/// at most once per mailbox until that turn has run (the mailbox's scheduled bit guarantees it);
/// the implementation must eventually call <see cref="IThreadPoolWorkItem.Execute"/> exactly once
/// for each scheduled turn, on one thread at a time per turn. A turn reschedules its mailbox by
/// itself when work remains, so the dispatcher never has to look inside it.
/// </remarks>
public interface IMailboxDispatcher
{
    /// <summary>Queues one mailbox turn. Must not run it inline on the caller's stack (the caller may be another actor's turn).</summary>
    /// <param name="turn">The turn; run it by calling <see cref="IThreadPoolWorkItem.Execute"/>.</param>
    void Schedule(IThreadPoolWorkItem turn);
}
