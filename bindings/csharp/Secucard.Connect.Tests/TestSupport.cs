// TestSupport.cs - the sandbox process shared by every fixture, its admin API,
// config builders and small waiting helpers.

using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Net;
using System.Text;
using System.Threading;
using System.Threading.Tasks;
using NUnit.Framework;

// Every test runs on its own thread and fails after 30 s. A core regression that
// blocks a call (or Dispose) forever then fails the test that met it, and the
// rest of the suite still runs; the Makefile's timeout stays the last resort.
[assembly: Timeout(30000)]

namespace Secucard.Connect.Tests
{
    /// <summary>Starts one secucard-sandbox for the whole run and stops it at the end.</summary>
    [SetUpFixture]
    public class SandboxSetup
    {
        public static Sandbox Sandbox { get; private set; }

        [SetUp]
        public void StartSandbox()
        {
            Sandbox = Sandbox.Start();
        }

        [TearDown]
        public void StopSandbox()
        {
            if (Sandbox != null) Sandbox.Dispose();
            Sandbox = null;
        }
    }

    /// <summary>A running secucard-sandbox process.</summary>
    public sealed class Sandbox : IDisposable
    {
        public string SandboxUrl { get; private set; }
        public string AdminUrl { get; private set; }
        public string ClientId { get; private set; }
        public string ClientSecret { get; private set; }
        /// <summary>The port of the sandbox's STOMP endpoint (plain TCP on loopback).</summary>
        public int StompPort { get; private set; }
        /// <summary>The CardPointe Gateway's REST base and its HTTP Basic credentials and MID.</summary>
        public string CardPointeUrl { get; private set; }
        public string CardPointeUsername { get; private set; }
        public string CardPointePassword { get; private set; }
        public string CardPointeMerchId { get; private set; }

        Process process;
        readonly Queue<string> stderrTail = new Queue<string>();

        /// <summary>The binary: $SECUCARD_SANDBOX, else build/&lt;os&gt;-&lt;arch&gt;/secucard-sandbox from $SECUCARD_BUILD_DIR.</summary>
        static string BinaryPath()
        {
            string p = Environment.GetEnvironmentVariable("SECUCARD_SANDBOX");
            if (!string.IsNullOrEmpty(p)) return p;
            string dir = Environment.GetEnvironmentVariable("SECUCARD_BUILD_DIR");
            if (!string.IsNullOrEmpty(dir)) return Path.Combine(dir, "secucard-sandbox");
            throw new InvalidOperationException("set SECUCARD_SANDBOX (the secucard-sandbox binary) or SECUCARD_BUILD_DIR");
        }

        public static Sandbox Start()
        {
            string bin = BinaryPath();
            if (!File.Exists(bin)) throw new FileNotFoundException("secucard-sandbox not found (run make sandbox)", bin);
            var sb = new Sandbox();
            // No auto-approval: the device tests approve, deny, expire and cancel
            // explicitly. A 1 s poll interval (the smallest the library honours; 0
            // means its 5 s default) keeps each device flow near one second.
            var psi = new ProcessStartInfo(bin, "-http 127.0.0.1:0 -stomp 127.0.0.1:0 -device-interval 1 -start-delay 10ms")
            {
                UseShellExecute = false,
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                RedirectStandardInput = false,
                CreateNoWindow = true,
            };
            sb.process = Process.Start(psi);
            try
            {
                sb.ReadAddress();
            }
            catch
            {
                sb.Dispose(); // never leave a sandbox running behind a failed start
                throw;
            }
            return sb;
        }

