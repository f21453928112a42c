// Json.cs - the binding's own minimal JSON reader and string quoting.
//
// The binding passes JSON strings through to the library untouched. It only has
// to look inside a few documents the library produces (error JSON, events, a
// credential prompt) and to quote ids when it builds a request. Mono's mcs has no
// System.Text.Json and netstandard2.0 has no JSON reader at all, so this file
// holds a small, strict reader. It is internal on purpose: it is not a general
// JSON library and is not offered as one.

using System;
using System.Collections.Generic;
using System.Globalization;
using System.Text;

namespace Secucard.Connect
{
    /// <summary>
    /// Reads JSON into Dictionary&lt;string, object&gt; (objects), List&lt;object&gt;
    /// (arrays), string, long (integers that fit), double (other numbers), bool and
    /// null. Malformed input throws FormatException.
    /// </summary>
    internal static class Json
    {
        const int MaxDepth = 128; // the library's documents are shallow; this bounds recursion

        /// <summary>Parses a whole JSON document.</summary>
        public static object Parse(string text)
        {
            if (text == null) throw new ArgumentNullException("text");
            var r = new Reader(text);
            r.SkipSpace();
            object v = r.Value(0, null);
            r.SkipSpace();
            if (r.Pos != text.Length) throw r.Error("unexpected text after the JSON value");
            return v;
        }

        /// <summary>
        /// Parses a JSON object and also returns the raw text of each top-level
        /// member's value, so that a nested value ("data", "error") can be handed on
        /// exactly as the library wrote it.
        /// </summary>
        public static Dictionary<string, object> ParseObject(string text, out Dictionary<string, string> raw)
        {
            if (text == null) throw new ArgumentNullException("text");
            var r = new Reader(text);
            r.SkipSpace();
            if (r.Peek() != '{') throw r.Error("expected a JSON object");
            raw = new Dictionary<string, string>(StringComparer.Ordinal);
            var obj = (Dictionary<string, object>)r.Value(0, raw);
            r.SkipSpace();
            if (r.Pos != text.Length) throw r.Error("unexpected text after the JSON value");
            return obj;
        }

        /// <summary>Parses a JSON object; anything else throws FormatException.</summary>
        public static Dictionary<string, object> ParseObject(string text)
        {
            Dictionary<string, string> raw;
            return ParseObject(text, out raw);
        }

        /// <summary>The member as a string (JSON strings only), or null.</summary>
        public static string Str(Dictionary<string, object> o, string key)
        {
            object v;
            return o != null && o.TryGetValue(key, out v) ? v as string : null;
        }

        /// <summary>The member as an integer (JSON integers only), or fallback.</summary>
        public static long Long(Dictionary<string, object> o, string key, long fallback)
        {
            object v;
            if (o != null && o.TryGetValue(key, out v) && v is long) return (long)v;
            return fallback;
        }

        /// <summary>The member as a bool (JSON true/false only), or fallback.</summary>
        public static bool Bool(Dictionary<string, object> o, string key, bool fallback)
        {
            object v;
            if (o != null && o.TryGetValue(key, out v) && v is bool) return (bool)v;
            return fallback;
        }

        /// <summary>Quotes s as a JSON string literal; null becomes null.</summary>
        public static string Quote(string s)
        {
            if (s == null) return "null";
            var b = new StringBuilder(s.Length + 2);
            b.Append('"');
            foreach (char c in s)
            {
                switch (c)
                {
                    case '"': b.Append("\\\""); break;
                    case '\\': b.Append("\\\\"); break;
                    case '\n': b.Append("\\n"); break;
                    case '\r': b.Append("\\r"); break;
                    case '\t': b.Append("\\t"); break;
                    case '\b': b.Append("\\b"); break;
                    case '\f': b.Append("\\f"); break;
                    default:
                        // Control characters must be escaped; U+2028/2029 are escaped
                        // so the text stays valid when pasted into JavaScript.
                        if (c < 0x20 || c == '\u2028' || c == '\u2029')
                            b.Append("\\u").Append(((int)c).ToString("x4", CultureInfo.InvariantCulture));
                        else
                            b.Append(c);
                        break;
                }
            }
            b.Append('"');
            return b.ToString();
        }

        sealed class Reader
        {
            readonly string s;
            public int Pos;

            public Reader(string text) { s = text; }

            public FormatException Error(string what)
            {
                return new FormatException("invalid JSON at offset " + Pos.ToString(CultureInfo.InvariantCulture) + ": " + what);
            }

            public char Peek() { return Pos < s.Length ? s[Pos] : '\0'; }

            public void SkipSpace()
            {
                while (Pos < s.Length && (s[Pos] == ' ' || s[Pos] == '\t' || s[Pos] == '\n' || s[Pos] == '\r')) Pos++;
            }

