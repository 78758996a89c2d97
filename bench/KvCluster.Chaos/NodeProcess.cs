using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;

namespace KvCluster.Chaos;

/// <summary>
/// One real node process (<c>dotnet KvCluster.Node.dll</c>) with its own data directory, log file and pid file.
/// Crash (SIGKILL), pause (SIGSTOP), resume (SIGCONT) and restart on the same data directory.
/// </summary>
internal sealed partial class NodeProcess
{
    private const int SigKill = 9;
    private const int SigCont = 18;
    private const int SigStop = 19;

    private readonly string _nodeDll;
    private readonly string _arguments;
    private readonly string _log;
    private readonly string _pidFile;
    private Process? _process;

    public NodeProcess(int id, int port, int pbmPort, int clientPort, string workDir, string nodeDll, string peers, string extraArgs)
    {
        ClientPort = clientPort;
        Id = id;
        Port = port;
        PbmPort = pbmPort;
        ClientPort = clientPort;
        DataDir = Path.Combine(workDir, $"n{id}");
        _nodeDll = nodeDll;
        _log = Path.Combine(workDir, $"n{id}.log");
        _pidFile = Path.Combine(workDir, $"n{id}.pid");
        _arguments = string.Create(CultureInfo.InvariantCulture,
            $"\"{nodeDll}\" --node-id {id} --port {port} --pbm-port {pbmPort} --client-port {clientPort} --data-dir \"{DataDir}\" --peers {peers} --sync full --fault-injection true {extraArgs}");
    }

    public int Id { get; }

    public int Port { get; }

    public int PbmPort { get; }

    /// <summary>The etcd API port (lock holders, watchers).</summary>
    public int ClientPort { get; }

    public string DataDir { get; }

    public string Endpoint => string.Create(CultureInfo.InvariantCulture, $"127.0.0.1:{Port}");

    /// <summary>True while the process is paused by SIGSTOP.</summary>
    public bool Paused { get; private set; }

    /// <summary>True while the process runs (paused or not).</summary>
    public bool Running => _process is { HasExited: false };

    /// <summary>Starts the process (on the same data directory after a crash).</summary>
    public void Start()
    {
        Directory.CreateDirectory(DataDir);
        var info = new ProcessStartInfo("dotnet", _arguments)
        {
            UseShellExecute = false,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
        };
        info.Environment["DOTNET_gcServer"] = "0";
        var process = new Process { StartInfo = info };
        var log = new StreamWriter(new FileStream(_log, FileMode.Append, FileAccess.Write, FileShare.ReadWrite)) { AutoFlush = true };
        var gate = new Lock();
        void Write(string? line)
        {
            if (line is not null)
            {
                lock (gate)
                {
                    log.WriteLine(line);
                }
            }
        }

        process.OutputDataReceived += (_, e) => Write(e.Data);
        process.ErrorDataReceived += (_, e) => Write(e.Data);
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        _process = process;
        Paused = false;
        File.WriteAllText(_pidFile, process.Id.ToString(CultureInfo.InvariantCulture));
    }

    /// <summary>SIGKILL: a crash, nothing is flushed beyond what fsync already made durable.</summary>
    public void Kill()
    {
        if (_process is { HasExited: false } process)
        {
            Signal(process.Id, SigKill);
            process.WaitForExit(10_000);
        }

        Paused = false;
        File.Delete(_pidFile);
    }

    /// <summary>SIGSTOP: the process freezes with its sockets open.</summary>
    public void Pause()
    {
        if (_process is { HasExited: false } process)
        {
            Signal(process.Id, SigStop);
            Paused = true;
        }
    }

    /// <summary>SIGCONT.</summary>
    public void Resume()
    {
        if (_process is { HasExited: false } process)
        {
            Signal(process.Id, SigCont);
        }

        Paused = false;
    }

    /// <summary>The last lines of the node's log, for a failed start-up.</summary>
    public string Tail(int lines) =>
        File.Exists(_log) ? string.Join(Environment.NewLine, File.ReadLines(_log).TakeLast(lines)) : "(no log)";

    private static void Signal(int pid, int signal)
    {
        if (SysKill(pid, signal) != 0)
        {
            Console.Error.WriteLine($"chaos: kill({pid}, {signal}) failed: errno {Marshal.GetLastPInvokeError()}");
        }
    }

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int SysKill(int pid, int signal);
}
