namespace KvCluster.Actors.Persistence;

/// <summary>
/// A journal or snapshot store could not do its work: the storage failed (I/O error, disk full,
/// lock timeout) or cannot be used. The message names the file when there is one. After a failed
/// write nothing is known about what was stored; the writer should stop.
/// </summary>
public class PersistenceStoreException : Exception
{
    /// <summary>Creates the exception.</summary>
    /// <param name="filePath">The database file concerned, or <c>null</c> for in-memory stores.</param>
    /// <param name="message">What failed, naming the file.</param>
    /// <param name="innerException">The underlying error, if any.</param>
    public PersistenceStoreException(string? filePath, string message, Exception? innerException = null)
        : base(message, innerException)
    {
        FilePath = filePath;
    }

    /// <summary>The database file concerned, or <c>null</c> for in-memory stores.</summary>
    public string? FilePath { get; }
}

/// <summary>
/// A database file is corrupted, truncated or not a database of the expected kind. The file is
/// left exactly as found (never recreated empty), so an operator can inspect or restore it.
/// </summary>
public sealed class PersistenceStoreCorruptedException : PersistenceStoreException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="filePath">The database file.</param>
    /// <param name="message">What is wrong with it, naming the file.</param>
    /// <param name="innerException">The underlying SQLite error, if any.</param>
    public PersistenceStoreCorruptedException(string filePath, string message, Exception? innerException = null)
        : base(filePath, message, innerException)
    {
    }
}

/// <summary>
/// A database file was written by a newer version of AkkaKv (its schema version is higher than
/// this build understands); it is refused untouched rather than misread.
/// </summary>
public sealed class PersistenceSchemaVersionException : PersistenceStoreException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="filePath">The database file.</param>
    /// <param name="fileVersion">The schema version recorded in the file.</param>
    /// <param name="supportedVersion">The highest schema version this build understands.</param>
    public PersistenceSchemaVersionException(string filePath, int fileVersion, int supportedVersion)
        : base(
            filePath,
            $"Database '{filePath}' has schema version {fileVersion}, but this build of AkkaKv supports schema version {supportedVersion} at most; " +
            "it was written by a newer AkkaKv. Upgrade AkkaKv or restore a matching backup; the file was not modified.")
    {
        FileVersion = fileVersion;
        SupportedVersion = supportedVersion;
    }

    /// <summary>The schema version recorded in the file.</summary>
    public int FileVersion { get; }

    /// <summary>The highest schema version this build understands.</summary>
    public int SupportedVersion { get; }
}
