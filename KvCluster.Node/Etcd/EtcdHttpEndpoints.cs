using System.Reflection;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace KvCluster.Node.Etcd;

/// <summary>
/// etcd's plain HTTP endpoints on the client port: <c>GET /health</c> (<c>{"health":"true","reason":""}</c> with 200
/// while this node knows a Raft leader; <c>{"health":"false","reason":"RAFT NO LEADER"}</c> with 503 otherwise, as
/// etcd 3.5 answers) and <c>GET /version</c> (<c>{"etcdserver":"3.4.0","etcdcluster":"3.4.0","akkakv":"..."}</c>).
/// </summary>
internal static class EtcdHttpEndpoints
{
    /// <summary>This build's version, for /version.</summary>
    private static readonly string s_akkakvVersion =
        typeof(EtcdHttpEndpoints).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "unknown";

    /// <summary>Maps /health and /version onto <paramref name="endpoints"/>.</summary>
    public static void Map(IEndpointRouteBuilder endpoints, EtcdGateway gateway)
    {
        endpoints.MapGet("/health", async context =>
        {
            var reason = await gateway.UnhealthyReasonAsync(context.RequestAborted).ConfigureAwait(false);

            context.Response.StatusCode = reason is null ? StatusCodes.Status200OK : StatusCodes.Status503ServiceUnavailable;
            context.Response.ContentType = "application/json";
            var body = new JsonObject { ["health"] = reason is null ? "true" : "false", ["reason"] = reason ?? string.Empty };
            await context.Response.WriteAsync(body.ToJsonString(), context.RequestAborted).ConfigureAwait(false);
        });
        endpoints.MapGet("/version", async context =>
        {
            context.Response.ContentType = "application/json";
            var body = new JsonObject
            {
                ["etcdserver"] = EtcdMaintenanceService.EtcdVersion,
                ["etcdcluster"] = EtcdMaintenanceService.EtcdVersion,
                ["akkakv"] = s_akkakvVersion,
            };
            await context.Response.WriteAsync(body.ToJsonString(), context.RequestAborted).ConfigureAwait(false);
        });
    }
}
