using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json;
using KvCluster.Node.Hosting;
using KvCluster.Tests.Node;

namespace KvCluster.Tests.Etcd;

/// <summary>
/// TLS on the client port with etcd's flags (<c>--cert-file</c>, <c>--key-file</c>, <c>--trusted-ca-file</c>,
/// <c>--client-cert-auth</c>): a real one-node AkkaKv with certificates made by the test (a CA, a server certificate
/// for 127.0.0.1, client certificates from that CA and from another), asked by Debian's etcdctl 3.4 over https, and
/// the settings' checks.
/// </summary>
[Trait("Category", "Integration")]
public sealed class ClientTlsTests : IDisposable
{
    private readonly TestPki _pki = new();

    public void Dispose() => _pki.Dispose();

    [Fact]
    public async Task Https_ServesEtcdctlWithTheCa_AndRefusesItWithout()
    {
        await using var cluster = await StartAsync(clientCertAuth: false);
        var url = $"https://127.0.0.1:{cluster.Options[0].ClientPort}";

        Assert.Equal("OK", (await EtcdctlOkAsync(url, "--cacert", _pki.CaFile, "put", "tls-key", "secret")).Trim());
        Assert.Equal("tls-key\nsecret\n", await EtcdctlOkAsync(url, "--cacert", _pki.CaFile, "get", "tls-key"));

        // A per-endpoint call (its :authority is the URL) and member list's client URL, which now says https.
        using var status = JsonDocument.Parse(await EtcdctlOkAsync(url, "--cacert", _pki.CaFile, "endpoint", "status", "-w", "json"));
        Assert.Equal(url, status.RootElement[0].GetProperty("Endpoint").GetString());
        using var members = JsonDocument.Parse(await EtcdctlOkAsync(url, "--cacert", _pki.CaFile, "member", "list", "-w", "json"));
        Assert.Equal(url, members.RootElement.GetProperty("members")[0].GetProperty("clientURLs")[0].GetString());

        var untrusted = await EtcdctlAsync(url, "get", "tls-key");
        Assert.NotEqual(0, untrusted.ExitCode);

        // kv with etcdctl's flags: the same key, and each member's status through its https client URL.
        var kvGet = await EtcdCliIntegrationTestsRun(url, "get", "tls-key", "--cacert", _pki.CaFile);
        Assert.True(kvGet.Code == KvCluster.Client.Cli.ExitCodes.Success, kvGet.Error);
        Assert.Equal("tls-key\nsecret\n", kvGet.Out);
        var kvStatus = await EtcdCliIntegrationTestsRun(url, "endpoint", "status", "--cluster", "--cacert", _pki.CaFile);
        Assert.True(kvStatus.Code == KvCluster.Client.Cli.ExitCodes.Success, kvStatus.Error);
        Assert.Contains("127.0.0.1:", kvStatus.Out);
        var kvUntrusted = await EtcdCliIntegrationTestsRun(url, "get", "tls-key", "--dial-timeout", "2s", "--command-timeout", "5s");
        Assert.Equal(KvCluster.Client.Cli.ExitCodes.Unavailable, kvUntrusted.Code);
        Assert.Contains("certificate", kvUntrusted.Error);

        // HTTP/1.1 over TLS: /health and the JSON gateway (whose loopback call to the node's gRPC services is TLS too).
        using var http = _pki.HttpClient(url, clientCertificate: null);
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync("/health")).StatusCode);
        var range = await http.PostAsync("/v3/kv/range", new StringContent($$"""{"key":"{{B64("tls-key")}}"}"""));
        Assert.Contains(B64("secret"), await range.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task ClientCertAuth_ServesOnlyCertificatesOfTheTrustedCa()
    {
        await using var cluster = await StartAsync(clientCertAuth: true);
        var url = $"https://127.0.0.1:{cluster.Options[0].ClientPort}";

        Assert.Equal("OK", (await EtcdctlOkAsync(url, "--cacert", _pki.CaFile, "--cert", _pki.ClientFile, "--key", _pki.ClientKeyFile, "put", "mtls", "yes")).Trim());

        var without = await EtcdctlAsync(url, "--cacert", _pki.CaFile, "get", "mtls");
        Assert.NotEqual(0, without.ExitCode);
        var otherCa = await EtcdctlAsync(url, "--cacert", _pki.CaFile, "--cert", _pki.StrangerFile, "--key", _pki.StrangerKeyFile, "get", "mtls");
        Assert.NotEqual(0, otherCa.ExitCode);

        var kvPut = await EtcdCliIntegrationTestsRun(url, "put", "mtls", "kv", "--cacert", _pki.CaFile, "--cert", _pki.ClientFile, "--key", _pki.ClientKeyFile);
        Assert.True(kvPut.Code == KvCluster.Client.Cli.ExitCodes.Success, kvPut.Error);
        var kvHalf = await EtcdCliIntegrationTestsRun(url, "get", "mtls", "--cacert", _pki.CaFile, "--cert", _pki.ClientFile);
        Assert.Equal(KvCluster.Client.Cli.ExitCodes.Usage, kvHalf.Code);
        Assert.Contains("--cert and --key go together", kvHalf.Error);
        var kvRefused = await EtcdCliIntegrationTestsRun(url, "get", "mtls", "--cacert", _pki.CaFile, "--dial-timeout", "2s", "--command-timeout", "5s");
        Assert.NotEqual(KvCluster.Client.Cli.ExitCodes.Success, kvRefused.Code);

        // The JSON gateway presents the node's own certificate on its loopback call, as etcd's gateway does.
        using var http = _pki.HttpClient(url, _pki.Client);
        var range = await http.PostAsync("/v3/kv/range", new StringContent($$"""{"key":"{{B64("mtls")}}"}"""));
        Assert.Contains(B64("kv"), await range.Content.ReadAsStringAsync());
    }

    [Fact]
    public void TheSettings_NameWhatIsWrong()
    {
        Assert.Null(new NodeOptions().LoadClientTls());
        Assert.Equal("Node:KeyFile", Assert.Throws<NodeConfigurationException>(() => new NodeOptions { CertFile = _pki.ServerFile }.LoadClientTls()).Setting);
        Assert.Equal("Node:CertFile", Assert.Throws<NodeConfigurationException>(() => new NodeOptions { KeyFile = _pki.ServerKeyFile }.LoadClientTls()).Setting);
        var missing = Assert.Throws<NodeConfigurationException>(() => new NodeOptions { CertFile = "/nonexistent/server.pem", KeyFile = _pki.ServerKeyFile }.LoadClientTls());
        Assert.Contains("/nonexistent/server.pem", missing.Message);
        Assert.Equal("Node:TrustedCaFile", Assert.Throws<NodeConfigurationException>(() => new NodeOptions { CertFile = _pki.ServerFile, KeyFile = _pki.ServerKeyFile, ClientCertAuth = true }.LoadClientTls()).Setting);

        // Another certificate's key, and a file that is not PEM.
        var mismatch = Assert.Throws<NodeConfigurationException>(() => new NodeOptions { CertFile = _pki.ServerFile, KeyFile = _pki.ClientKeyFile }.LoadClientTls());
        Assert.Equal("Node:CertFile", mismatch.Setting);
        var garbage = _pki.Write("garbage.pem", "not a certificate");
        Assert.Equal("Node:TrustedCaFile", Assert.Throws<NodeConfigurationException>(() => new NodeOptions { CertFile = _pki.ServerFile, KeyFile = _pki.ServerKeyFile, TrustedCaFile = garbage }.LoadClientTls()).Setting);

        var tls = new NodeOptions { CertFile = _pki.ServerFile, KeyFile = _pki.ServerKeyFile, TrustedCaFile = _pki.CaFile, ClientCertAuth = true }.LoadClientTls()!;
        Assert.True(tls.IsTrustedClient(_pki.Client));
        Assert.False(tls.IsTrustedClient(_pki.Stranger));

        // etcd's boolean flag alone.
        var flags = NodeSettingsTable.ParseFlags(["--client-cert-auth", "--cert-file", "c.pem"], out _);
        Assert.Equal("true", flags["Node:ClientCertAuth"]);
        Assert.Equal("c.pem", flags["Node:CertFile"]);
    }

    [Fact]
    public async Task ClientCertAuth_WithAuthEnabled_TakesTheCertificatesCommonNameAsTheUser_UnlessATokenNamesOne()
    {
        await using var cluster = await StartAsync(clientCertAuth: true);
        var url = $"https://127.0.0.1:{cluster.Options[0].ClientPort}";
        string[] client = ["--cacert", _pki.CaFile, "--cert", _pki.ClientFile, "--key", _pki.ClientKeyFile];
        foreach (var step in new[]
        {
            new[] { "user", "add", "root:rootpw" }, ["role", "add", "root"], ["user", "grant-role", "root", "root"],
            ["user", "add", "client:unused"], ["role", "add", "tls"], ["role", "grant-permission", "tls", "readwrite", "/tls/", "--prefix=true"],
            ["user", "grant-role", "client", "tls"], ["auth", "enable"],
        })
        {
            await EtcdctlOkAsync(url, [.. client, .. step]);
        }

        var inside = await EtcdctlAsync(url, [.. client, "put", "/tls/a", "1"]);
        var outside = await EtcdctlAsync(url, [.. client, "put", "other", "1"]);
        var asRoot = await EtcdctlAsync(url, [.. client, "--user", "root:rootpw", "put", "other", "1"]);

        Assert.True(inside.ExitCode == 0, inside.Error);
        Assert.NotEqual(0, outside.ExitCode);
        Assert.Contains("etcdserver: permission denied", outside.Error, StringComparison.Ordinal);
        Assert.True(asRoot.ExitCode == 0, asRoot.Error);
    }

    private Task<KvTestCluster> StartAsync(bool clientCertAuth) =>
        EtcdTestNodes.StartAsync(1, o => o with
        {
            CertFile = _pki.ServerFile,
            KeyFile = _pki.ServerKeyFile,
            TrustedCaFile = clientCertAuth ? _pki.CaFile : string.Empty,
            ClientCertAuth = clientCertAuth,
        });

    private static async Task<string> EtcdctlOkAsync(string url, params string[] args)
    {
        var result = await EtcdctlAsync(url, args);
        Assert.True(result.ExitCode == 0, $"etcdctl {string.Join(' ', args)} exited {result.ExitCode}: {result.Error}");
        return result.Output;
    }

    private static Task<EtcdctlResult> EtcdctlAsync(string url, params string[] args) =>
        EtcdTestNodes.EtcdctlAsync(url, null, TimeSpan.FromSeconds(40), ["--dial-timeout=5s", .. args]);

    private static Task<KvCluster.Tests.Client.EtcdCliIntegrationTests.CliResult> EtcdCliIntegrationTestsRun(string url, params string[] args) =>
        KvCluster.Tests.Client.EtcdCliIntegrationTests.RunAt(url, null, args);

    private static string B64(string text) => Convert.ToBase64String(Encoding.UTF8.GetBytes(text));

    /// <summary>A CA, a server certificate for 127.0.0.1 from it, a client certificate from it and one from another CA,
    /// as PEM files in a temporary directory.</summary>
    private sealed class TestPki : IDisposable
    {
        private readonly string _dir = Directory.CreateTempSubdirectory("akkakv-tls-").FullName;

        public TestPki()
        {
            using var caKey = RSA.Create(2048);
            var caRequest = new CertificateRequest("CN=AkkaKv test CA", caKey, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
            caRequest.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
            caRequest.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
            using var ca = caRequest.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(30));
            CaFile = Write("ca.pem", ca.ExportCertificatePem());

            (ServerFile, ServerKeyFile, _) = Issue(ca, "server", "CN=127.0.0.1", server: true);
            (ClientFile, ClientKeyFile, Client) = Issue(ca, "client", "CN=client", server: false);

            using var otherKey = RSA.Create(2048);
            using var other = new CertificateRequest("CN=another CA", otherKey, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1) { CertificateExtensions = { new X509BasicConstraintsExtension(true, false, 0, true) } }
                .CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(30));
            (StrangerFile, StrangerKeyFile, Stranger) = Issue(other, "stranger", "CN=stranger", server: false);
        }

        public string CaFile { get; }

        public string ServerFile { get; }

        public string ServerKeyFile { get; }

        public string ClientFile { get; }

        public string ClientKeyFile { get; }

        public X509Certificate2 Client { get; }

        public string StrangerFile { get; }

        public string StrangerKeyFile { get; }

        public X509Certificate2 Stranger { get; }

        public string Write(string name, string text)
        {
            var path = Path.Combine(_dir, name);
            File.WriteAllText(path, text);
            return path;
        }

        /// <summary>An HTTP/1.1 client that trusts this CA (and presents <paramref name="clientCertificate"/>).</summary>
        public HttpClient HttpClient(string url, X509Certificate2? clientCertificate)
        {
            var ca = X509CertificateLoader.LoadCertificateFromFile(CaFile);
            var handler = new SocketsHttpHandler();
            handler.SslOptions.RemoteCertificateValidationCallback = (_, certificate, _, _) =>
            {
                using var chain = new X509Chain();
                chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
                chain.ChainPolicy.CustomTrustStore.Add(ca);
                chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
                return certificate is X509Certificate2 server && chain.Build(server);
            };
            if (clientCertificate is not null)
            {
                handler.SslOptions.ClientCertificates = [clientCertificate];
            }

            return new HttpClient(handler) { BaseAddress = new Uri(url), Timeout = TimeSpan.FromSeconds(30) };
        }

        public void Dispose()
        {
            Client.Dispose();
            Stranger.Dispose();
            Directory.Delete(_dir, recursive: true);
        }

        private (string Cert, string Key, X509Certificate2 WithKey) Issue(X509Certificate2 issuer, string name, string subject, bool server)
        {
            using var key = RSA.Create(2048);
            var request = new CertificateRequest(subject, key, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
            request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, true));
            request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature | X509KeyUsageFlags.KeyEncipherment, true));
            var usages = new OidCollection { new Oid("1.3.6.1.5.5.7.3.2") }; // client authentication
            if (server)
            {
                usages.Add(new Oid("1.3.6.1.5.5.7.3.1")); // server authentication (and client: etcd's gateway presents it)
                var names = new SubjectAlternativeNameBuilder();
                names.AddIpAddress(IPAddress.Loopback);
                names.AddDnsName("localhost");
                request.CertificateExtensions.Add(names.Build());
            }

            request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension(usages, false));
            var serial = RandomNumberGenerator.GetBytes(12);
            using var certificate = request.Create(issuer, DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(20), serial);
            var cert = Write(name + ".pem", certificate.ExportCertificatePem());
            var keyFile = Write(name + "-key.pem", key.ExportPkcs8PrivateKeyPem());
            using var withKey = certificate.CopyWithPrivateKey(key);
            return (cert, keyFile, X509CertificateLoader.LoadPkcs12(withKey.Export(X509ContentType.Pkcs12), null));
        }
    }
}