        void ReadAddress()
        {
            process.ErrorDataReceived += (s, e) =>
            {
                if (e.Data == null) return;
                lock (stderrTail)
                {
                    stderrTail.Enqueue(e.Data);
                    while (stderrTail.Count > 40) stderrTail.Dequeue();
                }
            };
            process.BeginErrorReadLine();

            // The sandbox prints exactly one JSON line when it is ready; later output
            // is drained and dropped so it never blocks on a full pipe.
            var firstLine = new TaskCompletionSource<string>();
            process.OutputDataReceived += (s, e) => firstLine.TrySetResult(e.Data); // null at EOF
            process.BeginOutputReadLine();
            var read = firstLine.Task;
            if (!read.Wait(TimeSpan.FromSeconds(30)) || read.Result == null)
                throw new InvalidOperationException("secucard-sandbox did not print its address line; stderr:\n" + StderrTail());

            var o = Json.ParseObject(read.Result);
            SandboxUrl = Json.Str(o, "sandbox_url");
            AdminUrl = Json.Str(o, "admin_url");
            ClientId = Json.Str(o, "client_id");
            ClientSecret = Json.Str(o, "client_secret");
            CardPointeUrl = Json.Str(o, "cardpointe_url");
            CardPointeUsername = Json.Str(o, "cardpointe_username");
            CardPointePassword = Json.Str(o, "cardpointe_password");
            CardPointeMerchId = Json.Str(o, "cardpointe_merchid");
            string stompAddr = Json.Str(o, "stomp_addr") ?? "";
            int colon = stompAddr.LastIndexOf(':');
            StompPort = colon > 0 ? int.Parse(stompAddr.Substring(colon + 1)) : 0;
            if (string.IsNullOrEmpty(SandboxUrl) || string.IsNullOrEmpty(AdminUrl) || string.IsNullOrEmpty(ClientSecret))
                throw new InvalidOperationException("unexpected sandbox address line: " + read.Result);
        }

        public string StderrTail()
        {
            lock (stderrTail) return string.Join("\n", stderrTail.ToArray());
        }

        public void Dispose()
        {
            if (process == null) return;
            try
            {
                if (!process.HasExited)
                {
                    // SIGTERM first (the contract), SIGKILL if it does not go.
                    using (var kill = Process.Start(new ProcessStartInfo("kill", "-TERM " + process.Id) { UseShellExecute = false }))
                        kill.WaitForExit(5000);
                    if (!process.WaitForExit(5000)) process.Kill();
                }
            }
            catch (Exception e)
            {
                Console.Error.WriteLine("stopping the sandbox: " + e.Message);
            }
            process.Dispose();
            process = null;
        }

        // ---- admin API ----

        public string Admin(string method, string path, string body)
        {
            var req = (HttpWebRequest)WebRequest.Create(AdminUrl.TrimEnd('/') + path);
            req.Method = method;
            req.Timeout = 10000;
            req.Proxy = null;
            if (body != null)
            {
                byte[] b = Encoding.UTF8.GetBytes(body);
                req.ContentType = "application/json";
                req.ContentLength = b.Length;
                using (var s = req.GetRequestStream()) s.Write(b, 0, b.Length);
            }
            try
            {
                using (var resp = (HttpWebResponse)req.GetResponse())
                using (var r = new StreamReader(resp.GetResponseStream(), Encoding.UTF8))
                    return r.ReadToEnd();
            }
            catch (WebException e)
            {
                string text = "";
                if (e.Response != null)
                    using (var r = new StreamReader(e.Response.GetResponseStream(), Encoding.UTF8)) text = r.ReadToEnd();
                throw new InvalidOperationException("sandbox admin " + method + " " + path + " failed: " + e.Message + " " + text, e);
            }
        }

        public void ApproveDevice(string userCode) { Admin("POST", "/devices/approve", "{\"user_code\":" + Json.Quote(userCode) + "}"); }
        public void DenyDevice(string userCode) { Admin("POST", "/devices/deny", "{\"user_code\":" + Json.Quote(userCode) + "}"); }
        public void ExpireDevice(string userCode) { Admin("POST", "/devices/expire", "{\"user_code\":" + Json.Quote(userCode) + "}"); }
        public void ExpireTokens() { Admin("POST", "/tokens/expire", "{}"); }
        public void AddFault(string faultJson) { Admin("POST", "/faults", faultJson); }
        public void ClearFaults() { Admin("DELETE", "/faults", null); }
        public List<object> Requests() { return (List<object>)Json.Parse(Admin("GET", "/requests", null)); }

