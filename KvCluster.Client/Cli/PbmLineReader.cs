using System.Text;

namespace KvCluster.Client.Cli;

/// <summary>
/// Reads the lines of the interactive <c>kv pbm</c> prompt. On a terminal it edits the line itself
/// so that Up and Down walk the in-memory history (Left, Right, Home, End, Backspace and Delete
/// edit; Enter accepts); otherwise (piped input, tests) it reads plain lines.
/// </summary>
internal sealed class PbmLineReader
{
    private readonly TextReader _input;
    private readonly IReadOnlyList<string> _history;
    private readonly bool _editKeys;

    /// <summary>Creates a reader over <paramref name="input"/>; <paramref name="history"/> is read, never written.</summary>
    /// <param name="input">The lines (ignored while <paramref name="editKeys"/> reads the console's keys).</param>
    /// <param name="history">The lines entered so far, oldest first.</param>
    /// <param name="editKeys">True to read keys from the console terminal.</param>
    public PbmLineReader(TextReader input, IReadOnlyList<string> history, bool editKeys)
    {
        _input = input;
        _history = history;
        _editKeys = editKeys;
    }

    /// <summary>Shows <paramref name="prompt"/> (when not null) and reads one line; null at the end of input.</summary>
    public string? ReadLine(string? prompt, TextWriter output)
    {
        if (prompt is not null)
        {
            output.Write(prompt);
            output.Flush();
        }

        return _editKeys ? EditLine(prompt ?? string.Empty) : _input.ReadLine();
    }

    private string? EditLine(string prompt)
    {
        var line = new StringBuilder();
        var cursor = 0;
        var index = _history.Count;
        while (true)
        {
            var key = Console.ReadKey(intercept: true);
            switch (key.Key)
            {
                case ConsoleKey.Enter:
                    Console.WriteLine();
                    return line.ToString();
                case ConsoleKey.D when key.Modifiers.HasFlag(ConsoleModifiers.Control) && line.Length == 0:
                    Console.WriteLine();
                    return null;
                case ConsoleKey.UpArrow when index > 0:
                    Replace(_history[--index]);
                    break;
                case ConsoleKey.DownArrow when index < _history.Count:
                    index++;
                    Replace(index == _history.Count ? string.Empty : _history[index]);
                    break;
                case ConsoleKey.LeftArrow when cursor > 0:
                    cursor--;
                    break;
                case ConsoleKey.RightArrow when cursor < line.Length:
                    cursor++;
                    break;
                case ConsoleKey.Home:
                    cursor = 0;
                    break;
                case ConsoleKey.End:
                    cursor = line.Length;
                    break;
                case ConsoleKey.Backspace when cursor > 0:
                    line.Remove(--cursor, 1);
                    break;
                case ConsoleKey.Delete when cursor < line.Length:
                    line.Remove(cursor, 1);
                    break;
                default:
                    if (!char.IsControl(key.KeyChar))
                    {
                        line.Insert(cursor++, key.KeyChar);
                    }

                    break;
            }

            Redraw();
        }

        void Replace(string text)
        {
            line.Clear().Append(text);
            cursor = line.Length;
        }

        void Redraw()
        {
            // Carriage return, prompt, line, clear to the end of the screen line, then the cursor.
            Console.Write($"\r{prompt}{line}\u001b[K");
            var back = line.Length - cursor;
            if (back > 0)
            {
                Console.Write($"\u001b[{back}D");
            }
        }
    }
}
