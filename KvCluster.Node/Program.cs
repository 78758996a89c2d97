// The AkkaKv node host. With no arguments: a one-node store on 127.0.0.1:4054, data under ./data.
// `--help` lists every setting; the exit codes are in NodeSettingsTable.
KvCluster.Node.Hosting.RemotingBuffers.Configure();
return await KvCluster.Node.Hosting.NodeProgram.RunAsync(args);
