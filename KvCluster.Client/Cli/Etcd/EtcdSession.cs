using System.CommandLine;
using System.Net.Sockets;
using Grpc.Core;
using KvCluster.Client.Bench;
using KvCluster.Client.Bench.Etcd;

namespace KvCluster.Client.Cli.Etcd;

/// <summary>
/// One etcd-API command's connections and deadline: the endpoints from <c>--endpoints</c> (else
/// <c>KV_ENDPOINTS</c>, else 127.0.0.1:2379), one <see cref="EtcdChannel"/> per endpoint opened on first use, calls
/// that move on to the next endpoint when one cannot be reached, and gRPC failures turned into exit codes.
/// </summary>
internal sealed class EtcdSession : IDisposable
{
    private readonly EtcdChannel?[] _channels;
    private readonly TimeSpan _dialTimeout;
    private readonly List<EtcdChannel> _extra = [];
    private int _current;

    /// <summary>The TLS flags, or null.</summary>
    private readonly EtcdClientTls? _tls;

    private EtcdSession(IReadOnlyList<BenchEndpoint> endpoints, TimeSpan dialTimeout, DateTime deadline, KvConsole console, string format, EtcdClientTls? tls)
    {
        _tls = tls;
        Endpoints = endpoints;
        _channels = new EtcdChannel?[endpoints.Count];
        _dialTimeout = dialTimeout;
        Deadline = deadline;
        Console = console;
        Format = format;
    }

    /// <summary>The endpoints, in the order given.</summary>
    public IReadOnlyList<BenchEndpoint> Endpoints { get; }

    /// <summary>When every request of this command must have finished.</summary>
    public DateTime Deadline { get; }

    /// <summary>Where results and errors go.</summary>
    public KvConsole Console { get; }

    /// <summary>The output format: simple, json, fields or table.</summary>
    public string Format { get; }

    /// <summary>The channel to endpoint <paramref name="index"/>, opened on first use.</summary>
    public EtcdChannel Channel(int index) => _channels[index] ??= new EtcdChannel(Endpoints[index], _dialTimeout, _tls);

    /// <summary>A channel to an endpoint outside <see cref="Endpoints"/> (a member's client URL); closed with the session.</summary>
    public EtcdChannel ChannelTo(BenchEndpoint endpoint)
    {
        var index = Endpoints.ToList().IndexOf(endpoint);
        if (index >= 0)
        {
            return Channel(index);
        }

        var channel = new EtcdChannel(endpoint, _dialTimeout, _tls);
        _extra.Add(channel);
        return channel;
    }

    /// <summary>The auth token from <c>--user</c>, or null.</summary>
    private string? _authToken;

    /// <summary>
    /// The headers of every call: the auth token (etcd's metadata <c>token</c>) once <c>--user</c> authenticated, and
    /// <paramref name="extra"/>; null when there are none.
    /// </summary>
    public Metadata? Headers(Metadata? extra = null)
    {
        if (_authToken is null)
        {
            return extra;
        }

        var headers = extra ?? [];
        headers.Add("token", _authToken);
        return headers;
    }

    /// <summary>The call options of a request: the command's deadline, the auth token and the caller's cancellation.</summary>
    public CallOptions Options(CancellationToken token) => new(Headers(), deadline: Deadline, cancellationToken: token);

    /// <summary>Authenticates as <paramref name="user"/> (on the first endpoint that answers); later calls carry the token.</summary>
    private async Task AuthenticateAsync(string user, string password, CancellationToken token)
    {
        var response = await CallAsync((c, o) => c.Auth.AuthenticateAsync(new KvCluster.Client.Etcd.AuthenticateRequest { Name = user, Password = password }, o), token).ConfigureAwait(false);
        _authToken = response.Token;
    }

    /// <summary>
    /// Makes a call on the first endpoint that can be reached (starting with the last one that could); a call that
    /// could not connect moves on to the next endpoint, since nothing of it was sent.
    /// </summary>
    public async Task<T> CallAsync<T>(Func<EtcdChannel, CallOptions, AsyncUnaryCall<T>> call, CancellationToken token)
    {
        for (var attempt = 0; ; attempt++)
        {
            var index = (_current + attempt) % _channels.Length;
            try
            {
                var result = await call(Channel(index), Options(token)).ResponseAsync.ConfigureAwait(false);
                _current = index;
                return result;
            }
            catch (RpcException e) when (attempt + 1 < _channels.Length && IsConnectFailure(e) && DateTime.UtcNow < Deadline)
            {
                // Try the next endpoint.
            }
        }
    }

    /// <summary>True when the call failed before anything reached the member (refused, unreachable, name unknown).</summary>
    public static bool IsConnectFailure(RpcException e) =>
        e.StatusCode == StatusCode.Unavailable
        && e.Status.DebugException is { } inner
        && (inner is HttpRequestException { HttpRequestError: HttpRequestError.ConnectionError or HttpRequestError.NameResolutionError }
            || inner.GetBaseException() is SocketException { SocketErrorCode: SocketError.ConnectionRefused or SocketError.HostUnreachable or SocketError.NetworkUnreachable or SocketError.HostNotFound or SocketError.TimedOut });

    /// <inheritdoc />
    public void Dispose()
    {
        foreach (var channel in _channels)
        {
            channel?.Dispose();
        }

        _extra.ForEach(c => c.Dispose());
    }

