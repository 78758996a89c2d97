using System.Text;

namespace KvCluster.Pbm;

/// <summary>
/// Splits a command line into words and matches words against a <see cref="CommandDefinition"/>.
/// Words are separated by whitespace; single or double quotes group a word (<c>-s "/user/a b"</c>);
/// a backslash inside double quotes escapes the next character.
/// </summary>
internal static class CommandLineParser
{
    /// <summary>Splits <paramref name="line"/>; null and a problem when a quote is not closed.</summary>
    public static List<string>? Tokenize(string line, out string? problem)
    {
        var words = new List<string>();
        var current = new StringBuilder();
        var inWord = false;
        char quote = '\0';
        for (var i = 0; i < line.Length; i++)
        {
            var c = line[i];
            if (quote != '\0')
            {
                if (c == quote)
                {
                    quote = '\0';
                }
                else if (c == '\\' && quote == '"' && i + 1 < line.Length)
                {
                    current.Append(line[++i]);
                }
                else
                {
                    current.Append(c);
                }

                continue;
            }

            if (char.IsWhiteSpace(c))
            {
                if (inWord)
                {
                    words.Add(current.ToString());
                    current.Clear();
                    inWord = false;
                }

                continue;
            }

            inWord = true;
            if (c is '"' or '\'')
            {
                quote = c;
            }
            else
            {
                current.Append(c);
            }
        }

        if (quote != '\0')
        {
            problem = $"the quote {quote} opened in the command line is never closed";
            return null;
        }

        if (inWord)
        {
            words.Add(current.ToString());
        }

        problem = null;
        return words;
    }

    /// <summary>
    /// Matches <paramref name="words"/> (after the palette and command words) against
    /// <paramref name="command"/>'s arguments and options.
    /// </summary>
    /// <returns>The arguments, or null with a one-line <paramref name="problem"/>;
    /// <paramref name="helpRequested"/> is true when <c>-h</c>/<c>--help</c> was among the words.</returns>
    public static CommandArguments? Bind(CommandDefinition command, IReadOnlyList<string> words, out bool helpRequested, out string? problem)
    {
        var values = new Dictionary<string, string>(StringComparer.Ordinal);
        var flags = new HashSet<string>(StringComparer.Ordinal);
        var positional = 0;
        helpRequested = false;
        for (var i = 0; i < words.Count; i++)
        {
            var word = words[i];
            if (word is "-h" or "--help")
            {
                helpRequested = true;
                continue;
            }

            if (word.Length > 1 && word[0] == '-' && !char.IsDigit(word[1]))
            {
                string? inlineValue = null;
                CommandOption? option;
                if (word.StartsWith("--", StringComparison.Ordinal))
                {
                    var name = word[2..];
                    var equals = name.IndexOf('=', StringComparison.Ordinal);
                    if (equals >= 0)
                    {
                        inlineValue = name[(equals + 1)..];
                        name = name[..equals];
                    }

                    option = command.Options.FirstOrDefault(o => o.Name == name);
                }
                else
                {
                    option = word.Length == 2 ? command.Options.FirstOrDefault(o => o.Alias == word[1]) : null;
                }

                if (option is null)
                {
                    problem = $"unknown option '{word}'";
                    return null;
                }

                if (values.ContainsKey(option.Name) || flags.Contains(option.Name))
                {
                    problem = $"option --{option.Name} is given twice";
                    return null;
                }

                if (option.ValueName is null)
                {
                    if (inlineValue is not null)
                    {
                        problem = $"option --{option.Name} takes no value";
                        return null;
                    }

                    flags.Add(option.Name);
                    continue;
                }

                if (inlineValue is null)
                {
                    if (i + 1 >= words.Count)
                    {
                        problem = $"option {word} needs a value <{option.ValueName}>";
                        return null;
                    }

                    inlineValue = words[++i];
                }

                values[option.Name] = inlineValue;
                continue;
            }

            if (positional >= command.Arguments.Count)
            {
                problem = $"unexpected argument '{word}'";
                return null;
            }

            values[command.Arguments[positional++].Name] = word;
        }

        if (!helpRequested)
        {
            for (var p = positional; p < command.Arguments.Count; p++)
            {
                if (command.Arguments[p].IsRequired)
                {
                    problem = $"missing argument <{command.Arguments[p].Name}>";
                    return null;
                }
            }
        }

        problem = null;
        return new CommandArguments(values, flags);
    }

    /// <summary>The usage line of a command: <c>cluster down &lt;address&gt;</c>, <c>actor hierarchy [-d &lt;depth&gt;] [-s &lt;path&gt;]</c>.</summary>
    public static string Usage(ICommandPalette palette, CommandDefinition command)
    {
        var text = new StringBuilder(palette.Name).Append(' ').Append(command.Name);
        foreach (var argument in command.Arguments)
        {
            text.Append(argument.IsRequired ? $" <{argument.Name}>" : $" [<{argument.Name}>]");
        }

        foreach (var option in command.Options)
        {
            var flag = option.Alias is { } alias ? $"-{alias}" : $"--{option.Name}";
            text.Append(option.ValueName is null ? $" [{flag}]" : $" [{flag} <{option.ValueName}>]");
        }

        return text.ToString();
    }
}
