using System.Net;
using Google.Protobuf;
using KvCluster.Client.Bench;
using KvCluster.Client.Bench.Etcd;
using KvCluster.Client.Bench.Etcd.Protocol;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace KvCluster.Tests.Client;

/// <summary>
/// <see cref="GrpcConnection"/> against a loopback HTTP/2 cleartext server (Kestrel) that answers
/// with well-formed and broken gRPC responses, so each error path runs through the real
/// SocketsHttpHandler stack.
/// </summary>
[Trait("Category", "Integration")]
public sealed class GrpcConnectionTests : IAsyncLifetime
{
    private static readonly byte[] s_okFrame = GrpcFraming.Encode(new RangeResponse { Count = 1 });
    private WebApplication? _app;
    private GrpcConnection? _connection;

    public async Task InitializeAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, 0, o => o.Protocols = HttpProtocols.Http2));
        _app = builder.Build();
        _app.MapPost("/test.Svc/Ok", ctx => Respond(ctx, s_okFrame, "0"));
        _app.MapPost("/test.Svc/Truncated", ctx => Respond(ctx, [0, 0, 0, 0, 10, 1, 2, 3], "0"));
        _app.MapPost("/test.Svc/NoStatus", ctx => Respond(ctx, s_okFrame, status: null));
        _app.MapPost("/test.Svc/Deadline", ctx => Respond(ctx, [], "4"));
        _app.MapPost("/test.Svc/TrailersOnly", ctx =>
        {
            ctx.Response.ContentType = "application/grpc";
            ctx.Response.Headers["grpc-status"] = "14";
            ctx.Response.Headers["grpc-message"] = "etcdserver:%20leader%20changed";
            return Task.CompletedTask;
        });
        _app.MapPost("/test.Svc/Html", async ctx =>
        {
            ctx.Response.ContentType = "text/html";
            await ctx.Response.WriteAsync("<html/>");
        });
        await _app.StartAsync();
        var address = new Uri(_app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Single());
        _connection = new GrpcConnection(new BenchEndpoint("127.0.0.1", address.Port), TimeSpan.FromSeconds(30));
    }

    public async Task DisposeAsync()
    {
        _connection?.Dispose();
        if (_app is not null)
        {
            await _app.StopAsync();
            await _app.DisposeAsync();
        }
    }

    [Fact]
    public async Task CallAsync_WellFormedResponse_ReturnsTheMessage()
    {
        var response = await CallAsync("Ok");

        Assert.Equal(1, response.Count);
    }

    [Fact]
    public async Task CallAsync_TruncatedFrame_FailsUnavailableNamingTheDefect()
    {
        var error = await Assert.ThrowsAsync<BenchTargetException>(() => CallAsync("Truncated"));

        Assert.Equal(BenchErrorKind.Unavailable, error.Kind);
        Assert.Contains("truncated gRPC message: the frame announces 10 bytes, 3 arrived", error.Message);
        Assert.StartsWith("127.0.0.1:", error.Message);
    }

    [Fact]
    public async Task CallAsync_TrailersOnlyUnavailable_FailsUnavailableWithDecodedMessage()
    {
        var error = await Assert.ThrowsAsync<BenchTargetException>(() => CallAsync("TrailersOnly"));

        Assert.Equal(BenchErrorKind.Unavailable, error.Kind);
        Assert.Contains("UNAVAILABLE: etcdserver: leader changed", error.Message);
    }

    [Fact]
    public async Task CallAsync_DeadlineExceededStatus_FailsTimeout()
    {
        var error = await Assert.ThrowsAsync<BenchTargetException>(() => CallAsync("Deadline"));

        Assert.Equal(BenchErrorKind.Timeout, error.Kind);
    }

    [Fact]
    public async Task CallAsync_NoGrpcStatus_FailsUnavailable()
    {
        var error = await Assert.ThrowsAsync<BenchTargetException>(() => CallAsync("NoStatus"));

        Assert.Equal(BenchErrorKind.Unavailable, error.Kind);
        Assert.Contains("without grpc-status", error.Message);
    }

    [Fact]
    public async Task CallAsync_NotGrpc_FailsRejected()
    {
        var error = await Assert.ThrowsAsync<BenchTargetException>(() => CallAsync("Html"));

        Assert.Equal(BenchErrorKind.Rejected, error.Kind);
        Assert.Contains("is not application/grpc", error.Message);
    }

    [Fact]
    public async Task CallAsync_UnknownMethod_FailsWithoutHanging()
    {
        var error = await Assert.ThrowsAsync<BenchTargetException>(() => CallAsync("Missing"));

        Assert.Equal(BenchErrorKind.Rejected, error.Kind);
        Assert.Contains("HTTP 404", error.Message);
    }

    private static async Task Respond(HttpContext ctx, byte[] body, string? status)
    {
        ctx.Response.ContentType = "application/grpc";
        await ctx.Response.Body.WriteAsync(body);
        if (status is not null)
        {
            ctx.Response.AppendTrailer("grpc-status", status);
        }
    }

    private Task<RangeResponse> CallAsync(string method) =>
        _connection!.CallAsync(
            new Uri(_connection.BaseAddress, "test.Svc/" + method),
            GrpcFraming.Encode(new RangeRequest { Key = ByteString.CopyFromUtf8("k") }),
            RangeResponse.Parser,
            new ReceiveBuffer(),
            () => false,
            CancellationToken.None).AsTask();
}
