// PackageTest.cs - a consumer of the Secucard.Connect NuGet package and nothing
// else: `make test-package` compiles it against the unpacked package's
// lib/netstandard2.0/Secucard.Connect.dll, lays the package out the way a
// build that references it does (lib/<tfm>/ files next to the program,
// runtimes/ beside them) and runs it under Mono against a sandbox
// ($SECUCARD_SANDBOX, from examples/c/with-sandbox.sh).

using System;
using System.Text.RegularExpressions;
using Secucard.Connect;

static class PackageTest
{
    static int passed, failed;

    static void Check(bool ok, string what)
    {
        if (ok) { passed++; return; }
        failed++;
        Console.Error.WriteLine("FAIL " + what);
    }

    static string Field(string json, string key)
    {
        Match m = Regex.Match(json, "\"" + key + "\":\"([^\"]*)\"");
        return m.Success ? m.Groups[1].Value : null;
    }

    static int Main(string[] args)
    {
        string expected = args.Length > 0 ? args[0] : "";
        Check(SecucardClient.NativeVersion == expected,
            "the package's native library is version " + SecucardClient.NativeVersion + ", expected " + expected);
        Check(SecucardClient.NativeAbiVersion == 1, "ABI version " + SecucardClient.NativeAbiVersion);
        Version assembly = typeof(SecucardClient).Assembly.GetName().Version;
        Check(assembly.ToString() == expected + ".0", "Secucard.Connect.dll is version " + assembly + ", expected " + expected + ".0");

        string line = Environment.GetEnvironmentVariable("SECUCARD_SANDBOX") ?? "";
        string config = "{\"environment\":\"sandbox\",\"sandbox_url\":\"" + Field(line, "sandbox_url") + "\","
            + "\"stomp\":{\"enabled\":false},\"credentials\":{\"client_id\":\"" + Field(line, "client_id") + "\","
            + "\"client_secret\":\"" + Field(line, "client_secret") + "\"}}";
        using (var client = new SecucardClient(config))
        {
            client.Open();
            string idents = client.Smart.Idents.List();
            Check(idents.Contains("\"smi_1\""), "smart.idents list: " + idents);
            try
            {
                client.Smart.Transactions.Get("STX_NOT_THERE");
                Check(false, "get of an unknown transaction must throw");
            }
            catch (ApiException e)
            {
                Check(e.HttpStatus == 404, "unknown transaction: HTTP " + e.HttpStatus);
            }
        }
        Console.WriteLine(passed + " passed, " + failed + " failed");
        return failed == 0 ? 0 : 1;
    }
}
