using Google.Protobuf;
using KvCluster.Client.Etcd;
using KvCluster.Client.Etcd.Authpb;
using KvCluster.Client.Protocol;
using KvCluster.Client.Snapshots;
using KvCluster.Node.Etcd;
using KvCluster.Node.Kv;
using static KvCluster.Tests.Kv.EtcdCommands;
using PutRequest = KvCluster.Client.Etcd.PutRequest;
using RangeRequest = KvCluster.Client.Etcd.RangeRequest;
using PermType = KvCluster.Client.Etcd.Authpb.Permission.Types.Type;

namespace KvCluster.Tests.Kv;

/// <summary>
/// etcd's auth store in the state machine (<see cref="KvAuthState"/>): etcd's rules for enabling, users, roles and
/// permissions; the check of every etcd command at apply time against the user and auth revision it carries; the
/// snapshot section; and the node's passwords and tokens (<see cref="EtcdAuthTokens"/>).
/// </summary>
public sealed class KvAuthSpecs
{
    private readonly EtcdStore _store = new();

    private static KvCommand Auth(AuthCommand command, string user = "", ulong revision = 0) =>
        new() { Auth = command, AuthUser = user, AuthRevision = revision, EtcdClient = true };

    private static KvCommand As(KvCommand command, string user, ulong revision)
    {
        command.AuthUser = user;
        command.AuthRevision = revision;
        command.EtcdClient = true;
        return command;
    }

    private static Permission Perm(PermType type, string key, string rangeEnd = "") =>
        new() { PermType = type, Key = ByteString.CopyFromUtf8(key), RangeEnd = rangeEnd == "\0" ? ByteString.CopyFrom(0) : ByteString.CopyFromUtf8(rangeEnd) };

    private static AuthCommand AddUser(string name) =>
        new() { UserAdd = new AuthUserAddRequest { Name = name }, PasswordHash = ByteString.CopyFromUtf8("hash-of-" + name) };

    /// <summary>Root with the root role, and a user with a role holding <paramref name="perms"/>; returns the auth revision after.</summary>
    private ulong SetUp(string user, params Permission[] perms)
    {
        Ok(Auth(AddUser("root")));
        Ok(Auth(new AuthCommand { UserGrantRole = new AuthUserGrantRoleRequest { User = "root", Role = "root" } }));
        Ok(Auth(AddUser(user)));
        Ok(Auth(new AuthCommand { RoleAdd = new AuthRoleAddRequest { Name = "r" } }));
        foreach (var perm in perms)
        {
            Ok(Auth(new AuthCommand { RoleGrantPermission = new AuthRoleGrantPermissionRequest { Name = "r", Perm = perm } }));
        }

        Ok(Auth(new AuthCommand { UserGrantRole = new AuthUserGrantRoleRequest { User = user, Role = "r" } }));
        Ok(Auth(new AuthCommand { Enable = new AuthEnableRequest(), TokenKey = ByteString.CopyFromUtf8("key") }));
        return _store.Store.Auth.Revision;
    }

    private KvResult Ok(KvCommand command)
    {
        var result = _store.Apply(command);
        Assert.True(result.Status == KvStatus.Ok, $"{command.OpCase}: {result.Status} {result.Error}");
        return result;
    }

    [Fact]
    public void Enable_NeedsARootUser_ThenTheRootRole_AndMovesNoRevision()
    {
        var enable = new AuthCommand { Enable = new AuthEnableRequest(), TokenKey = ByteString.CopyFromUtf8("key") };

        var noRoot = _store.Apply(Auth(enable));
        Ok(Auth(AddUser("root")));
        var noRole = _store.Apply(Auth(enable));
        Ok(Auth(new AuthCommand { UserGrantRole = new AuthUserGrantRoleRequest { User = "root", Role = "root" } }));
        var before = _store.Store.Auth.Revision;
        Ok(Auth(enable));

        Assert.Equal(AuthErrors.RootUserNotExist, noRoot.Error);
        Assert.Equal(AuthErrors.RootRoleNotExist, noRole.Error);
        Assert.True(_store.Store.Auth.Enabled);
        Assert.Equal(before, _store.Store.Auth.Revision);
        Assert.Equal(1L, _store.Revision);
    }

