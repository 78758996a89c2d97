namespace KvCluster.Actors;

/// <summary>
/// A message wrapped for delivery along a selection path (relative to the ref it is sent to).
/// The remoting layer carries it to another system's root guardian and calls
/// <see cref="ActorSelection.DeliverSelection"/> there.
/// </summary>
/// <param name="Message">The message to deliver to every selected actor.</param>
/// <param name="Elements">The remaining path elements: names, <c>..</c>, or patterns with <c>*</c> and <c>?</c>.</param>
public sealed record ActorSelectionMessage(object Message, IReadOnlyList<string> Elements) : IAutoReceivedMessage;

/// <summary>
/// A path (possibly with <c>..</c> and wildcards <c>*</c>/<c>?</c>) evaluated when a message is
/// sent, not when the selection is made. Tell delivers to every actor matching at that moment;
/// <see cref="ResolveOne"/> asks the matching actor to identify itself.
/// </summary>
public sealed class ActorSelection
{
    private readonly string[] _elements;

    private ActorSelection(InternalActorRef anchor, string[] elements)
    {
        Anchor = anchor;
        _elements = elements;
    }

    /// <summary>The ref the path is evaluated from (a root guardian for absolute paths).</summary>
    public IActorRef Anchor { get; }

    /// <summary>The path elements relative to <see cref="Anchor"/>.</summary>
    public IReadOnlyList<string> Elements => _elements;

    /// <summary>The selection printed as anchor path plus elements.</summary>
    public string PathString => Anchor.Path.ToString().TrimEnd('/') + "/" + string.Join('/', _elements);

    internal static ActorSelection Create(ActorSystem system, InternalActorRef? relativeTo, string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        InternalActorRef anchor;
        string elementsText;
        if (path.StartsWith(Address.SchemePrefix, StringComparison.Ordinal))
        {
            var slash = path.IndexOf('/', Address.SchemePrefix.Length);
            var addressText = slash < 0 ? path : path[..slash];
            var address = Address.Parse(addressText);
            anchor = system.Provider.ResolveActorRef(ActorPath.CreateRoot(address));
            elementsText = slash < 0 ? "" : path[(slash + 1)..];
        }
        else if (path.StartsWith('/'))
        {
            anchor = system.Provider.RootGuardian;
            elementsText = path[1..];
        }
        else
        {
            anchor = relativeTo ?? system.Provider.RootGuardian;
            elementsText = path;
        }
        var elements = elementsText.Split('/', StringSplitOptions.RemoveEmptyEntries);
        return new ActorSelection(anchor, elements);
    }

    /// <summary>Sends <paramref name="message"/> to every actor the path matches now; nothing matching: dead letters.</summary>
    public void Tell(object message, IActorRef? sender = null)
    {
        ArgumentNullException.ThrowIfNull(message);
        sender ??= ActorCell.Current?.Self;
        DeliverSelection((InternalActorRef)Anchor, sender, new ActorSelectionMessage(message, _elements));
    }

    /// <summary>
    /// Resolves the selection to one live actor by sending it <see cref="Identify"/>.
    /// </summary>
    /// <exception cref="ActorNotFoundException">Nothing answered with a ref within <paramref name="timeout"/>.</exception>
    public async Task<IActorRef> ResolveOne(TimeSpan timeout)
    {
        ActorIdentity identity;
        try
        {
            identity = await this.Ask<ActorIdentity>(new Identify(null), timeout).ConfigureAwait(false);
        }
        catch (AskTimeoutException ex)
        {
            throw new ActorNotFoundException($"No actor found for selection {PathString} within {timeout}.", ex);
        }
        return identity.Subject ?? throw new ActorNotFoundException($"No actor found for selection {PathString}.");
    }