        // ---- configs ----

        /// <summary>A client_credentials config; extra is spliced in as further top-level keys.</summary>
        public string Config(string extra = null)
        {
            return "{\"environment\":\"sandbox\",\"sandbox_url\":" + Json.Quote(SandboxUrl) +
                   ",\"credentials\":{\"client_id\":" + Json.Quote(ClientId) + ",\"client_secret\":" + Json.Quote(ClientSecret) + "}" +
                   ",\"stomp\":{\"enabled\":false}" + (extra != null ? "," + extra : "") + "}";
        }

        /// <summary>The "cardpointe" config member for this sandbox's Gateway; password
        /// replaces its password when given.</summary>
        public string CardPointeSection(string password = null)
        {
            return "\"cardpointe\":{\"url\":" + Json.Quote(CardPointeUrl) + ",\"username\":" + Json.Quote(CardPointeUsername) +
                   ",\"password\":" + Json.Quote(password ?? CardPointePassword) + ",\"merchid\":" + Json.Quote(CardPointeMerchId) + "}";
        }

        /// <summary>A client_credentials config with STOMP on: the till's event path.</summary>
        public string StompConfig()
        {
            if (StompPort == 0) throw new InvalidOperationException("the sandbox serves no STOMP");
            return "{\"environment\":\"sandbox\",\"sandbox_url\":" + Json.Quote(SandboxUrl) +
                   ",\"credentials\":{\"client_id\":" + Json.Quote(ClientId) + ",\"client_secret\":" + Json.Quote(ClientSecret) + "}" +
                   ",\"stomp\":{\"enabled\":true,\"host\":\"127.0.0.1\",\"port\":" + StompPort + ",\"tls\":false}}";
        }

        /// <summary>A device-grant config with a fresh device uuid (tokens are kept per device).</summary>
        public string DeviceConfig(string extra = null)
        {
            string uuid = "/vendor/csharp-tests/pos/" + Guid.NewGuid().ToString("N");
            return "{\"environment\":\"sandbox\",\"sandbox_url\":" + Json.Quote(SandboxUrl) +
                   ",\"credentials\":{\"grant\":\"device\",\"client_id\":" + Json.Quote(ClientId) +
                   ",\"client_secret\":" + Json.Quote(ClientSecret) + ",\"device_uuid\":" + Json.Quote(uuid) + "}" +
                   ",\"stomp\":{\"enabled\":false}" + (extra != null ? "," + extra : "") + "}";
        }

        /// <summary>A config without credentials (the credential provider supplies them).</summary>
        public string ConfigWithoutCredentials(string extra = null)
        {
            return "{\"environment\":\"sandbox\",\"sandbox_url\":" + Json.Quote(SandboxUrl) +
                   ",\"stomp\":{\"enabled\":false}" + (extra != null ? "," + extra : "") + "}";
        }
    }

    /// <summary>Helpers shared by the fixtures.</summary>
    public static class T
    {
        public static Sandbox Sandbox { get { return SandboxSetup.Sandbox; } }

        public static readonly TimeSpan Patience = TimeSpan.FromSeconds(15);

        /// <summary>Waits for a task (failing the test after Patience) and returns its result.</summary>
        public static TResult Await<TResult>(Task<TResult> t)
        {
            Wait(t);
            return t.Result;
        }

        public static void Wait(Task t)
        {
            try
            {
                if (!t.Wait(Patience)) Assert.Fail("task did not complete within " + Patience.TotalSeconds + " s");
            }
            catch (AggregateException) { /* the caller inspects the faulted task */ }
        }

