namespace KvCluster.Actors;

/// <summary>A user message and its sender as queued in a mailbox or a stash.</summary>
/// <param name="Message">The message.</param>
/// <param name="Sender">The sender, or null for none.</param>
public readonly record struct Envelope(object Message, IActorRef? Sender);
