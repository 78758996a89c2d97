using System.Buffers;
using System.Text;
using Grpc.Core;
using KvCluster.Client.Etcd;
using KvCluster.Node.Etcd;

namespace KvCluster.Tests.Etcd;

/// <summary>The JSON gateway's own parts: compact output, a body of several requests, grpc-gateway's HTTP statuses.</summary>
public sealed class EtcdJsonGatewaySpecs
{
    [Fact]
    public void Format_IsCompact_AndLeavesStringsAsTheyAre()
    {
        var response = new MemberListResponse { Header = new ResponseHeader { MemberId = 1, Revision = 7 } };
        response.Members.Add(new Member { ID = 2, Name = "node \"two\" , : { }" });

        Assert.Equal(
            """{"header":{"member_id":"1","revision":"7"},"members":[{"ID":"2","name":"node \"two\" , : { }"}]}""",
            EtcdJsonGateway.Format(response));
    }

    [Fact]
    public void Parse_TakesOneRequestAtATime_AndWaitsForOneThatIsNotWholeYet()
    {
        var body = new ReadOnlySequence<byte>(Encoding.UTF8.GetBytes("""  {"create_request":{"key":"YQ=="}}{"cancel_request":{"watch_id":"3"}} {"progress_req"""));

        var first = EtcdJsonGateway.Parse<WatchRequest>(body, final: false, out var rest);
        var second = EtcdJsonGateway.Parse<WatchRequest>(rest, final: false, out rest);
        var third = EtcdJsonGateway.Parse<WatchRequest>(rest, final: false, out var after);

        Assert.Equal("a", first!.CreateRequest.Key.ToStringUtf8());
        Assert.Equal(3, second!.CancelRequest.WatchId);
        Assert.Null(third);
        Assert.Equal(rest.Length, after.Length); // nothing consumed: the rest waits for more bytes
        Assert.ThrowsAny<System.Text.Json.JsonException>(() => EtcdJsonGateway.Parse<WatchRequest>(rest, final: true, out _));
        Assert.Null(EtcdJsonGateway.Parse<RangeRequest>(new ReadOnlySequence<byte>("  \n"u8.ToArray()), final: true, out _));
    }

    [Theory]
    [InlineData(StatusCode.InvalidArgument, 400)]
    [InlineData(StatusCode.FailedPrecondition, 400)] // grpc-gateway's choice, not 412
    [InlineData(StatusCode.OutOfRange, 400)]
    [InlineData(StatusCode.NotFound, 404)]
    [InlineData(StatusCode.Unavailable, 503)]
    [InlineData(StatusCode.DeadlineExceeded, 504)]
    [InlineData(StatusCode.ResourceExhausted, 429)]
    [InlineData(StatusCode.Unimplemented, 501)]
    [InlineData(StatusCode.Internal, 500)]
    public void HttpStatus_IsGrpcGatewaysForTheCode(StatusCode code, int status) => Assert.Equal(status, EtcdJsonGateway.HttpStatus(code));
}
