namespace KvCluster.Node.Hosting;

/// <summary>
/// The byte-buffer allocator of Akka.Remote's DotNetty transport. DotNetty reads its allocator settings once, from
/// environment variables named like Netty's system properties (<c>io.netty.allocator.*</c>), when its buffer types
/// are first used; Akka.Remote 1.5 asks for unpooled buffers on the sockets it opens but leaves the sockets it accepts
/// on DotNetty's default, a pooled allocator that keeps 16 MiB chunks per arena alive for the life of the process
/// (2-3 of them, 32-48 MiB of a node's heap, measured with dotnet-dump gcroot; its <c>enable-pooling = off</c> does
/// not reach them). Set here, before Akka starts, unless the operator set them.
/// </summary>
internal static class RemotingBuffers
{
    /// <summary>The variable DotNetty reads for its default allocator: <c>pooled</c> or <c>unpooled</c>.</summary>
    public const string AllocatorTypeVariable = "io.netty.allocator.type";

    /// <summary>Makes the accepted sockets use unpooled buffers too, unless the environment already chose.</summary>
    public static void Configure() => Configure(Environment.GetEnvironmentVariable, Environment.SetEnvironmentVariable);

    /// <summary><see cref="Configure()"/> over a given environment.</summary>
    /// <param name="get">Reads a variable.</param>
    /// <param name="set">Sets a variable.</param>
    internal static void Configure(Func<string, string?> get, Action<string, string> set)
    {
        if (string.IsNullOrEmpty(get(AllocatorTypeVariable)))
        {
            set(AllocatorTypeVariable, "unpooled");
        }
    }
}
