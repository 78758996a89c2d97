using KvCluster.Actors;

namespace KvCluster.Tests.Actors;

public sealed class ActorPathSpecs
{
    [Theory]
    [InlineData("kv://sys/user/a")]
    [InlineData("kv://sys@127.0.0.1:4053/user/a/b")]
    [InlineData("kv://sys@[::1]:4053/user/a")]
    [InlineData("kv://my-system_2@host.example:1/system/remote$1")]
    public void Parse_ThenToString_RoundTrips(string text)
    {
        var path = ActorPath.Parse(text);

        Assert.Equal(text, path.ToString());
    }

    [Fact]
    public void Parse_WithUid_KeepsUidAndSerializationFormatRoundTrips()
    {
        var path = ActorPath.Parse("kv://sys@h:1/user/a#42");

        Assert.Equal(42, path.Uid);
        Assert.Equal("kv://sys@h:1/user/a", path.ToString());
        Assert.Equal("kv://sys@h:1/user/a#42", path.ToSerializationFormat());
    }

    [Fact]
    public void Address_LocalAndRemote_PrintAsKvUris()
    {
        Assert.Equal("kv://sys", new Address("sys").ToString());
        Assert.Equal("kv://sys@10.0.0.1:2552", new Address("sys", "10.0.0.1", 2552).ToString());
        Assert.Equal(new Address("sys", "h", 1), Address.Parse("kv://sys@h:1"));
    }

    [Theory]
    [InlineData("http://sys/user/a")]
    [InlineData("kv://")]
    [InlineData("kv://sys@host/user/a")]
    [InlineData("kv://sys@host:99999/user")]
    [InlineData("kv://s y s/user")]
    [InlineData("kv://sys/user/a b")]
    public void Parse_Malformed_ThrowsFormatExceptionNamingTheInput(string text)
    {
        var error = Assert.Throws<FormatException>(() => ActorPath.Parse(text));

        Assert.Contains(text, error.Message);
    }

    [Fact]
    public void Equality_IgnoresUid_ButChildAndParentNavigate()
    {
        var root = ActorPath.CreateRoot(new Address("sys"));
        var a = (root / "user" / "a").WithUid(1);
        var b = ActorPath.Parse("kv://sys/user/a#2");

        Assert.Equal(a, b);
        Assert.Equal("a", a.Name);
        Assert.Equal("kv://sys/user", a.Parent!.ToString());
        Assert.Equal("/user/a", a.ToStringWithoutAddress());
    }

    [Fact]
    public void Child_InvalidName_ThrowsInvalidActorName()
    {
        var root = ActorPath.CreateRoot(new Address("sys"));

        Assert.Throws<InvalidActorNameException>(() => root / "a/b");
        Assert.Throws<InvalidActorNameException>(() => root / "");
    }
}