    [Fact]
    public void WhileEnabled_AnEtcdCommandWithoutAUser_OrCheckedAtAnOlderAuthRevision_IsRefused_AndChangesNothing()
    {
        var revision = SetUp("alice", Perm(PermType.Readwrite, "a/", "a0"));

        var nobody = _store.Apply(As(EPut("a/1", "x"), string.Empty, 0));
        var old = _store.Apply(As(EPut("a/1", "x"), "alice", revision - 1));
        var stranger = _store.Apply(As(EPut("a/1", "x"), "mallory", revision));
        var alice = _store.Apply(As(EPut("a/1", "x"), "alice", revision));

        Assert.Equal(AuthErrors.UserEmpty, nobody.Error);
        Assert.Equal(AuthErrors.OldRevision, old.Error);
        Assert.Equal(AuthErrors.PermissionDenied, stranger.Error);
        Assert.Equal(KvStatus.Ok, alice.Status);
        Assert.Equal(2L, _store.Revision);
    }

    [Fact]
    public void APermission_CoversItsKeyOrRange_AndNothingBeyond_AndAdjacentRangesJoin()
    {
        var revision = SetUp(
            "alice",
            Perm(PermType.Read, "a/", "a0"),
            Perm(PermType.Read, "a0", "b"),
            Perm(PermType.Write, "w"),
            Perm(PermType.Readwrite, "z/", "\0"));
        var auth = _store.Store.Auth;
        string? Read(string key, string end = "") => auth.CheckRange("alice", revision, ByteString.CopyFromUtf8(key), end == "\0" ? ByteString.CopyFrom(0) : ByteString.CopyFromUtf8(end), PermType.Read);
        string? Write(string key, string end = "") => auth.CheckRange("alice", revision, ByteString.CopyFromUtf8(key), ByteString.CopyFromUtf8(end), PermType.Write);

        Assert.Null(Read("a/1"));
        Assert.Null(Read("a/", "a0"));
        Assert.Null(Read("a/", "b"));
        Assert.Equal(AuthErrors.PermissionDenied, Read("a/", "c"));
        Assert.Equal(AuthErrors.PermissionDenied, Read("a", "a0"));
        Assert.Equal(AuthErrors.PermissionDenied, Write("a/1"));
        Assert.Null(Write("w"));
        Assert.Equal(AuthErrors.PermissionDenied, Write("w0"));
        Assert.Equal(AuthErrors.PermissionDenied, Read("w"));
        Assert.Null(Read("z/1", "\0"));
        Assert.Null(Write("zz"));
        Assert.Equal(AuthErrors.PermissionDenied, Read("y", "\0"));
        Assert.Null(auth.CheckRange("root", revision, ByteString.CopyFrom(0), ByteString.CopyFrom(0), PermType.Write));
    }

    [Fact]
    public void ATxn_NeedsReadOnEveryCompare_AndThePermissionOfEveryOperationOfBothBranches()
    {
        var revision = SetUp("alice", Perm(PermType.Readwrite, "a/", "a0"), Perm(PermType.Read, "r"));
        TxnRequest Txn(string compareKey, string successPut, string failureRange) => new()
        {
            Compare = { new Compare { Key = ByteString.CopyFromUtf8(compareKey), Target = Compare.Types.CompareTarget.Version, Version = 0 } },
            Success = { new RequestOp { RequestPut = new PutRequest { Key = ByteString.CopyFromUtf8(successPut) } } },
            Failure = { new RequestOp { RequestRange = new RangeRequest { Key = ByteString.CopyFromUtf8(failureRange) } } },
        };

        var allowed = _store.Apply(As(AsCommand(Txn("r", "a/1", "a/2")), "alice", revision));
        var compareOutside = _store.Apply(As(AsCommand(Txn("x", "a/1", "a/2")), "alice", revision));
        var putOnReadOnly = _store.Apply(As(AsCommand(Txn("r", "r", "a/2")), "alice", revision));
        var failureBranchOutside = _store.Apply(As(AsCommand(Txn("r", "a/1", "x")), "alice", revision));

        Assert.Equal(KvStatus.Ok, allowed.Status);
        Assert.Equal(AuthErrors.PermissionDenied, compareOutside.Error);
        Assert.Equal(AuthErrors.PermissionDenied, putOnReadOnly.Error);
        Assert.Equal(AuthErrors.PermissionDenied, failureBranchOutside.Error);
        Assert.Equal(2L, _store.Revision);
    }

    [Fact]
    public void ALeaseRevoke_NeedsWriteOnEveryKeyAttached()
    {
        Ok(new KvCommand { LeaseGrant = new LeaseGrantRequest { ID = 7, TTL = 60 } });
        Ok(new KvCommand { EtcdPut = new PutRequest { Key = ByteString.CopyFromUtf8("a/1"), Lease = 7 } });
        Ok(new KvCommand { EtcdPut = new PutRequest { Key = ByteString.CopyFromUtf8("b/1"), Lease = 7 } });
        var revision = SetUp("alice", Perm(PermType.Readwrite, "a/", "a0"));

        var refused = _store.Apply(As(new KvCommand { LeaseRevoke = new LeaseRevokeRequest { ID = 7 } }, "alice", revision));
        var asRoot = _store.Apply(As(new KvCommand { LeaseRevoke = new LeaseRevokeRequest { ID = 7 } }, "root", revision));

        Assert.Equal(AuthErrors.PermissionDenied, refused.Error);
        Assert.Equal(KvStatus.Ok, asRoot.Status);
        Assert.False(_store.Store.HasLease(7));
    }

