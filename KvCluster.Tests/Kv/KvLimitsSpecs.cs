using Google.Protobuf;
using KvCluster.Node.Kv;
using KvCluster.Client.Protocol;
using static KvCluster.Tests.Kv.KvCommands;

namespace KvCluster.Tests.Kv;

public sealed class KvLimitsSpecs
{
    private static readonly KvLimits s_small = new() { MaxKeyBytes = 8, MaxValueBytes = 16 };

    private readonly KvRequestValidator _validator = new(s_small);

    [Fact]
    public void Validator_KeyAtLimit_IsAccepted()
    {
        Assert.Null(_validator.Validate(Put(new string('k', 8), new string('v', 16))));
    }

    [Fact]
    public void Validator_KeyOverLimit_NamesSizeAndLimit()
    {
        var error = _validator.Validate(Put(new string('k', 9), "v"));

        Assert.NotNull(error);
        Assert.Equal(KvStatus.InvalidArgument, error.Status);
        Assert.Contains("9 bytes", error.Message);
        Assert.Contains("limit is 8 bytes", error.Message);
        Assert.Contains(nameof(KvLimits.MaxKeyBytes), error.Message);
    }

    [Fact]
    public void Validator_ValueOverLimit_NamesKeySizeAndLimit()
    {
        var error = _validator.Validate(Put("k", new string('v', 17)));

        Assert.NotNull(error);
        Assert.Contains("\"k\"", error.Message);
        Assert.Contains("17 bytes", error.Message);
        Assert.Contains(nameof(KvLimits.MaxValueBytes), error.Message);
    }

    [Fact]
    public void Validator_DefaultLimits_Are4KiBKeysAnd1MiBValues()
    {
        var validator = new KvRequestValidator(KvLimits.Default);

        Assert.Null(validator.Validate(Put(ByteString.CopyFrom(new byte[4096]), ByteString.CopyFrom(new byte[1 << 20]))));
        Assert.NotNull(validator.Validate(Put(ByteString.CopyFrom(new byte[4097]), ByteString.Empty)));
        Assert.NotNull(validator.Validate(Put(B("k"), ByteString.CopyFrom(new byte[(1 << 20) + 1]))));
    }

    [Fact]
    public void Validator_EmptyKey_IsRejected()
    {
        Assert.Contains("empty", _validator.Validate(Put("", "v"))!.Message);
        Assert.Contains("empty", _validator.Validate(Get(""))!.Message);
        Assert.Contains("empty", _validator.Validate(Delete(""))!.Message);
    }

    [Fact]
    public void Validator_OversizedPrefixOrBound_IsRejected()
    {
        Assert.NotNull(_validator.Validate(DeleteRange(new string('p', 9))));
        Assert.NotNull(_validator.Validate(new KvCommand { Range = Prefix(new string('p', 9)) }));
        Assert.NotNull(_validator.Validate(new KvCommand { Range = Interval("a", new string('z', 9)) }));
    }

    [Fact]
    public void Validator_NoOperation_IsInvalidCommand()
    {
        Assert.Equal(KvStatus.InvalidCommand, _validator.Validate(new KvCommand())!.Status);
    }

    [Fact]
    public void Validator_BinaryKey_IsDescribedWithEscapes()
    {
        var error = _validator.Validate(Put(B(0x00, 0x01, 0xFF, 0x61, 0x62, 0x63, 0x64, 0x65, 0x66), B("v")));

        Assert.Contains("\\x00\\x01\\xFF", error!.Message);
    }

    [Fact]
    public void StateMachine_OversizedValue_IsRejectedAndStoresNothing()
    {
        var store = new KvStateMachine(s_small);

        var result = store.Apply(1, Put("k", new string('v', 17)));

        Assert.Equal(KvStatus.InvalidArgument, result.Status);
        Assert.Contains(nameof(KvLimits.MaxValueBytes), result.Error);
        Assert.Equal(0, store.Count);
        Assert.Equal(KvStateMachine.InitialRevision, store.Revision);
        Assert.Equal(1L, store.AppliedIndex);
    }

    [Fact]
    public void ToResult_Rejection_CarriesStatusAndMessage()
    {
        var result = _validator.Validate(Put("", "v"))!.ToResult();

        Assert.Equal(KvStatus.InvalidArgument, result.Status);
        Assert.False(string.IsNullOrEmpty(result.Error));
    }

    [Theory]
    [InlineData(0, 10, "MaxKeyBytes")]
    [InlineData(10, -1, "MaxValueBytes")]
    public void Limits_NotPositive_ThrowNamingSetting(int maxKey, int maxValue, string setting)
    {
        var limits = new KvLimits { MaxKeyBytes = maxKey, MaxValueBytes = maxValue };

        var error = Assert.Throws<ArgumentOutOfRangeException>(() => new KvStateMachine(limits));

        Assert.Equal(setting, error.ParamName);
    }

    [Fact]
    public void ValidatorAndStateMachine_SameCommand_RejectWithSameMessage()
    {
        var store = new KvStateMachine(s_small);
        KvCommand[] bad =
        [
            Put(new string('k', 9), "v"), Put("k", new string('v', 17)), Put("", "v"), Get(""), Delete(new string('d', 9)),
            DeleteRange(new string('p', 9)), new KvCommand { Range = Interval("z", "a") }, new KvCommand(),
        ];
        long index = 0;

        foreach (var command in bad)
        {
            var error = _validator.Validate(command)!;
            var result = store.Apply(++index, command);

            Assert.Equal(error.Status, result.Status);
            Assert.Equal(error.Message, result.Error);
        }

        Assert.Equal(0, store.Count);
    }
}
