using Lighthouse;

// `lighthouse`: the AkkaKv seed node. All behaviour lives in LighthouseProgram so tests can host it in-process.
return await LighthouseProgram.RunAsync(args, Environment.GetEnvironmentVariable, Console.Error);