    /// <summary>
    /// Delivers a selection message starting at <paramref name="anchor"/>: walks local children
    /// (<c>..</c> goes to the parent, patterns fan out), hands the rest of the path to a non-local
    /// ref as an <see cref="ActorSelectionMessage"/>, and sends the message to every match. No
    /// match: an <see cref="Identify"/> is answered with an empty <see cref="ActorIdentity"/>,
    /// anything else goes to dead letters. Used by the remoting layer on the receiving side.
    /// </summary>
    public static void DeliverSelection(InternalActorRef anchor, IActorRef? sender, ActorSelectionMessage selection)
    {
        ArgumentNullException.ThrowIfNull(anchor);
        ArgumentNullException.ThrowIfNull(selection);
        var matched = false;
        Walk(anchor, 0);
        if (!matched && !HasWildcard(selection.Elements))
        {
            if (selection.Message is Identify identify)
            {
                sender?.Tell(new ActorIdentity(identify.MessageId, null), anchor);
            }
            else if (anchor.IsLocal)
            {
                anchor.Provider.System.DeadLetterRef.Publish(selection.Message, sender, anchor);
            }
        }

        void Walk(InternalActorRef current, int index)
        {
            if (!current.IsLocal)
            {
                matched = true;
                var rest = selection.Elements.Skip(index).ToArray();
                current.Tell(rest.Length == 0 ? selection.Message : new ActorSelectionMessage(selection.Message, rest), sender);
                return;
            }
            if (index == selection.Elements.Count)
            {
                matched = true;
                current.Tell(selection.Message, sender);
                return;
            }
            var element = selection.Elements[index];
            if (element == "..")
            {
                if (current.Parent is { } parent)
                {
                    Walk(parent, index + 1);
                }
                return;
            }
            if (element.Contains('*') || element.Contains('?'))
            {
                if (current is LocalActorRef local)
                {
                    foreach (var child in local.Cell.Children.Cast<InternalActorRef>().ToList())
                    {
                        if (WildcardMatch(element, child.Path.Name))
                        {
                            Walk(child, index + 1);
                        }
                    }
                }
                return;
            }
            var next = GetChild(current, element);
            if (next is not null)
            {
                Walk(next, index + 1);
            }
        }
    }

    private static InternalActorRef? GetChild(InternalActorRef current, string name)
    {
        if (current.Path.Depth == 0 && current.Provider is var provider)
        {
            if (name == "deadLetters")
            {
                return provider.DeadLetters;
            }
            if (name == "temp")
            {
                return new TempContainerRef(provider);
            }
        }
        return current.GetChild(name);
    }

    private static bool HasWildcard(IReadOnlyList<string> elements) => elements.Any(e => e.Contains('*') || e.Contains('?'));

    /// <summary>Glob match with <c>*</c> (any run) and <c>?</c> (one character).</summary>
    internal static bool WildcardMatch(string pattern, string text)
    {
        int p = 0, t = 0, star = -1, mark = 0;
        while (t < text.Length)
        {
            if (p < pattern.Length && (pattern[p] == '?' || pattern[p] == text[t]))
            {
                p++;
                t++;
            }
            else if (p < pattern.Length && pattern[p] == '*')
            {
                star = p++;
                mark = t;
            }
            else if (star >= 0)
            {
                p = star + 1;
                t = ++mark;
            }
            else
            {
                return false;
            }
        }
        while (p < pattern.Length && pattern[p] == '*')
        {
            p++;
        }
        return p == pattern.Length;
    }

    /// <inheritdoc />
    public override string ToString() => $"ActorSelection[{PathString}]";

    /// <summary>The virtual <c>/temp</c> node: children are the registered temporary refs.</summary>
    private sealed class TempContainerRef(IActorRefProvider provider) : InternalActorRef
    {
        public override ActorPath Path => provider.RootPath / "temp";

        public override IActorRefProvider Provider => provider;

        public override void Tell(object message, IActorRef? sender) => provider.DeadLetters.Tell(message, sender);

        public override void SendSystemMessage(ISystemMessage message)
        {
        }

        public override InternalActorRef? GetChild(string name)
        {
            var resolved = provider.ResolveActorRef(provider.RootPath / "temp" / name);
            return resolved is MissingActorRef ? null : resolved;
        }
    }
}
