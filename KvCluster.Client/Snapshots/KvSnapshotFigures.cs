using System.Globalization;

namespace KvCluster.Client.Snapshots;

/// <summary>How <c>raft status</c>, <c>kv endpoint status</c> and <c>kv snapshot status</c> print snapshot figures.</summary>
public static class KvSnapshotFigures
{
    /// <summary>"index I (term T), SIZE, taken AGE ago", or "none yet" when <paramref name="index"/> is 0.</summary>
    public static string Describe(long index, long term, long bytes, DateTime? takenAtUtc, DateTime nowUtc) =>
        index <= 0
            ? "none yet"
            : string.Create(CultureInfo.InvariantCulture, $"index {index} (term {term}), {Size(bytes)}, taken {(takenAtUtc is { } at ? Age(nowUtc - at) + " ago" : "at an unknown time")}");

    /// <summary>A byte count in B, KiB, MiB or GiB with one decimal.</summary>
    public static string Size(long bytes) => bytes switch
    {
        < 1024 => string.Create(CultureInfo.InvariantCulture, $"{bytes} B"),
        < 1024 * 1024 => string.Create(CultureInfo.InvariantCulture, $"{bytes / 1024.0:0.0} KiB"),
        < 1024L * 1024 * 1024 => string.Create(CultureInfo.InvariantCulture, $"{bytes / (1024.0 * 1024):0.0} MiB"),
        _ => string.Create(CultureInfo.InvariantCulture, $"{bytes / (1024.0 * 1024 * 1024):0.0} GiB"),
    };

    /// <summary>A duration as "12 s", "3 min 4 s" or "2 h 5 min" (never negative).</summary>
    public static string Age(TimeSpan age)
    {
        if (age < TimeSpan.Zero)
        {
            age = TimeSpan.Zero;
        }

        return age.TotalSeconds < 60 ? string.Create(CultureInfo.InvariantCulture, $"{(int)age.TotalSeconds} s")
            : age.TotalMinutes < 60 ? string.Create(CultureInfo.InvariantCulture, $"{(int)age.TotalMinutes} min {age.Seconds} s")
            : string.Create(CultureInfo.InvariantCulture, $"{(int)age.TotalHours} h {age.Minutes} min");
    }
}
