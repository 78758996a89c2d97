using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace KvCluster.Client.Bench.Etcd;

/// <summary>
/// The TLS of <c>kv</c>'s etcd-API connections, from etcdctl's flags: <c>--cacert</c> (trust this CA instead of the
/// system's), <c>--cert</c> and <c>--key</c> (present a client certificate), <c>--insecure-skip-tls-verify</c>.
/// </summary>
internal sealed class EtcdClientTls
{
    private readonly X509Certificate2Collection? _trusted;
    private readonly X509Certificate2? _client;
    private readonly bool _skipVerify;

    private EtcdClientTls(X509Certificate2Collection? trusted, X509Certificate2? client, bool skipVerify)
    {
        _trusted = trusted;
        _client = client;
        _skipVerify = skipVerify;
    }

    /// <summary>
    /// Loads the files the flags name; null when no TLS flag is given. Throws <see cref="ArgumentException"/> with a
    /// message naming the flag and the file when one is missing or not PEM, or when <c>--cert</c> comes without <c>--key</c>.
    /// </summary>
    public static EtcdClientTls? Load(string? caFile, string? certFile, string? keyFile, bool skipVerify)
    {
        if (caFile is null && certFile is null && keyFile is null && !skipVerify)
        {
            return null;
        }

        if ((certFile is null) != (keyFile is null))
        {
            throw new ArgumentException("--cert and --key go together");
        }

        X509Certificate2Collection? trusted = null;
        if (caFile is not null)
        {
            trusted = new X509Certificate2Collection();
            try
            {
                trusted.ImportFromPemFile(caFile);
            }
            catch (Exception e) when (e is CryptographicException or IOException or UnauthorizedAccessException)
            {
                throw new ArgumentException($"--cacert '{caFile}': {e.Message}");
            }

            if (trusted.Count == 0)
            {
                throw new ArgumentException($"--cacert '{caFile}' holds no PEM certificate");
            }
        }

        X509Certificate2? client = null;
        if (certFile is not null)
        {
            try
            {
                using var pem = X509Certificate2.CreateFromPemFile(certFile, keyFile);
                client = X509CertificateLoader.LoadPkcs12(pem.Export(X509ContentType.Pkcs12), null);
            }
            catch (Exception e) when (e is CryptographicException or IOException or UnauthorizedAccessException or ArgumentException)
            {
                throw new ArgumentException($"--cert '{certFile}' with --key '{keyFile}': {e.Message}");
            }
        }

        return new EtcdClientTls(trusted, client, skipVerify);
    }

    /// <summary>Sets <paramref name="options"/> up: the client certificate and how the server's is checked.</summary>
    public void Apply(SslClientAuthenticationOptions options)
    {
        if (_client is not null)
        {
            options.ClientCertificates = [_client];
        }

        if (_skipVerify)
        {
            options.RemoteCertificateValidationCallback = (_, _, _, _) => true;
        }
        else if (_trusted is not null)
        {
            var trusted = _trusted;
            options.RemoteCertificateValidationCallback = (_, certificate, _, errors) =>
            {
                if (certificate is not X509Certificate2 server || (errors & SslPolicyErrors.RemoteCertificateNameMismatch) != 0)
                {
                    return false;
                }

                using var chain = new X509Chain();
                chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
                chain.ChainPolicy.CustomTrustStore.AddRange(trusted);
                chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
                return chain.Build(server);
            };
        }
    }
}
