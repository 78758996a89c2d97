using KvCluster.Client.Cli;

// `kv`: the AkkaKv console client. All behaviour lives in KvCli so tests can run it in-process.
return await KvCli.RunAsync(args, KvConsole.System());
