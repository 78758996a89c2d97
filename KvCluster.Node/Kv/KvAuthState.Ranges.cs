using KvCluster.Client.Etcd.Authpb;

namespace KvCluster.Node.Kv;

/// <summary>The permission check's index of each user's key ranges.</summary>
public sealed partial class KvAuthState
{
    /// <summary>
    /// A user's READ and WRITE ranges, merged from its roles into disjoint half-open [start, end) intervals sorted by
    /// start (overlapping and adjacent ones joined; a null end means "every key from start on"), so a request is allowed
    /// when one interval holds it: found by binary search, without allocation. Also whether the user exists and is root.
    /// </summary>
    private sealed class UserRanges
    {
        private static readonly UserRanges s_unknown = new(false, false, [], []);

        private readonly (byte[] Start, byte[]? End)[] _read;
        private readonly (byte[] Start, byte[]? End)[] _write;

        private UserRanges(bool exists, bool isAdmin, (byte[], byte[]?)[] read, (byte[], byte[]?)[] write)
        {
            Exists = exists;
            IsAdmin = isAdmin;
            _read = read;
            _write = write;
        }

        /// <summary>False for a user the store does not have.</summary>
        public bool Exists { get; }

        /// <summary>True for a user with the root role.</summary>
        public bool IsAdmin { get; }

        public static UserRanges Of(KvAuthState state, string user)
        {
            if (!state.Users.TryGetValue(user, out var u))
            {
                return s_unknown;
            }

            var read = new List<(byte[], byte[]?)>();
            var write = new List<(byte[], byte[]?)>();
            foreach (var roleName in u.Roles)
            {
                if (!state.Roles.TryGetValue(roleName, out var role))
                {
                    continue;
                }

                foreach (var perm in role.KeyPermission)
                {
                    var interval = Interval(perm.Key.Span, perm.RangeEnd.Span);
                    if (perm.PermType is Permission.Types.Type.Read or Permission.Types.Type.Readwrite)
                    {
                        read.Add(interval);
                    }

                    if (perm.PermType is Permission.Types.Type.Write or Permission.Types.Type.Readwrite)
                    {
                        write.Add(interval);
                    }
                }
            }

            return new UserRanges(true, u.Roles.Contains(Root), Merged(read), Merged(write));
        }

        /// <summary>The union of <paramref name="intervals"/> as disjoint, non-adjacent intervals in order.</summary>
        private static (byte[], byte[]?)[] Merged(List<(byte[] Start, byte[]? End)> intervals)
        {
            var merged = new List<(byte[] Start, byte[]? End)>();
            foreach (var (start, end) in intervals.OrderBy(i => i.Start, Comparer<byte[]>.Create((a, b) => a.AsSpan().SequenceCompareTo(b))))
            {
                if (merged.Count > 0 && (merged[^1].End is null || start.AsSpan().SequenceCompareTo(merged[^1].End) <= 0))
                {
                    var last = merged[^1];
                    if (last.End is not null && (end is null || end.AsSpan().SequenceCompareTo(last.End) > 0))
                    {
                        merged[^1] = (last.Start, end);
                    }

                    continue;
                }

                merged.Add((start, end));
            }

            return [.. merged];
        }

        /// <summary>etcd's forms as an interval: one key is [key, key + "\0"), an end of "\0" is open.</summary>
        private static (byte[] Start, byte[]? End) Interval(ReadOnlySpan<byte> key, ReadOnlySpan<byte> rangeEnd) =>
            rangeEnd.IsEmpty ? (key.ToArray(), [.. key, 0]) : IsOpenEnded(rangeEnd) ? (key.ToArray(), null) : (key.ToArray(), rangeEnd.ToArray());

        /// <summary>True when one interval for <paramref name="access"/> holds the request's key or range.</summary>
        public bool Covers(ReadOnlySpan<byte> key, ReadOnlySpan<byte> rangeEnd, Permission.Types.Type access)
        {
            var intervals = access == Permission.Types.Type.Read ? _read : _write;

            // The last interval starting at or before the key: the only one that can hold it (they are disjoint).
            int lo = 0, hi = intervals.Length - 1, found = -1;
            while (lo <= hi)
            {
                var mid = (lo + hi) >>> 1;
                if (intervals[mid].Start.AsSpan().SequenceCompareTo(key) <= 0)
                {
                    found = mid;
                    lo = mid + 1;
                }
                else
                {
                    hi = mid - 1;
                }
            }

            if (found < 0)
            {
                return false;
            }

            var end = intervals[found].End;
            if (end is null)
            {
                return true;
            }

            return rangeEnd.IsEmpty
                ? key.SequenceCompareTo(end) < 0
                : !IsOpenEnded(rangeEnd) && rangeEnd.SequenceCompareTo(end) <= 0 && key.SequenceCompareTo(end) < 0;
        }
    }
}
