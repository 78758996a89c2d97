using System.Reflection;

namespace KvCluster.Tests;

/// <summary>The layering rules of STYLE.md and issue 14, checked on the built assemblies.</summary>
public sealed class LayeringSpecs
{
    private static readonly string[] s_ourAssemblies =
    [
        "KvCluster.Raft", "KvCluster.Node", "kv", "KvCluster.Pbm", "lighthouse", "KvCluster.Testing",
    ];

    [Fact]
    public void OurAssemblies_ReferenceNoInHouseRuntime_OnlyAkkaNet()
    {
        foreach (var name in s_ourAssemblies)
        {
            var references = Assembly.Load(name).GetReferencedAssemblies().Select(r => r.Name!).ToList();
            Assert.DoesNotContain(references, r => r.StartsWith("KvCluster.Actors", StringComparison.Ordinal));
        }

        Assert.Contains("Akka.Persistence", Assembly.Load("KvCluster.Raft").GetReferencedAssemblies().Select(r => r.Name));
        Assert.Contains("Akka.Cluster.Tools", Assembly.Load("kv").GetReferencedAssemblies().Select(r => r.Name));
        Assert.Contains("Akka.Cluster", Assembly.Load("KvCluster.Node").GetReferencedAssemblies().Select(r => r.Name));
    }

    [Fact]
    public void RaftCore_UsesNoAkkaType_InAnySignature()
    {
        // The core is plain C#, driven by the actor: no field, property, method, constructor or base type of a
        // KvCluster.Raft.Core type mentions an Akka type.
        var core = Assembly.Load("KvCluster.Raft").GetTypes()
            .Where(t => t.Namespace == "KvCluster.Raft.Core")
            .ToList();
        Assert.NotEmpty(core);
        const BindingFlags all = BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Instance | BindingFlags.Static | BindingFlags.DeclaredOnly;
        foreach (var type in core)
        {
            var mentioned = new List<Type>();
            if (type.BaseType is { } baseType)
            {
                mentioned.Add(baseType);
            }

            mentioned.AddRange(type.GetInterfaces());
            mentioned.AddRange(type.GetFields(all).Select(f => f.FieldType));
            mentioned.AddRange(type.GetProperties(all).Select(p => p.PropertyType));
            foreach (var method in type.GetMethods(all).Cast<MethodBase>().Concat(type.GetConstructors(all)))
            {
                mentioned.AddRange(method.GetParameters().Select(p => p.ParameterType));
                if (method is MethodInfo info)
                {
                    mentioned.Add(info.ReturnType);
                }
            }

            var akka = mentioned.SelectMany(Flatten).Where(t => t.Namespace?.StartsWith("Akka", StringComparison.Ordinal) == true).ToList();
            Assert.True(akka.Count == 0, $"{type.FullName} mentions {string.Join(", ", akka.Select(t => t.FullName).Distinct())}");
        }
    }

    private static IEnumerable<Type> Flatten(Type type)
    {
        yield return type;
        if (type.HasElementType)
        {
            foreach (var inner in Flatten(type.GetElementType()!))
            {
                yield return inner;
            }
        }

        if (type.IsGenericType)
        {
            foreach (var argument in type.GetGenericArguments().SelectMany(Flatten))
            {
                yield return argument;
            }
        }
    }
}
