using System.CommandLine;

namespace KvCluster.Client.Cli.Etcd;

/// <summary>
/// <c>kv txn</c>: etcdctl's transaction form, read from standard input (or <c>--file</c>): compares, a blank line,
/// success requests, a blank line, failure requests. Prints SUCCESS or FAILURE and then each response; a failed
/// compare is not an error (exit 0), as with etcdctl.
/// </summary>
internal static class TxnCommand
{
    /// <summary>Builds the command.</summary>
    public static Command Create(GlobalOptions globals, EtcdOptions options, KvConsole console)
    {
        var interactive = new Option<bool>("--interactive", "-i") { Description = "Prompt for each section (compares, success, failure)." };
        var file = new Option<string?>("--file") { Description = "Read the transaction from this file instead of standard input.", HelpName = "path" };
        var command = new Command("txn", "Run a transaction: compares, blank line, success requests, blank line, failure requests (etcdctl's form).") { interactive, file };
        command.SetAction((parse, token) =>
        {
            KvCluster.Client.Etcd.TxnRequest request;
            try
            {
                using var reader = parse.GetValue(file) is { } path ? new StreamReader(path) : null;
                request = TxnParser.Parse(reader ?? console.In, parse.GetValue(interactive) ? (Action<string>)console.Out.WriteLine : null);
            }
            catch (Exception e) when (e is FormatException or IOException or UnauthorizedAccessException)
            {
                return Task.FromResult(KvCli.UsageError(parse, $"txn: {e.Message}", console));
            }

            return EtcdSession.RunAsync(parse, globals, options, console, async session =>
            {
                var response = await session.CallAsync((c, o) => c.Kv.TxnAsync(request, o), token).ConfigureAwait(false);
                new EtcdPrinter(console.Out, session.Format).Txn(response);
                return ExitCodes.Success;
            }, token);
        });
        return command;
    }
}