    [Fact]
    public void WhatTheNodesProposeThemselves_TheLessorsExpiryAndTheCompactor_IsNotChecked()
    {
        Ok(new KvCommand { LeaseGrant = new LeaseGrantRequest { ID = 7, TTL = 60 } });
        Ok(new KvCommand { EtcdPut = new PutRequest { Key = ByteString.CopyFromUtf8("a/1"), Lease = 7 } });
        SetUp("alice");

        var expiry = _store.Apply(new KvCommand { LeaseRevoke = new LeaseRevokeRequest { ID = 7 } });
        var compaction = _store.Apply(Compact(_store.Revision));
        var clientCompaction = _store.Apply(As(Compact(_store.Revision), string.Empty, 0));

        Assert.Equal(KvStatus.Ok, expiry.Status);
        Assert.False(_store.Store.HasLease(7));
        Assert.Equal(KvStatus.Ok, compaction.Status);
        Assert.Equal(AuthErrors.UserEmpty, clientCompaction.Error);
    }

    [Fact]
    public void OnlyRootChangesTheStore_AUserReadsItselfAndItsRoles_AndRootCannotBeRemovedWhileEnabled()
    {
        var revision = SetUp("alice");

        var addByAlice = _store.Apply(Auth(AddUser("mallory"), "alice", revision));
        var selfGet = _store.Apply(Auth(new AuthCommand { UserGet = new AuthUserGetRequest { Name = "alice" } }, "alice", revision));
        var otherGet = _store.Apply(Auth(new AuthCommand { UserGet = new AuthUserGetRequest { Name = "root" } }, "alice", revision));
        var ownRole = _store.Apply(Auth(new AuthCommand { RoleGet = new AuthRoleGetRequest { Role = "r" } }, "alice", revision));
        var deleteRoot = _store.Apply(Auth(new AuthCommand { UserDelete = new AuthUserDeleteRequest { Name = "root" } }, "root", revision));
        var revokeRootRole = _store.Apply(Auth(new AuthCommand { UserRevokeRole = new AuthUserRevokeRoleRequest { Name = "root", Role = "root" } }, "root", revision));

        Assert.Equal(AuthErrors.PermissionDenied, addByAlice.Error);
        Assert.Equal(["r"], selfGet.Auth.UserGet.Roles);
        Assert.Equal(AuthErrors.PermissionDenied, otherGet.Error);
        Assert.Equal(KvStatus.Ok, ownRole.Status);
        Assert.Equal(AuthErrors.InvalidAuthManagement, deleteRoot.Error);
        Assert.Equal(AuthErrors.InvalidAuthManagement, revokeRootRole.Error);
        Assert.Equal(revision, _store.Store.Auth.Revision);
    }

    [Fact]
    public void DeletingARole_TakesItFromItsUsers_AndAnEmptyRangeIsRefused()
    {
        SetUp("alice", Perm(PermType.Read, "a"));
        var revision = _store.Store.Auth.Revision;

        var empty = _store.Apply(Auth(new AuthCommand { RoleGrantPermission = new AuthRoleGrantPermissionRequest { Name = "r", Perm = Perm(PermType.Read, "b", "a") } }, "root", revision));
        Ok(Auth(new AuthCommand { RoleDelete = new AuthRoleDeleteRequest { Role = "r" } }, "root", revision));

        Assert.Equal(AuthErrors.InvalidAuthManagement, empty.Error);
        Assert.Empty(_store.Store.Auth.Users["alice"].Roles);
        Assert.Equal(revision + 1, _store.Store.Auth.Revision);
        Assert.Equal(AuthErrors.PermissionDenied, _store.Apply(As(AsCommand(ERange("a")), "alice", revision + 1)).Error);
    }