            // raw, when not null, collects the raw text of this object's members
            // (used for the top level only).
            public object Value(int depth, Dictionary<string, string> raw)
            {
                if (depth > MaxDepth) throw Error("nested too deeply");
                if (Pos >= s.Length) throw Error("unexpected end of input");
                char c = s[Pos];
                switch (c)
                {
                    case '{': return Object(depth, raw);
                    case '[': return Array(depth);
                    case '"': return String();
                    case 't': Literal("true"); return true;
                    case 'f': Literal("false"); return false;
                    case 'n': Literal("null"); return null;
                    default:
                        if (c == '-' || (c >= '0' && c <= '9')) return Number();
                        throw Error("unexpected character '" + c + "'");
                }
            }

            void Literal(string word)
            {
                if (string.CompareOrdinal(s, Pos, word, 0, word.Length) != 0) throw Error("expected " + word);
                Pos += word.Length;
            }

            Dictionary<string, object> Object(int depth, Dictionary<string, string> raw)
            {
                var o = new Dictionary<string, object>(StringComparer.Ordinal);
                Pos++; // {
                SkipSpace();
                if (Peek() == '}') { Pos++; return o; }
                while (true)
                {
                    SkipSpace();
                    if (Peek() != '"') throw Error("expected a member name");
                    string key = String();
                    SkipSpace();
                    if (Peek() != ':') throw Error("expected ':'");
                    Pos++;
                    SkipSpace();
                    int start = Pos;
                    o[key] = Value(depth + 1, null); // a repeated key keeps the last value, like the Go side
                    if (raw != null) raw[key] = s.Substring(start, Pos - start);
                    SkipSpace();
                    char c = Peek();
                    Pos++;
                    if (c == '}') return o;
                    if (c != ',') { Pos--; throw Error("expected ',' or '}'"); }
                }
            }

            List<object> Array(int depth)
            {
                var a = new List<object>();
                Pos++; // [
                SkipSpace();
                if (Peek() == ']') { Pos++; return a; }
                while (true)
                {
                    SkipSpace();
                    a.Add(Value(depth + 1, null));
                    SkipSpace();
                    char c = Peek();
                    Pos++;
                    if (c == ']') return a;
                    if (c != ',') { Pos--; throw Error("expected ',' or ']'"); }
                }
            }

            string String()
            {
                Pos++; // opening quote
                var b = new StringBuilder();
                while (true)
                {
                    if (Pos >= s.Length) throw Error("unterminated string");
                    char c = s[Pos++];
                    if (c == '"') return b.ToString();
                    if (c < 0x20) { Pos--; throw Error("control character in string"); }
                    if (c != '\\') { b.Append(c); continue; }
                    if (Pos >= s.Length) throw Error("unterminated escape");
                    char e = s[Pos++];
                    switch (e)
                    {
                        case '"': b.Append('"'); break;
                        case '\\': b.Append('\\'); break;
                        case '/': b.Append('/'); break;
                        case 'b': b.Append('\b'); break;
                        case 'f': b.Append('\f'); break;
                        case 'n': b.Append('\n'); break;
                        case 'r': b.Append('\r'); break;
                        case 't': b.Append('\t'); break;
                        case 'u': b.Append(Hex4()); break; // surrogate pairs arrive as two escapes and stay a pair
                        default: Pos--; throw Error("unknown escape '\\" + e + "'");
                    }
                }
            }

            char Hex4()
            {
                if (Pos + 4 > s.Length) throw Error("short \\u escape");
                int v;
                if (!int.TryParse(s.Substring(Pos, 4), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out v))
                    throw Error("bad \\u escape");
                Pos += 4;
                return (char)v;
            }

            object Number()
            {
                int start = Pos;
                if (Peek() == '-') Pos++;
                if (Peek() == '0') Pos++;
                else if (Peek() >= '1' && Peek() <= '9') { while (Peek() >= '0' && Peek() <= '9') Pos++; }
                else throw Error("bad number");
                bool integer = true;
                if (Peek() == '.')
                {
                    integer = false;
                    Pos++;
                    if (!(Peek() >= '0' && Peek() <= '9')) throw Error("bad number");
                    while (Peek() >= '0' && Peek() <= '9') Pos++;
                }
                if (Peek() == 'e' || Peek() == 'E')
                {
                    integer = false;
                    Pos++;
                    if (Peek() == '+' || Peek() == '-') Pos++;
                    if (!(Peek() >= '0' && Peek() <= '9')) throw Error("bad number");
                    while (Peek() >= '0' && Peek() <= '9') Pos++;
                }
                string t = s.Substring(start, Pos - start);
                long l;
                if (integer && long.TryParse(t, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out l)) return l;
                return double.Parse(t, NumberStyles.Float, CultureInfo.InvariantCulture);
            }
        }
    }
}
