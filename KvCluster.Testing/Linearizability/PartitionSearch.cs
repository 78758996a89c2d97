namespace KvCluster.Testing.Linearizability;

/// <summary>
/// The Wing and Gong search with Lowe's memoization over one partition.
/// <para>
/// Calls and returns are kept in one doubly linked list sorted by time (a call before a return at
/// the same time, so equal times overlap). Scanning from the head, the search tries to linearize the
/// next pending call: if the model accepts it and the (linearized set, state) pair is new, the call
/// and its return are lifted out of the list and the scan restarts at the head. Reaching a return
/// means that operation should already have been linearized, so the last choice is undone
/// (unlifted) and the scan resumes after it. The history is linearizable when every operation with
/// a known outcome has been lifted; indeterminate operations return at +infinity and are optional.
/// </para>
/// </summary>
internal sealed partial class PartitionSearch<TState, TInput, TOutput>
{
    private readonly Model<TState, TInput, TOutput> _model;
    private readonly string _key;
    private readonly List<Operation<TInput, TOutput>> _ops;
    private readonly SearchBudget _budget;
    private readonly IEqualityComparer<TState> _states;
    private readonly Dictionary<ulong, List<CacheItem>> _cache = [];
    private readonly ulong[] _linearized;
    private readonly ulong[] _indeterminate;
    private readonly List<Frame> _stack = [];
    private int[] _bestOrder = [];
    private TState _bestState;
    private readonly long _stepsAtStart;

    public PartitionSearch(Model<TState, TInput, TOutput> model, string key, List<Operation<TInput, TOutput>> ops, SearchBudget budget)
    {
        _model = model;
        _key = key;
        _ops = ops;
        _budget = budget;
        _states = model.StateComparer;
        _linearized = new ulong[(ops.Count + 63) / 64];
        _indeterminate = new ulong[_linearized.Length];
        for (var i = 0; i < ops.Count; i++)
        {
            if (ops[i].Outcome == OperationOutcome.Info)
            {
                _indeterminate[i >> 6] |= 1UL << (i & 63);
            }
        }

        _bestState = model.Init();
        _stepsAtStart = budget.Steps;
    }

    public PartitionResult<TInput, TOutput> Run()
    {
        var head = BuildList();
        var state = _model.Init();
        ulong linearizedHash = 0;
        TryRemember(linearizedHash, state);
        var remainingOk = _ops.Count(op => op.Outcome == OperationOutcome.Ok);
        var entry = head.Next;

        // Two passes over the candidates at each configuration: operations with known outcomes
        // first, then indeterminate ones. Trying the optional operations last means configurations
        // with fewer of them are remembered first, so TryRemember's subsumption prunes the rest.
        var infoPass = false;
        while (remainingOk > 0)
        {
            if (entry!.IsCall)
            {
                var op = _ops[entry.Op];
                if ((op.Outcome == OperationOutcome.Info) != infoPass)
                {
                    entry = entry.Next;
                    continue;
                }

                if (!_budget.TrySpend())
                {
                    return Finish(LinearizabilityVerdict.Unknown);
                }

                var (ok, next) = op.Outcome == OperationOutcome.Info
                    ? _model.StepIndeterminate(state, op.Input)
                    : _model.Step(state, op.Input, op.Output!);
                if (ok)
                {
                    var hash = linearizedHash ^ Zobrist(entry.Op, op.Outcome);
                    SetBit(entry.Op, true);
                    if (TryRemember(hash, next))
                    {
                        _stack.Add(new Frame(entry, state, infoPass));
                        state = next;
                        linearizedHash = hash;
                        Lift(entry);
                        if (op.Outcome == OperationOutcome.Ok)
                        {
                            remainingOk--;
                        }

                        if (_stack.Count > _bestOrder.Length)
                        {
                            _bestOrder = _stack.Select(f => f.Call.Op).ToArray();
                            _bestState = state;
                        }

                        entry = head.Next;
                        infoPass = false;
                        continue;
                    }

                    SetBit(entry.Op, false);
                }

                entry = entry.Next;
            }
            else if (!infoPass)
            {
                // Known-outcome candidates exhausted: rescan for indeterminate ones.
                infoPass = true;
                entry = head.Next;
            }
            else
            {
                if (_stack.Count == 0)
                {
                    return Finish(LinearizabilityVerdict.NotLinearizable);
                }

                var frame = _stack[^1];
                _stack.RemoveAt(_stack.Count - 1);
                state = frame.StateBefore;
                linearizedHash ^= Zobrist(frame.Call.Op, _ops[frame.Call.Op].Outcome);
                SetBit(frame.Call.Op, false);
                Unlift(frame.Call);
                if (_ops[frame.Call.Op].Outcome == OperationOutcome.Ok)
                {
                    remainingOk++;
                }

                entry = frame.Call.Next;
                infoPass = frame.InfoPass;
            }
        }

        _bestOrder = _stack.Select(f => f.Call.Op).ToArray();
        _bestState = state;
        return Finish(LinearizabilityVerdict.Linearizable);
    }