    [Fact]
    public void ASnapshot_CarriesTheAuthStore_AndAStoreNeverChangedWritesNoAuthSection()
    {
        var pristine = KvSnapshotEnvelope.Read(_store.Store.Snapshot());
        var revision = SetUp("alice", Perm(PermType.Readwrite, "a/", "a0"));

        var restored = new KvStateMachine();
        restored.Restore(_store.Store.Snapshot());

        Assert.DoesNotContain(pristine.Sections, s => s.Type == (ulong)KvSnapshotSection.Auth);
        Assert.True(restored.Auth.Enabled);
        Assert.Equal(revision, restored.Auth.Revision);
        Assert.Equal(_store.Store.Auth.ToImage(), restored.Auth.ToImage());
        Assert.Equal(AuthErrors.PermissionDenied, restored.Apply(100, As(EPut("b", "x"), "alice", revision)).Error);
        Assert.Equal(KvStatus.Ok, restored.Apply(101, As(EPut("a/1", "x"), "alice", revision)).Status);
    }

    [Fact]
    public void AnImpossibleAuthSection_IsRefused_AndTheStoreIsUnchanged()
    {
        SetUp("alice");
        var image = _store.Store.Auth.ToImage();
        image.Users.Remove(image.Users.Single(u => u.Name.ToStringUtf8() == "root"));
        var restored = new KvStateMachine();
        restored.Apply(1, EPut("kept", "1"));

        var bad = KvSnapshotSectionSpecs.WithSections((KvSnapshotSection.Keys, [0]), (KvSnapshotSection.Auth, image.ToByteArray()));
        var refused = Assert.Throws<KvSnapshotFormatException>(() => restored.Restore(bad));

        Assert.Contains("auth section is impossible", refused.Message, StringComparison.Ordinal);
        Assert.Equal(2L, restored.Revision);
        Assert.False(restored.Auth.Enabled);
    }

    [Fact]
    public void AToken_IsAcceptedUntilItExpires_AndNotAfterItsUserChangedPassword_OrWithAnotherKey_OrTampered()
    {
        SetUp("alice");
        var clock = new SteppedClock(DateTimeOffset.Parse("2026-12-07T12:00:00Z", System.Globalization.CultureInfo.InvariantCulture));
        var tokens = new EtcdAuthTokens(TimeSpan.FromSeconds(300), clock);
        var auth = _store.Store.Auth;
        var token = tokens.Issue(auth, "alice");

        var valid = tokens.Validate(token, auth);
        var tampered = tokens.Validate(token[..^1] + (token[^1] == 'A' ? 'B' : 'A'), auth);
        clock.Now += TimeSpan.FromSeconds(299);
        var beforeExpiry = tokens.Validate(token, auth);
        clock.Now += TimeSpan.FromSeconds(2);
        var afterExpiry = tokens.Validate(token, auth);
        clock.Now -= TimeSpan.FromSeconds(10);
        Ok(Auth(new AuthCommand { UserChangePassword = new AuthUserChangePasswordRequest { Name = "alice" }, PasswordHash = ByteString.CopyFromUtf8("new") }, "root", auth.Revision));
        var afterPasswordChange = tokens.Validate(token, _store.Store.Auth);
        var otherKey = tokens.Validate(tokens.Issue(auth, "alice"), KvAuthState.FromImage(new AuthImage(auth.ToImage()) { TokenKey = ByteString.CopyFromUtf8("other") }));

        Assert.Equal(new AuthIdentity("alice", auth.Revision), valid);
        Assert.Null(tampered);
        Assert.NotNull(beforeExpiry);
        Assert.Null(afterExpiry);
        Assert.Null(afterPasswordChange);
        Assert.Null(otherKey);
    }

    [Fact]
    public void APasswordHash_VerifiesItsPasswordOnly_AndIsSaltedAnew()
    {
        var first = EtcdAuthTokens.HashPassword("s3cret");
        var second = EtcdAuthTokens.HashPassword("s3cret");

        Assert.True(EtcdAuthTokens.VerifyPassword("s3cret", first));
        Assert.False(EtcdAuthTokens.VerifyPassword("s3cret!", first));
        Assert.False(EtcdAuthTokens.VerifyPassword("s3cret", ByteString.CopyFromUtf8("$2a$10$not a hash")));
        Assert.StartsWith("$2", first.ToStringUtf8(), StringComparison.Ordinal);
        Assert.True(EtcdAuthTokens.IsBcryptHash(first.ToStringUtf8()));
        Assert.False(EtcdAuthTokens.IsBcryptHash("s3cret"));
        Assert.False(EtcdAuthTokens.VerifyPassword(string.Empty, ByteString.Empty));
        Assert.NotEqual(first, second);
        Assert.DoesNotContain("s3cret", first.ToStringUtf8(), StringComparison.Ordinal);
    }

    /// <summary>A clock the spec moves by hand.</summary>
    private sealed class SteppedClock(DateTimeOffset now) : TimeProvider
    {
        public DateTimeOffset Now { get; set; } = now;

        public override DateTimeOffset GetUtcNow() => Now;
    }
}
