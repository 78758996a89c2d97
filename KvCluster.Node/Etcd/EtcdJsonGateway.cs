using System.Buffers;
using System.Collections.Concurrent;
using System.IO.Pipelines;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Google.Protobuf;
using Grpc.Core;
using Grpc.Net.Client;
using KvCluster.Client.Etcd;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;

namespace KvCluster.Node.Etcd;

/// <summary>
/// etcd's gRPC gateway on the client port: the v3 API as JSON over HTTP/1.1, as etcd 3.4 serves it for curl and for
/// languages without a gRPC client (<c>curl -X POST http://127.0.0.1:2379/v3/kv/put -d '{"key":"Zm9v","value":"YmFy"}'</c>).
/// As in etcd, the gateway is a client of the node's own gRPC services: each call goes over a loopback HTTP/2 channel to
/// the address the request came in on, so it passes the same limits, interceptors and metrics as any gRPC client's.
/// <list type="bullet">
/// <item>Requests and responses use protobuf's JSON mapping with etcd's field names (64-bit integers as strings, bytes
/// as base64, default values left out); unknown fields are ignored and an empty body is an empty request, as etcd's
/// gateway does.</item>
/// <item>Paths: <c>/v3/kv/{range,put,deleterange,txn,compaction}</c>, <c>/v3/watch</c>,
/// <c>/v3/lease/{grant,revoke,keepalive,timetolive,leases}</c> (and <c>/v3/kv/lease/{revoke,timetolive,leases}</c>),
/// <c>/v3/cluster/member/{add,remove,update,list,promote}</c>,
/// <c>/v3/maintenance/{alarm,status,defragment,hash,hashkv,snapshot,transfer-leadership}</c>,
/// <c>/v3/auth/{enable,disable,status,authenticate}</c>, <c>/v3/auth/user/{add,get,list,delete,changepw,grant,revoke}</c>,
/// <c>/v3/auth/role/{add,get,list,delete,grant,revoke}</c> (a token in the <c>Authorization</c> header), each also under
/// <c>/v3beta</c>. POST only (anything else: 405); an unknown path: 404.</item>
/// <item>Streams (<c>watch</c>, <c>lease/keepalive</c>, <c>maintenance/snapshot</c>): the body may hold several JSON
/// requests one after another; each response is one line <c>{"result":{...}}</c>, flushed as it comes. A watch stays
/// open after the body ends, until the client goes away (as etcd's does).</item>
/// <item>Errors: grpc-gateway's body <c>{"error":"...","message":"...","code":N}</c> with its HTTP status for the gRPC
/// code (InvalidArgument, FailedPrecondition and OutOfRange 400, NotFound 404, Unavailable 503, ...); malformed JSON is
/// InvalidArgument. On a stream that has started, the error is the last line, <c>{"error":{"grpc_code":N,...}}</c>.</item>
/// </list>
/// </summary>
internal sealed class EtcdJsonGateway : IDisposable
{
    private static readonly JsonParser s_parser = new(JsonParser.Settings.Default.WithIgnoreUnknownFields(true));
    private static readonly JsonFormatter s_formatter = new(JsonFormatter.Settings.Default.WithPreserveProtoFieldNames(true));
    /// <summary>Error bodies as Go writes them: no \u0027 for a quote in a message.</summary>
    private static readonly JsonSerializerOptions s_errorJson = new() { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <summary>Channels to this node's own gRPC services, by the local address the HTTP requests arrive on.</summary>
    private readonly ConcurrentDictionary<string, GrpcChannel> _channels = new();

    /// <summary>Largest JSON request body (base64 makes a value a third longer than the gRPC limit counts it).</summary>
    private readonly long _maxBodyBytes;

    /// <summary>The client port's TLS, or null: the loopback channel then speaks https, trusts the node's own certificate
    /// and presents it when clients must present one (as etcd's gateway dials with the server's key pair).</summary>
    private readonly Hosting.ClientTls? _tls;

    /// <summary>Creates the gateway; <paramref name="maxRequestBytes"/> is the gRPC request limit.</summary>
    public EtcdJsonGateway(long maxRequestBytes, Hosting.ClientTls? tls)
    {
        _maxBodyBytes = maxRequestBytes * 2;
        _tls = tls;
    }

    /// <summary>Maps every gateway path onto <paramref name="endpoints"/> (the gateway comes from their services).</summary>
    public static void Map(IEndpointRouteBuilder endpoints)
    {
        var gateway = endpoints.ServiceProvider.GetRequiredService<EtcdJsonGateway>();
        foreach (var prefix in new[] { "/v3", "/v3beta" })
        {
            gateway.Unary<RangeRequest, RangeResponse>(endpoints, prefix + "/kv/range", "KV", "Range");
            gateway.Unary<PutRequest, PutResponse>(endpoints, prefix + "/kv/put", "KV", "Put");
            gateway.Unary<DeleteRangeRequest, DeleteRangeResponse>(endpoints, prefix + "/kv/deleterange", "KV", "DeleteRange");
            gateway.Unary<TxnRequest, TxnResponse>(endpoints, prefix + "/kv/txn", "KV", "Txn");
            gateway.Unary<CompactionRequest, CompactionResponse>(endpoints, prefix + "/kv/compaction", "KV", "Compact");
            gateway.Duplex<WatchRequest, WatchResponse>(endpoints, prefix + "/watch", "Watch", "Watch", endWithBody: false);
            gateway.Unary<LeaseGrantRequest, LeaseGrantResponse>(endpoints, prefix + "/lease/grant", "Lease", "LeaseGrant");
            gateway.Duplex<LeaseKeepAliveRequest, LeaseKeepAliveResponse>(endpoints, prefix + "/lease/keepalive", "Lease", "LeaseKeepAlive", endWithBody: true);
            foreach (var lease in new[] { prefix + "/lease", prefix + "/kv/lease" })
            {
                gateway.Unary<LeaseRevokeRequest, LeaseRevokeResponse>(endpoints, lease + "/revoke", "Lease", "LeaseRevoke");
                gateway.Unary<LeaseTimeToLiveRequest, LeaseTimeToLiveResponse>(endpoints, lease + "/timetolive", "Lease", "LeaseTimeToLive");
                gateway.Unary<LeaseLeasesRequest, LeaseLeasesResponse>(endpoints, lease + "/leases", "Lease", "LeaseLeases");
            }

            gateway.Unary<MemberAddRequest, MemberAddResponse>(endpoints, prefix + "/cluster/member/add", "Cluster", "MemberAdd");
            gateway.Unary<MemberRemoveRequest, MemberRemoveResponse>(endpoints, prefix + "/cluster/member/remove", "Cluster", "MemberRemove");
            gateway.Unary<MemberUpdateRequest, MemberUpdateResponse>(endpoints, prefix + "/cluster/member/update", "Cluster", "MemberUpdate");
            gateway.Unary<MemberListRequest, MemberListResponse>(endpoints, prefix + "/cluster/member/list", "Cluster", "MemberList");
            gateway.Unary<MemberPromoteRequest, MemberPromoteResponse>(endpoints, prefix + "/cluster/member/promote", "Cluster", "MemberPromote");
            gateway.Unary<AlarmRequest, AlarmResponse>(endpoints, prefix + "/maintenance/alarm", "Maintenance", "Alarm");
            gateway.Unary<StatusRequest, StatusResponse>(endpoints, prefix + "/maintenance/status", "Maintenance", "Status");
            gateway.Unary<DefragmentRequest, DefragmentResponse>(endpoints, prefix + "/maintenance/defragment", "Maintenance", "Defragment");
            gateway.Unary<HashRequest, HashResponse>(endpoints, prefix + "/maintenance/hash", "Maintenance", "Hash");
            gateway.Unary<HashKVRequest, HashKVResponse>(endpoints, prefix + "/maintenance/hashkv", "Maintenance", "HashKV");
            gateway.ServerStream<SnapshotRequest, SnapshotResponse>(endpoints, prefix + "/maintenance/snapshot", "Maintenance", "Snapshot");
            gateway.Unary<MoveLeaderRequest, MoveLeaderResponse>(endpoints, prefix + "/maintenance/transfer-leadership", "Maintenance", "MoveLeader");
            gateway.Unary<AuthEnableRequest, AuthEnableResponse>(endpoints, prefix + "/auth/enable", "Auth", "AuthEnable");
            gateway.Unary<AuthDisableRequest, AuthDisableResponse>(endpoints, prefix + "/auth/disable", "Auth", "AuthDisable");
            gateway.Unary<AuthStatusRequest, AuthStatusResponse>(endpoints, prefix + "/auth/status", "Auth", "AuthStatus");
            gateway.Unary<AuthenticateRequest, AuthenticateResponse>(endpoints, prefix + "/auth/authenticate", "Auth", "Authenticate");
            gateway.Unary<AuthUserAddRequest, AuthUserAddResponse>(endpoints, prefix + "/auth/user/add", "Auth", "UserAdd");
            gateway.Unary<AuthUserGetRequest, AuthUserGetResponse>(endpoints, prefix + "/auth/user/get", "Auth", "UserGet");
            gateway.Unary<AuthUserListRequest, AuthUserListResponse>(endpoints, prefix + "/auth/user/list", "Auth", "UserList");
            gateway.Unary<AuthUserDeleteRequest, AuthUserDeleteResponse>(endpoints, prefix + "/auth/user/delete", "Auth", "UserDelete");
            gateway.Unary<AuthUserChangePasswordRequest, AuthUserChangePasswordResponse>(endpoints, prefix + "/auth/user/changepw", "Auth", "UserChangePassword");
            gateway.Unary<AuthUserGrantRoleRequest, AuthUserGrantRoleResponse>(endpoints, prefix + "/auth/user/grant", "Auth", "UserGrantRole");
            gateway.Unary<AuthUserRevokeRoleRequest, AuthUserRevokeRoleResponse>(endpoints, prefix + "/auth/user/revoke", "Auth", "UserRevokeRole");
            gateway.Unary<AuthRoleAddRequest, AuthRoleAddResponse>(endpoints, prefix + "/auth/role/add", "Auth", "RoleAdd");
            gateway.Unary<AuthRoleGetRequest, AuthRoleGetResponse>(endpoints, prefix + "/auth/role/get", "Auth", "RoleGet");
            gateway.Unary<AuthRoleListRequest, AuthRoleListResponse>(endpoints, prefix + "/auth/role/list", "Auth", "RoleList");
            gateway.Unary<AuthRoleDeleteRequest, AuthRoleDeleteResponse>(endpoints, prefix + "/auth/role/delete", "Auth", "RoleDelete");
            gateway.Unary<AuthRoleGrantPermissionRequest, AuthRoleGrantPermissionResponse>(endpoints, prefix + "/auth/role/grant", "Auth", "RoleGrantPermission");
            gateway.Unary<AuthRoleRevokePermissionRequest, AuthRoleRevokePermissionResponse>(endpoints, prefix + "/auth/role/revoke", "Auth", "RoleRevokePermission");
        }
    }

    /// <summary>
    /// The token of an HTTP request as gRPC metadata: its <c>Authorization</c> header, or <c>Grpc-Metadata-Token</c>
    /// (grpc-gateway's form for any metadata), as etcd's gateway takes either.
    /// </summary>
    private static Metadata? TokenOf(HttpContext context) =>
        (context.Request.Headers.Authorization.ToString() is { Length: > 0 } token ? token : context.Request.Headers["Grpc-Metadata-Token"].ToString()) is { Length: > 0 } found
            ? new Metadata { { "token", found } }
            : null;

    /// <inheritdoc />
    public void Dispose()
    {
        foreach (var channel in _channels.Values)
        {
            channel.Dispose();
        }

        _channels.Clear();
    }

    private void Unary<TRequest, TResponse>(IEndpointRouteBuilder endpoints, string path, string service, string name)
        where TRequest : class, IMessage<TRequest>, new()
        where TResponse : class, IMessage<TResponse>, new()
    {
        var method = Method<TRequest, TResponse>(MethodType.Unary, service, name);
        endpoints.MapPost(path, async context =>
        {
            if (await ReadRequestAsync<TRequest>(context).ConfigureAwait(false) is not { } request)
            {
                return;
            }

            TResponse response;
            try
            {
                response = await Invoker(context).AsyncUnaryCall(method, null, new CallOptions(TokenOf(context), cancellationToken: context.RequestAborted), request).ConfigureAwait(false);
            }
            catch (RpcException e)
            {
                await WriteErrorAsync(context, e.StatusCode, e.Status.Detail).ConfigureAwait(false);
                return;
            }

            context.Response.ContentType = "application/json";
            await context.Response.WriteAsync(Format(response), context.RequestAborted).ConfigureAwait(false);
        });
    }

    private void ServerStream<TRequest, TResponse>(IEndpointRouteBuilder endpoints, string path, string service, string name)
        where TRequest : class, IMessage<TRequest>, new()
        where TResponse : class, IMessage<TResponse>, new()
    {
        var method = Method<TRequest, TResponse>(MethodType.ServerStreaming, service, name);
        endpoints.MapPost(path, async context =>
        {
            if (await ReadRequestAsync<TRequest>(context).ConfigureAwait(false) is not { } request)
            {
                return;
            }

            using var call = Invoker(context).AsyncServerStreamingCall(method, null, new CallOptions(TokenOf(context), cancellationToken: context.RequestAborted), request);
            await RelayAsync(context, call.ResponseStream, null).ConfigureAwait(false);
        });
    }

    private void Duplex<TRequest, TResponse>(IEndpointRouteBuilder endpoints, string path, string service, string name, bool endWithBody)
        where TRequest : class, IMessage<TRequest>, new()
        where TResponse : class, IMessage<TResponse>, new()
    {
        var method = Method<TRequest, TResponse>(MethodType.DuplexStreaming, service, name);
        endpoints.MapPost(path, async context =>
        {
            if (context.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } limit)
            {
                limit.MaxRequestBodySize = null; // a long-lived stream of small requests; each one is bounded below
            }

            // The first request is read before the call starts, so a malformed one is answered as a unary call's would be.
            var body = context.Request.BodyReader;
            TRequest? first;
            try
            {
                first = await ReadNextAsync<TRequest>(body, context.RequestAborted).ConfigureAwait(false);
            }
            catch (Exception e) when (e is JsonException or InvalidProtocolBufferException or InvalidJsonException or FormatException or InvalidDataException)
            {
                await WriteErrorAsync(context, StatusCode.InvalidArgument, e.Message).ConfigureAwait(false);
                return;
            }
            catch (OperationCanceledException) when (context.RequestAborted.IsCancellationRequested)
            {
                return;
            }

            // A malformed request later in the body ends the call; the relay then writes its error as the last line.
            using var ended = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted);
            var malformed = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
            using var call = Invoker(context).AsyncDuplexStreamingCall(method, null, new CallOptions(TokenOf(context), cancellationToken: ended.Token));
            var sending = SendRequestsAsync(context, first, call.RequestStream, endWithBody, malformed, ended);
            await RelayAsync(context, call.ResponseStream, malformed.Task).ConfigureAwait(false);
            await sending.ConfigureAwait(false);
        });
    }

    /// <summary>Writes each response of <paramref name="responses"/> as a <c>{"result":...}</c> line until the stream
    /// ends, the client goes away, or the call fails (an error line then).</summary>
    private static async Task RelayAsync<TResponse>(HttpContext context, IAsyncStreamReader<TResponse> responses, Task<string>? malformed)
        where TResponse : class, IMessage<TResponse>
    {
        var started = false;
        var error = (StatusCode.OK, string.Empty);
        try
        {
            while (await responses.MoveNext(context.RequestAborted).ConfigureAwait(false))
            {
                if (!started)
                {
                    context.Response.ContentType = "application/json";
                    started = true;
                }

                await context.Response.WriteAsync("{\"result\":" + Format(responses.Current) + "}\n", context.RequestAborted).ConfigureAwait(false);
                await context.Response.Body.FlushAsync(context.RequestAborted).ConfigureAwait(false);
            }
        }
        catch (Exception e) when (e is RpcException or OperationCanceledException && context.RequestAborted.IsCancellationRequested)
        {
            return; // the client went away: the call was cancelled with it
        }
        catch (Exception e) when (e is RpcException or OperationCanceledException && malformed is { IsCompleted: true })
        {
            error = (StatusCode.InvalidArgument, malformed.Result);
        }
        catch (RpcException e)
        {
            error = (e.StatusCode, e.Status.Detail);
        }

        if (error.Item1 == StatusCode.OK)
        {
            return;
        }

        if (!started)
        {
            await WriteErrorAsync(context, error.Item1, error.Item2).ConfigureAwait(false);
            return;
        }

        var line = new JsonObject
        {
            ["grpc_code"] = (int)error.Item1,
            ["http_code"] = HttpStatus(error.Item1),
            ["message"] = error.Item2,
            ["http_status"] = ReasonPhrase(HttpStatus(error.Item1)),
        };
        await context.Response.WriteAsync(new JsonObject { ["error"] = line }.ToJsonString(s_errorJson) + "\n", context.RequestAborted).ConfigureAwait(false);
    }

    /// <summary>Sends <paramref name="first"/>, then each JSON request of the body on <paramref name="requests"/> as it
    /// arrives; a malformed one ends the call (<paramref name="endCall"/>), with its message in <paramref name="malformed"/>
    /// for the relay's error line. With
    /// <paramref name="endWithBody"/>, the end of the body ends the requests (the server then ends the stream);
    /// otherwise they stay open until the client goes away.</summary>
    private async Task SendRequestsAsync<TRequest>(
        HttpContext context, TRequest? first, IClientStreamWriter<TRequest> requests, bool endWithBody, TaskCompletionSource<string> malformed, CancellationTokenSource endCall)
        where TRequest : class, IMessage<TRequest>, new()
    {
        try
        {
            for (var request = first; request is not null; request = await ReadNextAsync<TRequest>(context.Request.BodyReader, context.RequestAborted).ConfigureAwait(false))
            {
                await requests.WriteAsync(request, context.RequestAborted).ConfigureAwait(false);
            }

            if (endWithBody)
            {
                await requests.CompleteAsync().ConfigureAwait(false);
            }
        }
        catch (Exception e) when (e is JsonException or InvalidProtocolBufferException or InvalidJsonException or FormatException or InvalidDataException)
        {
            malformed.TrySetResult(e.Message);
            await endCall.CancelAsync().ConfigureAwait(false);
        }
        catch (Exception e) when (e is OperationCanceledException or RpcException or InvalidOperationException)
        {
            // The client went away, or the call ended (its error, if any, is the relay's to report).
        }
    }

    /// <summary>The next JSON request of a streaming body, consuming exactly it; null once the body has ended.</summary>
    private async Task<TRequest?> ReadNextAsync<TRequest>(PipeReader body, CancellationToken cancellationToken)
        where TRequest : class, IMessage<TRequest>, new()
    {
        while (true)
        {
            var read = await body.ReadAsync(cancellationToken).ConfigureAwait(false);
            var buffer = read.Buffer;
            TRequest? request;
            ReadOnlySequence<byte> rest;
            try
            {
                request = Parse<TRequest>(buffer, read.IsCompleted, out rest);
            }
            catch
            {
                body.AdvanceTo(buffer.End);
                throw;
            }

            if (request is not null)
            {
                body.AdvanceTo(rest.Start);
                return request;
            }

            if (read.IsCompleted)
            {
                body.AdvanceTo(buffer.End);
                return null;
            }

            if (buffer.Length > _maxBodyBytes)
            {
                body.AdvanceTo(buffer.End);
                throw new InvalidDataException($"a request in the stream is longer than {_maxBodyBytes} bytes");
            }

            body.AdvanceTo(buffer.Start, buffer.End); // not whole yet: wait for more
        }
    }

    /// <summary>A message in protobuf's JSON mapping, compact as etcd's gateway writes it (the formatter puts a space
    /// after every colon and comma and inside braces; none is inside a string but in the string's own text).</summary>
    internal static string Format(IMessage message)
    {
        var formatted = s_formatter.Format(message);
        var compact = new StringBuilder(formatted.Length);
        var inString = false;
        for (var i = 0; i < formatted.Length; i++)
        {
            var c = formatted[i];
            if (inString)
            {
                compact.Append(c);
                if (c == '\\')
                {
                    compact.Append(formatted[++i]); // an escaped character, a quote among them
                }
                else if (c == '"')
                {
                    inString = false;
                }
            }
            else if (c == '"')
            {
                inString = true;
                compact.Append(c);
            }
            else if (c != ' ')
            {
                compact.Append(c);
            }
        }

        return compact.ToString();
    }

    /// <summary>
    /// The first JSON value of <paramref name="buffer"/> as a <typeparamref name="TRequest"/>, with what follows it in
    /// <paramref name="rest"/>; null when there is no whole value yet (or, with <paramref name="final"/>, none at all).
    /// </summary>
    internal static TRequest? Parse<TRequest>(ReadOnlySequence<byte> buffer, bool final, out ReadOnlySequence<byte> rest)
        where TRequest : class, IMessage<TRequest>, new()
    {
        rest = buffer;
        var reader = new Utf8JsonReader(buffer, final, new JsonReaderState(new JsonReaderOptions { AllowMultipleValues = true }));
        if (!reader.Read())
        {
            if (final)
            {
                rest = buffer.Slice(buffer.End);
            }

            return null; // only whitespace so far
        }

        var start = reader.TokenStartIndex;
        if (!reader.TrySkip())
        {
            return null; // the value is not whole yet
        }

        var value = buffer.Slice(start, reader.Position);
        rest = buffer.Slice(reader.Position);
        return s_parser.Parse<TRequest>(Encoding.UTF8.GetString(value));
    }

    /// <summary>The request of a unary or server-streaming call: the body's first JSON value (an empty body is an empty
    /// request); null after answering a body too large or malformed with InvalidArgument's error.</summary>
    private async Task<TRequest?> ReadRequestAsync<TRequest>(HttpContext context)
        where TRequest : class, IMessage<TRequest>, new()
    {
        var body = await ReadBodyAsync(context).ConfigureAwait(false);
        if (body is null)
        {
            return null;
        }

        try
        {
            return Parse<TRequest>(new ReadOnlySequence<byte>(body), final: true, out _) ?? new TRequest();
        }
        catch (Exception e) when (e is JsonException or InvalidProtocolBufferException or InvalidJsonException or FormatException)
        {
            await WriteErrorAsync(context, StatusCode.InvalidArgument, e.Message).ConfigureAwait(false);
            return null;
        }
    }

    /// <summary>The whole request body, bounded by <see cref="_maxBodyBytes"/>; null after answering a body too large.</summary>
    private async Task<byte[]?> ReadBodyAsync(HttpContext context)
    {
        if (context.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } limit)
        {
            limit.MaxRequestBodySize = _maxBodyBytes;
        }

        try
        {
            using var body = new MemoryStream();
            await context.Request.Body.CopyToAsync(body, context.RequestAborted).ConfigureAwait(false);
            return body.ToArray();
        }
        catch (BadHttpRequestException e) when (e.StatusCode == StatusCodes.Status413PayloadTooLarge)
        {
            await WriteErrorAsync(context, StatusCode.InvalidArgument, "etcdserver: request is too large").ConfigureAwait(false);
            return null;
        }
    }

    private static async Task WriteErrorAsync(HttpContext context, StatusCode code, string message)
    {
        context.Response.StatusCode = HttpStatus(code);
        context.Response.ContentType = "application/json";
        var body = new JsonObject { ["error"] = message, ["message"] = message, ["code"] = (int)code };
        await context.Response.WriteAsync(body.ToJsonString(s_errorJson), context.RequestAborted).ConfigureAwait(false);
    }

    /// <summary>grpc-gateway's HTTP status for a gRPC code (FailedPrecondition is deliberately 400, not 412).</summary>
    internal static int HttpStatus(StatusCode code) => code switch
    {
        StatusCode.OK => StatusCodes.Status200OK,
        StatusCode.Cancelled => StatusCodes.Status408RequestTimeout,
        StatusCode.InvalidArgument or StatusCode.FailedPrecondition or StatusCode.OutOfRange => StatusCodes.Status400BadRequest,
        StatusCode.DeadlineExceeded => StatusCodes.Status504GatewayTimeout,
        StatusCode.NotFound => StatusCodes.Status404NotFound,
        StatusCode.AlreadyExists or StatusCode.Aborted => StatusCodes.Status409Conflict,
        StatusCode.PermissionDenied => StatusCodes.Status403Forbidden,
        StatusCode.Unauthenticated => StatusCodes.Status401Unauthorized,
        StatusCode.ResourceExhausted => StatusCodes.Status429TooManyRequests,
        StatusCode.Unimplemented => StatusCodes.Status501NotImplemented,
        StatusCode.Unavailable => StatusCodes.Status503ServiceUnavailable,
        _ => StatusCodes.Status500InternalServerError,
    };

    private static string ReasonPhrase(int status) => Microsoft.AspNetCore.WebUtilities.ReasonPhrases.GetReasonPhrase(status);

    /// <summary>A call invoker on this node's own gRPC services, at the address <paramref name="context"/> came in on.</summary>
    private CallInvoker Invoker(HttpContext context)
    {
        var local = context.Connection.LocalIpAddress ?? IPAddress.Loopback;
        if (local.IsIPv4MappedToIPv6)
        {
            local = local.MapToIPv4();
        }

        var host = local.AddressFamily == AddressFamily.InterNetworkV6 ? $"[{local}]" : local.ToString();
        var address = $"{(_tls is null ? "http" : "https")}://{host}:{context.Connection.LocalPort}";
        return _channels.GetOrAdd(address, a => GrpcChannel.ForAddress(a, new GrpcChannelOptions
        {
            MaxReceiveMessageSize = null,
            MaxSendMessageSize = null,
            HttpHandler = LoopbackHandler(),
        })).CreateCallInvoker();
    }

    private SocketsHttpHandler LoopbackHandler()
    {
        var handler = new SocketsHttpHandler { EnableMultipleHttp2Connections = true };
        if (_tls is { } tls)
        {
            var own = tls.Certificate.RawDataMemory;
            handler.SslOptions.RemoteCertificateValidationCallback = (_, certificate, _, _) => certificate is not null && certificate.GetRawCertData().AsSpan().SequenceEqual(own.Span);
            if (tls.RequireClientCertificate)
            {
                handler.SslOptions.ClientCertificates = [tls.Certificate];
            }
        }

        return handler;
    }

    private static Method<TRequest, TResponse> Method<TRequest, TResponse>(MethodType type, string service, string name)
        where TRequest : class, IMessage<TRequest>, new()
        where TResponse : class, IMessage<TResponse>, new() =>
        new(type, "etcdserverpb." + service, name, Marshaller<TRequest>(), Marshaller<TResponse>());

    private static Marshaller<T> Marshaller<T>()
        where T : class, IMessage<T>, new()
    {
        var parser = new MessageParser<T>(() => new T());
        return Marshallers.Create(m => m.ToByteArray(), parser.ParseFrom);
    }
}
