using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace KvCluster.Node.Hosting;

/// <summary>TLS on the client port, with etcd's flags: <c>--cert-file</c>, <c>--key-file</c>, <c>--trusted-ca-file</c>,
/// <c>--client-cert-auth</c>.</summary>
public sealed partial record NodeOptions
{
    /// <summary>PEM certificate (chain) the client port presents; with <see cref="KeyFile"/>, the port speaks TLS only
    /// (https: gRPC over HTTP/2 by ALPN, /health, /metrics and the JSON gateway over HTTP/1.1). Empty: cleartext.</summary>
    public string CertFile { get; init; } = string.Empty;

    /// <summary>PEM private key of <see cref="CertFile"/>.</summary>
    public string KeyFile { get; init; } = string.Empty;

    /// <summary>PEM certificate(s) of the authority that signs client certificates (<see cref="ClientCertAuth"/>).</summary>
    public string TrustedCaFile { get; init; } = string.Empty;

    /// <summary>True: a client must present a certificate signed by <see cref="TrustedCaFile"/>, as etcd's
    /// <c>--client-cert-auth</c>.</summary>
    public bool ClientCertAuth { get; init; }

    /// <summary>Whether the client port speaks TLS.</summary>
    public bool ClientTlsEnabled => CertFile.Length > 0 || KeyFile.Length > 0;

    /// <summary>The scheme of this node's client URLs: https with TLS, else http.</summary>
    public string ClientScheme => ClientTlsEnabled ? "https" : "http";

    /// <summary>
    /// Loads the client port's TLS material, or null when it is cleartext.
    /// </summary>
    /// <exception cref="NodeConfigurationException">A file is missing, unreadable or not PEM, the key does not match the
    /// certificate, or the settings do not go together; the message names the setting and the file.</exception>
    public ClientTls? LoadClientTls()
    {
        Require(CertFile.Length > 0 || KeyFile.Length == 0, nameof(CertFile), "must be set with KeyFile (--cert-file with --key-file)");
        Require(KeyFile.Length > 0 || CertFile.Length == 0, nameof(KeyFile), "must be set with CertFile (--key-file with --cert-file)");
        Require(!ClientCertAuth || TrustedCaFile.Length > 0, nameof(TrustedCaFile), "must name the CA that signs client certificates when ClientCertAuth is true");
        Require(TrustedCaFile.Length == 0 || ClientTlsEnabled, nameof(TrustedCaFile), "needs CertFile and KeyFile: client certificates are checked over TLS");
        if (!ClientTlsEnabled)
        {
            return null;
        }

        Require(File.Exists(CertFile), nameof(CertFile), $"'{CertFile}' does not exist");
        Require(File.Exists(KeyFile), nameof(KeyFile), $"'{KeyFile}' does not exist");
        X509Certificate2 certificate;
        try
        {
            using var pem = X509Certificate2.CreateFromPemFile(CertFile, KeyFile);

            // Kestrel (SslStream) wants the key in a form the platform's TLS can use: export and import it once.
            certificate = X509CertificateLoader.LoadPkcs12(pem.Export(X509ContentType.Pkcs12), null);
        }
        catch (Exception e) when (e is CryptographicException or ArgumentException or IOException or UnauthorizedAccessException)
        {
            throw new NodeConfigurationException(nameof(CertFile), $"'{CertFile}' with the key '{KeyFile}' could not be loaded as a PEM certificate and its private key: {e.Message.TrimEnd('.')}");
        }

        var chain = new X509Certificate2Collection();
        try
        {
            chain.ImportFromPemFile(CertFile);
        }
        catch (CryptographicException)
        {
        }

        X509Certificate2Collection? trusted = null;
        if (TrustedCaFile.Length > 0)
        {
            Require(File.Exists(TrustedCaFile), nameof(TrustedCaFile), $"'{TrustedCaFile}' does not exist");
            trusted = new X509Certificate2Collection();
            try
            {
                trusted.ImportFromPemFile(TrustedCaFile);
            }
            catch (Exception e) when (e is CryptographicException or IOException or UnauthorizedAccessException)
            {
                throw new NodeConfigurationException(nameof(TrustedCaFile), $"'{TrustedCaFile}' could not be read as PEM certificates: {e.Message.TrimEnd('.')}");
            }

            Require(trusted.Count > 0, nameof(TrustedCaFile), $"'{TrustedCaFile}' holds no PEM certificate");
        }

        return new ClientTls(certificate, chain, trusted, ClientCertAuth);
    }
}

/// <summary>The client port's TLS material, loaded and checked (<see cref="NodeOptions.LoadClientTls"/>).</summary>
/// <param name="Certificate">The server certificate with its private key.</param>
/// <param name="Chain">Every certificate of the cert file (the server's and any intermediates).</param>
/// <param name="TrustedCa">The authorities client certificates must chain to, or null.</param>
/// <param name="RequireClientCertificate">Whether a client must present a certificate.</param>
public sealed record ClientTls(X509Certificate2 Certificate, X509Certificate2Collection Chain, X509Certificate2Collection? TrustedCa, bool RequireClientCertificate)
{
    /// <summary>Whether <paramref name="certificate"/> chains to <see cref="TrustedCa"/> (and only to it) and is valid now.</summary>
    public bool IsTrustedClient(X509Certificate2 certificate)
    {
        if (TrustedCa is null)
        {
            return false;
        }

        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.AddRange(TrustedCa);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        chain.ChainPolicy.ApplicationPolicy.Add(new Oid("1.3.6.1.5.5.7.3.2")); // client authentication
        return chain.Build(certificate);
    }
}