    private Entry BuildList()
    {
        var events = new List<Entry>(_ops.Count * 2);
        for (var i = 0; i < _ops.Count; i++)
        {
            var op = _ops[i];
            var call = new Entry(i, isCall: true, op.Call);
            var ret = new Entry(i, isCall: false, op.Outcome == OperationOutcome.Info ? Operation<TInput, TOutput>.Infinity : op.Return);
            call.Match = ret;
            ret.Match = call;
            events.Add(call);
            events.Add(ret);
        }

        // Time order; at equal times calls first (overlap is the permissive reading), then by
        // operation for a deterministic search order.
        events.Sort(static (a, b) =>
        {
            var byTime = a.Time.CompareTo(b.Time);
            if (byTime != 0)
            {
                return byTime;
            }

            var byKind = b.IsCall.CompareTo(a.IsCall);
            return byKind != 0 ? byKind : a.Op.CompareTo(b.Op);
        });

        var head = new Entry(-1, isCall: false, long.MinValue);
        var previous = head;
        foreach (var e in events)
        {
            previous.Next = e;
            e.Prev = previous;
            previous = e;
        }

        return head;
    }

    private static void Lift(Entry call)
    {
        call.Prev!.Next = call.Next;
        call.Next!.Prev = call.Prev;
        var ret = call.Match!;
        ret.Prev!.Next = ret.Next;
        if (ret.Next is not null)
        {
            ret.Next.Prev = ret.Prev;
        }
    }

    private static void Unlift(Entry call)
    {
        var ret = call.Match!;
        ret.Prev!.Next = ret;
        if (ret.Next is not null)
        {
            ret.Next.Prev = ret;
        }

        call.Prev!.Next = call;
        call.Next!.Prev = call;
    }

    /// <summary>
    /// Records the configuration (linearized operations, state) and returns true, unless an
    /// equivalent or better one was seen: same state, same operations with known outcomes
    /// linearized, and a subset of the indeterminate ones. Indeterminate operations are optional
    /// and never constrain the order (they return at +infinity), so a configuration with more of
    /// them still pending can do everything one with fewer can (Lowe's memoization, extended by
    /// subsumption). The hash covers only the operations with known outcomes for that reason.
    /// </summary>
    private bool TryRemember(ulong linearizedHash, TState state)
    {
        var key = linearizedHash ^ ((ulong)(uint)_states.GetHashCode(state!) * 0x9E3779B97F4A7C15UL);
        if (!_cache.TryGetValue(key, out var bucket))
        {
            bucket = [];
            _cache.Add(key, bucket);
        }

        foreach (var item in bucket)
        {
            if (Subsumes(item.Linearized) && _states.Equals(item.State, state))
            {
                return false;
            }
        }

        bucket.Add(new CacheItem((ulong[])_linearized.Clone(), state));
        return true;
    }

    /// <summary>
    /// True when <paramref name="seen"/> linearized the same known-outcome operations as the
    /// current configuration and only indeterminate operations the current one also linearized.
    /// </summary>
    private bool Subsumes(ulong[] seen)
    {
        for (var w = 0; w < seen.Length; w++)
        {
            var info = _indeterminate[w];
            if (((seen[w] ^ _linearized[w]) & ~info) != 0 || (seen[w] & ~_linearized[w] & info) != 0)
            {
                return false;
            }
        }

        return true;
    }

    private void SetBit(int op, bool value)
    {
        if (value)
        {
            _linearized[op >> 6] |= 1UL << (op & 63);
        }
        else
        {
            _linearized[op >> 6] &= ~(1UL << (op & 63));
        }
    }

    /// <summary>
    /// A fixed pseudo-random 64-bit value per known-outcome operation (SplitMix64), XORed into the
    /// linearized set's hash; 0 for indeterminate operations (see <see cref="TryRemember"/>).
    /// </summary>
    private static ulong Zobrist(int op, OperationOutcome outcome)
    {
        if (outcome == OperationOutcome.Info)
        {
            return 0;
        }

        var z = ((ulong)op + 1) * 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    private sealed class Entry(int op, bool isCall, long time)
    {
        public int Op { get; } = op;

        public bool IsCall { get; } = isCall;

        public long Time { get; } = time;

        public Entry? Match { get; set; }

        public Entry? Prev { get; set; }

        public Entry? Next { get; set; }
    }

    private readonly record struct Frame(Entry Call, TState StateBefore, bool InfoPass);

    private readonly record struct CacheItem(ulong[] Linearized, TState State);
}
