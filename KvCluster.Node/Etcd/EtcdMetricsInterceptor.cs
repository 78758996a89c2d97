using System.Diagnostics;
using Grpc.Core;
using Grpc.Core.Interceptors;

namespace KvCluster.Node.Etcd;

/// <summary>
/// Counts every gRPC call of the etcd services by type, service, method and status code into <see cref="EtcdMetrics"/>
/// (grpc_server_started_total, grpc_server_handled_total, grpc_server_handling_seconds).
/// </summary>
internal sealed class EtcdMetricsInterceptor : Interceptor
{
    private readonly EtcdMetrics _metrics;

    /// <summary>Creates the interceptor over the node's metrics.</summary>
    public EtcdMetricsInterceptor(EtcdMetrics metrics)
    {
        _metrics = metrics;
    }

    /// <inheritdoc />
    public override Task<TResponse> UnaryServerHandler<TRequest, TResponse>(TRequest request, ServerCallContext context, UnaryServerMethod<TRequest, TResponse> continuation) =>
        ObserveAsync("unary", context, () => continuation(request, context));

    /// <inheritdoc />
    public override Task ServerStreamingServerHandler<TRequest, TResponse>(TRequest request, IServerStreamWriter<TResponse> responseStream, ServerCallContext context, ServerStreamingServerMethod<TRequest, TResponse> continuation) =>
        ObserveAsync("server_stream", context, async () =>
        {
            await continuation(request, responseStream, context).ConfigureAwait(false);
            return true;
        });

    /// <inheritdoc />
    public override Task<TResponse> ClientStreamingServerHandler<TRequest, TResponse>(IAsyncStreamReader<TRequest> requestStream, ServerCallContext context, ClientStreamingServerMethod<TRequest, TResponse> continuation) =>
        ObserveAsync("client_stream", context, () => continuation(requestStream, context));

    /// <inheritdoc />
    public override Task DuplexStreamingServerHandler<TRequest, TResponse>(IAsyncStreamReader<TRequest> requestStream, IServerStreamWriter<TResponse> responseStream, ServerCallContext context, DuplexStreamingServerMethod<TRequest, TResponse> continuation) =>
        ObserveAsync("bidi_stream", context, async () =>
        {
            await continuation(requestStream, responseStream, context).ConfigureAwait(false);
            return true;
        });

    private async Task<T> ObserveAsync<T>(string type, ServerCallContext context, Func<Task<T>> call)
    {
        var (service, method) = Split(context.Method);
        _metrics.Started.WithLabels(type, service, method).Inc();
        var started = Stopwatch.GetTimestamp();
        var code = StatusCode.OK;
        try
        {
            return await call().ConfigureAwait(false);
        }
        catch (RpcException e)
        {
            code = e.StatusCode;
            throw;
        }
        catch (OperationCanceledException)
        {
            code = StatusCode.Cancelled;
            throw;
        }
        catch (Exception)
        {
            code = StatusCode.Unknown;
            throw;
        }
        finally
        {
            _metrics.Handled.WithLabels(type, service, method, CodeName(code)).Inc();
            _metrics.HandlingSeconds.WithLabels(type, service, method).Observe(Stopwatch.GetElapsedTime(started).TotalSeconds);
        }
    }

    /// <summary>"/etcdserverpb.KV/Range" → ("etcdserverpb.KV", "Range").</summary>
    private static (string Service, string Method) Split(string fullMethod)
    {
        var slash = fullMethod.LastIndexOf('/');
        return slash <= 0 ? (string.Empty, fullMethod.TrimStart('/')) : (fullMethod[1..slash], fullMethod[(slash + 1)..]);
    }

    /// <summary>gRPC's canonical code names, as go-grpc-prometheus labels them (OK, NotFound, Unavailable...).</summary>
    private static string CodeName(StatusCode code) => code switch
    {
        StatusCode.OK => "OK",
        _ => code.ToString(),
    };
}
