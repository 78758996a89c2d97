using KvCluster.Client.Bench;
using KvCluster.Client.Cli;

namespace KvCluster.Tests.Client;

public sealed class BenchSettingsTests
{
    [Fact]
    public void TryParseList_MixedForms_ParsesEveryEndpoint()
    {
        var endpoints = BenchEndpoint.TryParseList("127.0.0.1:2379, http://node-2:22379/,[::1]:32379", out var error);

        Assert.Null(error);
        Assert.Equal(
            [new BenchEndpoint("127.0.0.1", 2379), new BenchEndpoint("node-2", 22379), new BenchEndpoint("::1", 32379)],
            endpoints);
        Assert.Equal("[::1]:32379", endpoints![2].ToString());
    }

    [Fact]
    public void TryParseList_Https_MarksTheEndpointTls()
    {
        var endpoints = BenchEndpoint.TryParseList("https://node-1:2379/,node-2:2379", out var error);

        Assert.Null(error);
        Assert.Equal([new BenchEndpoint("node-1", 2379) { Tls = true }, new BenchEndpoint("node-2", 2379)], endpoints);
    }

    [Theory]
    [InlineData("", "empty endpoint")]
    [InlineData("a:1,,b:2", "empty endpoint")]
    [InlineData("host", "is not host:port")]
    [InlineData("host:", "is not host:port")]
    [InlineData("host:0", "invalid port")]
    [InlineData("host:http", "invalid port")]
    [InlineData("::1:2379", "[address]:port")]
    [InlineData("unix://h:1", "only host:port, http://host:port or https://host:port")]
    public void TryParseList_BadEntry_NamesIt(string text, string expected)
    {
        var endpoints = BenchEndpoint.TryParseList(text, out var error);

        Assert.Null(endpoints);
        Assert.Contains(expected, error);
    }

    [Theory]
    [InlineData("500ms", 500)]
    [InlineData("10s", 10_000)]
    [InlineData("1.5s", 1_500)]
    [InlineData("2m", 120_000)]
    [InlineData("1h", 3_600_000)]
    [InlineData("7", 7_000)]
    [InlineData("00:00:03", 3_000)]
    public void TryParseDuration_Forms_Parse(string text, double expectedMs)
    {
        Assert.True(BenchCommand.TryParseDuration(text, out var duration));
        Assert.Equal(expectedMs, duration.TotalMilliseconds);
    }

    [Theory]
    [InlineData("ten")]
    [InlineData("10x")]
    [InlineData("")]
    public void TryParseDuration_Garbage_Fails(string text)
    {
        Assert.False(BenchCommand.TryParseDuration(text, out _));
    }

    [Theory]
    [InlineData(1, 1)]
    [InlineData(10, 1)]
    [InlineData(11, 2)]
    [InlineData(100_000_000, 8)]
    [InlineData(100_000_001, 9)]
    public void DigitsFor_KeySpace_IsDigitsOfLargestKey(long keySpace, int digits)
    {
        Assert.Equal(digits, KeyFormatter.DigitsFor(keySpace));
    }

    [Fact]
    public void Format_Index_IsZeroPaddedDecimal()
    {
        var key = new byte[8];

        KeyFormatter.Format(4711, key);

        Assert.Equal("00004711"u8.ToArray(), key);
    }
}