        /// <summary>The single exception a faulted task holds, as TException.</summary>
        public static TException Faulted<TException>(Task t) where TException : Exception
        {
            Wait(t);
            Assert.IsTrue(t.IsFaulted, "expected the task to fault, status " + t.Status);
            Assert.AreEqual(1, t.Exception.InnerExceptions.Count);
            Assert.IsInstanceOf<TException>(t.Exception.InnerException, t.Exception.InnerException.ToString());
            return (TException)t.Exception.InnerException;
        }

        /// <summary>Category of tests that document a bug outside the binding (see ExpectKnownCoreBug).</summary>
        public const string KnownCoreBug = "KnownCoreBug";

        /// <summary>
        /// A strict expected failure: <paramref name="contract"/> asserts what the header
        /// promises; while the named core bug makes it fail, the test passes and prints the
        /// bug (the Makefile counts these apart from real passes). Once the bug is fixed the
        /// test fails, so the marker cannot outlive the bug.
        /// </summary>
        public static void ExpectKnownCoreBug(string bug, TestDelegate contract)
        {
            try
            {
                contract();
            }
            catch (AssertionException e)
            {
                Console.WriteLine("expected failure, known core bug: " + bug + "\n  " + e.Message.Trim().Split('\n')[0]);
                return;
            }
            Assert.Fail("the known core bug is fixed (" + bug + "): remove ExpectKnownCoreBug and the KnownCoreBug category from this test");
        }

        public static Dictionary<string, object> Obj(string json) { return Json.ParseObject(json); }

        public static List<object> Data(string listJson)
        {
            var o = Obj(listJson);
            Assert.IsTrue(o.ContainsKey("data"), "list answer without data: " + listJson);
            return (List<object>)o["data"];
        }

        /// <summary>A transaction body the sandbox accepts: a small basket, 5.04 EUR.</summary>
        public static string TransactionJson(string merchantRef = "csharp-test")
        {
            return "{\"merchantRef\":" + Json.Quote(merchantRef) + ",\"transactionRef\":\"T-" + Guid.NewGuid().ToString("N").Substring(0, 8) + "\"," +
                   "\"basket_info\":{\"sum\":504,\"currency\":\"EUR\"}," +
                   "\"basket\":{\"products\":[{\"id\":1,\"articleNumber\":\"3880\",\"ean\":\"4051234567890\",\"desc\":\"Kaffee\"," +
                   "\"quantity\":2,\"priceOne\":252,\"tax\":19}]}}";
        }
    }

    /// <summary>Collects events raised on library threads for a test to wait on.</summary>
    public sealed class Inbox<TItem>
    {
        readonly List<TItem> items = new List<TItem>();

        public void Add(TItem item)
        {
            lock (items)
            {
                items.Add(item);
                Monitor.PulseAll(items);
            }
        }

        public List<TItem> Snapshot() { lock (items) return new List<TItem>(items); }

        /// <summary>Waits until an item matching pred arrived; fails the test after Patience.</summary>
        public TItem WaitFor(Func<TItem, bool> pred, string what)
        {
            DateTime end = DateTime.UtcNow + T.Patience;
            lock (items)
            {
                while (true)
                {
                    foreach (var i in items) if (pred(i)) return i;
                    TimeSpan left = end - DateTime.UtcNow;
                    if (left <= TimeSpan.Zero) Assert.Fail("timed out waiting for " + what + "; got " + items.Count + " item(s)");
                    Monitor.Wait(items, left);
                }
            }
        }

        /// <summary>Waits until at least n items arrived.</summary>
        public List<TItem> WaitCount(int n, string what)
        {
            DateTime end = DateTime.UtcNow + T.Patience;
            lock (items)
            {
                while (items.Count < n)
                {
                    TimeSpan left = end - DateTime.UtcNow;
                    if (left <= TimeSpan.Zero) Assert.Fail("timed out waiting for " + n + " " + what + "; got " + items.Count);
                    Monitor.Wait(items, left);
                }
                return new List<TItem>(items);
            }
        }
    }
}
