namespace KvCluster.Actors;

internal sealed partial class ActorCell
{
    private List<Envelope>? _stash;
    private int _stashCapacity;
    private StashHandleImpl? _stashHandle;

    /// <summary>The stash handle given to actors (and to layers above, e.g. persistence).</summary>
    internal IStash StashHandle => _stashHandle ??= new StashHandleImpl(this);

    private void UnstashAllToMailbox()
    {
        if (_stash is { Count: > 0 } stash)
        {
            Mailbox.Prepend(stash);
            stash.Clear();
        }
    }

    private void StashToDeadLetters()
    {
        if (_stash is { Count: > 0 } stash)
        {
            foreach (var envelope in stash)
            {
                System.DeadLetterRef.Publish(envelope.Message, envelope.Sender, Self);
            }
            stash.Clear();
        }
    }

    private sealed class StashHandleImpl(ActorCell cell) : IStash
    {
        public int Count => cell._stash?.Count ?? 0;

        public int Capacity => cell._stashCapacity;

        public void Stash()
        {
            var message = cell._currentMessage ?? throw new IllegalActorStateException("There is no current message to stash.");
            var stash = cell._stash ??= [];
            if (stash.Count > 0 && ReferenceEquals(stash[^1].Message, message) && Equals(stash[^1].Sender, cell._currentSender))
            {
                throw new IllegalActorStateException($"Cannot stash {message.GetType().Name} twice.");
            }
            if (stash.Count >= cell._stashCapacity)
            {
                throw new StashOverflowException($"The stash of {cell.Self.Path} is full ({cell._stashCapacity} messages); cannot stash {message.GetType().Name}.");
            }
            stash.Add(new Envelope(message, cell._currentSender));
        }

        public void Unstash()
        {
            if (cell._stash is { Count: > 0 } stash)
            {
                var first = stash[0];
                stash.RemoveAt(0);
                cell.Mailbox.Prepend([first]);
            }
        }

        public void UnstashAll() => cell.UnstashAllToMailbox();

        public IReadOnlyList<Envelope> ClearStash()
        {
            if (cell._stash is not { Count: > 0 } stash)
            {
                return [];
            }
            var copy = stash.ToArray();
            stash.Clear();
            return copy;
        }
    }
}