    /// <summary>
    /// Runs <paramref name="work"/> with a new session for the parsed command and maps failures onto the exit codes:
    /// DEADLINE_EXCEEDED 4; UNAVAILABLE, RESOURCE_EXHAUSTED, ABORTED, CANCELLED 3; every other refusal (invalid
    /// argument, compacted or future revision, not found, ...) 5; an interrupt 130. One line on standard error:
    /// <c>kv: {kind}: {etcd's message}</c>.
    /// </summary>
    public static async Task<int> RunAsync(ParseResult parse, GlobalOptions globals, EtcdOptions options, KvConsole console, Func<EtcdSession, Task<int>> work, CancellationToken token)
    {
        IReadOnlyList<BenchEndpoint>? endpoints;
        var text = parse.GetValue(globals.Endpoints) ?? console.GetEnvironmentVariable(KvCli.EndpointsVariable);
        endpoints = BenchEndpoint.TryParseList(string.IsNullOrWhiteSpace(text) ? EtcdOptions.DefaultEndpoint : text, out var error);
        if (endpoints is null)
        {
            return KvCli.UsageError(parse, $"--endpoints: {error}", console);
        }

        EtcdClientTls? tls;
        try
        {
            tls = EtcdClientTls.Load(parse.GetValue(options.CaCert), parse.GetValue(options.Cert), parse.GetValue(options.Key), parse.GetValue(options.InsecureSkipTlsVerify));
        }
        catch (ArgumentException e)
        {
            return KvCli.UsageError(parse, e.Message, console);
        }

        var timeout = CommandTimeoutOf(parse, options);
        var format = FormatOf(parse, globals, options);
        var user = parse.GetValue(options.User);
        string? password = null;
        if (user is not null)
        {
            var colon = user.IndexOf(':', StringComparison.Ordinal);
            (user, password) = colon >= 0 ? (user[..colon], user[(colon + 1)..]) : (user, parse.GetValue(options.Password));
            if (user.Length == 0 || password is null)
            {
                return KvCli.UsageError(parse, "--user: give name:password, or the name with --password", console);
            }
        }

        using var session = new EtcdSession(endpoints, Positive(parse.GetValue(options.DialTimeout), TimeSpan.FromSeconds(2)), DateTime.UtcNow + timeout, console, format, tls);
        try
        {
            if (user is not null)
            {
                await session.AuthenticateAsync(user, password!, token).ConfigureAwait(false);
            }

            return await work(session).ConfigureAwait(false);
        }
        catch (RpcException e) when (token.IsCancellationRequested)
        {
            _ = e;
            return CliSession.Fail(console, "interrupted", "the command was interrupted; a write may or may not have been committed", ExitCodes.Interrupted);
        }
        catch (RpcException e)
        {
            return Fail(console, e);
        }
        catch (OperationCanceledException) when (token.IsCancellationRequested)
        {
            return CliSession.Fail(console, "interrupted", "the command was interrupted; a write may or may not have been committed", ExitCodes.Interrupted);
        }
    }

    /// <summary>Prints a failed call on one line of standard error and returns its exit code.</summary>
    public static int Fail(KvConsole console, RpcException e)
    {
        // A TLS handshake that failed (an untrusted or refused certificate) reached no member: unavailable, as a refused
        // connection is, with the handshake's reason in the message.
        var handshake = e.Status.DebugException is HttpRequestException { HttpRequestError: HttpRequestError.SecureConnectionError };
        var kind = handshake ? BenchErrorKind.Unavailable : EtcdErrors.ToErrorKind(e.StatusCode);
        var detail = e.Status.Detail;
        if ((handshake || IsConnectFailure(e)) && e.Status.DebugException is { } inner)
        {
            detail = $"{detail} ({inner.GetBaseException().Message})";
        }

        var word = kind switch
        {
            BenchErrorKind.Timeout => "timeout",
            BenchErrorKind.Unavailable => "unavailable",
            _ => "rejected",
        };
        return CliSession.Fail(console, word, $"{detail} ({EtcdErrors.Name(e.StatusCode)})", ExitCodes.For(kind));
    }

    /// <summary>The command's deadline: <c>--command-timeout</c>, or <c>--timeout</c> when that was given.</summary>
    private static TimeSpan CommandTimeoutOf(ParseResult parse, EtcdOptions options)
    {
        var timeoutOption = parse.RootCommandResult.Command.Options.FirstOrDefault(o => o.Name == "--timeout") as Option<TimeSpan>;
        if (timeoutOption is not null && parse.GetResult(timeoutOption) is { Implicit: false })
        {
            return Positive(parse.GetValue(timeoutOption), TimeSpan.FromSeconds(5));
        }

        return Positive(parse.GetValue(options.CommandTimeout), TimeSpan.FromSeconds(5));
    }

    private static string FormatOf(ParseResult parse, GlobalOptions globals, EtcdOptions options)
    {
        if (parse.GetValue(options.WriteOut) is { } format)
        {
            return format;
        }

        // The older --output json still means JSON.
        return parse.GetResult(globals.Output) is { Implicit: false } && parse.GetValue(globals.Output) == "json" ? "json" : "simple";
    }

    private static TimeSpan Positive(TimeSpan value, TimeSpan fallback) => value > TimeSpan.Zero ? value : fallback;
}
