/// <summary>
/// The .NET startup hook of the test assembly (the runtime requires this exact name, in no
/// namespace, with a static Initialize). It does nothing unless the process was started by
/// <see cref="KvCluster.Tests.Persistence.TestChildProcess"/>.
/// </summary>
internal static class StartupHook
{
    public static void Initialize() => KvCluster.Tests.Persistence.TestChildProcess.RunChildIfRequested();
}
