namespace KvCluster.Actors;

/// <summary>
/// An actor's stash: set messages aside and put them back later (typically when switching
/// behaviour). Only usable on the actor's thread. Unstashed messages go to the FRONT of the
/// mailbox, in the order they were stashed, ahead of messages already queued.
/// On restart the stash is put back into the mailbox (the new instance sees the messages again);
/// on stop it goes to dead letters.
/// </summary>
public interface IStash
{
    /// <summary>Number of stashed messages.</summary>
    int Count { get; }

    /// <summary>Maximum number of stashed messages.</summary>
    int Capacity { get; }

    /// <summary>Stashes the message being handled (with its sender).</summary>
    /// <exception cref="StashOverflowException">The stash already holds <see cref="Capacity"/> messages.</exception>
    /// <exception cref="IllegalActorStateException">The current message was already stashed, or there is none.</exception>
    void Stash();

    /// <summary>Puts the oldest stashed message back at the front of the mailbox.</summary>
    void Unstash();

    /// <summary>Puts every stashed message back at the front of the mailbox, oldest first.</summary>
    void UnstashAll();

    /// <summary>Removes and returns every stashed message without delivering them.</summary>
    IReadOnlyList<Envelope> ClearStash();
}

/// <summary>Implemented by an actor that uses a stash; the runtime sets <see cref="Stash"/> before the constructor returns control to it (right after construction).</summary>
public interface IWithStash
{
    /// <summary>The actor's stash (assigned by the runtime).</summary>
    IStash Stash { get; set; }
}
