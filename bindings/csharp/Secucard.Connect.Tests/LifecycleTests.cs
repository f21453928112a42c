// LifecycleTests.cs - Close, Dispose, use afterwards, and misuse from callbacks.

using System;
using System.Diagnostics;
using System.IO;
using System.Threading;
using System.Threading.Tasks;
using NUnit.Framework;

namespace Secucard.Connect.Tests
{
    [TestFixture]
    public class LifecycleTests
    {
        [TearDown]
        public void ClearFaults() { T.Sandbox.ClearFaults(); }

        [Test]
        public void DisposeTwiceIsHarmless()
        {
            var c = new SecucardClient(T.Sandbox.Config());
            c.Smart.Idents.List();
            c.Dispose();
            Assert.DoesNotThrow(() => c.Dispose());
            Assert.IsTrue(c.IsDisposed);
        }

        [Test]
        public void UseAfterDisposeThrowsObjectDisposed()
        {
            var c = new SecucardClient(T.Sandbox.Config());
            c.Dispose();
            Assert.Throws<ObjectDisposedException>(() => c.Smart.Idents.List());
            Assert.Throws<ObjectDisposedException>(() => c.Call("{\"resource\":\"smart.idents\",\"op\":\"list\"}"));
            Assert.Throws<ObjectDisposedException>(() => c.CallAsync("{\"resource\":\"smart.idents\",\"op\":\"list\"}"));
            Assert.Throws<ObjectDisposedException>(() => c.Smart.Transactions.StartAsync("STX_1", "demo"));
            Assert.Throws<ObjectDisposedException>(() => c.Open());
            Assert.Throws<ObjectDisposedException>(() => c.OpenAsync());
            Assert.Throws<ObjectDisposedException>(() => c.Close());
            Assert.Throws<ObjectDisposedException>(() => c.CancelAuth());
            Assert.Throws<ObjectDisposedException>(() => c.ClearTokens());
            Assert.Throws<ObjectDisposedException>(() => c.HandleEvent("{\"target\":\"a.b\",\"type\":\"x\"}"));
            Assert.Throws<ObjectDisposedException>(() => c.Stats());
            Assert.Throws<ObjectDisposedException>(() => c.SetCredentialProvider(r => null));
            Assert.Throws<ObjectDisposedException>(() => c.SetTokenStorage(k => null, (k, v) => { }, k => { }));
            Assert.Throws<ObjectDisposedException>(() => c.LogReceived += (s, e) => { });
        }

        [Test]
        public void UseAfterCloseThrowsClosed()
        {
            using (var c = new SecucardClient(T.Sandbox.Config()))
            {
                c.Smart.Idents.List();
                c.Close();
                Assert.DoesNotThrow(() => c.Close()); // closing twice is harmless
                var e = Assert.Throws<ClosedException>(() => c.Smart.Idents.List());
                Assert.AreEqual(9, e.Status);
                Assert.Throws<ClosedException>(() => c.HandleEvent("{\"target\":\"a.b\",\"type\":\"x\"}"));
                // Stats still work on a closed client.
                StringAssert.Contains("\"calls\"", c.Stats());
            }
        }

        [Test]
        public void DisposeCancelsACallInFlight()
        {
            var c = new SecucardClient(T.Sandbox.Config());
            c.Smart.Idents.List();
            T.Sandbox.AddFault("{\"path\":\"/smart/idents\",\"delay_ms\":10000}");
            var task = c.Smart.Idents.ListAsync();
            Thread.Sleep(200); // let the request reach the sandbox; the outcome does not depend on it
            var sw = System.Diagnostics.Stopwatch.StartNew();
            c.Dispose();
            var e = T.Faulted<SecucardException>(task);
            Assert.That(e is CanceledException || e is ClosedException, "got " + e.GetType().Name);
            Assert.Less(sw.Elapsed.TotalSeconds, 8, "Dispose waited for the slow answer");
        }

        [Test]
        public void DisposeFromAnEventHandlerIsRefused()
        {
            using (var c = new SecucardClient(T.Sandbox.Config()))
            {
                var seen = new Inbox<Exception>();
                c.PushReceived += (s, e) =>
                {
                    try { c.Dispose(); seen.Add(null); }
                    catch (Exception ex) { seen.Add(ex); }
                };
                c.HandleEvent("{\"object\":\"event.pushes\",\"target\":\"general.notifications\",\"type\":\"display\",\"data\":{}}");
                var got = seen.WaitCount(1, "handler result")[0];
                Assert.IsInstanceOf<InvalidOperationException>(got);
                Assert.IsFalse(c.IsDisposed);
                c.Smart.Idents.List(); // still usable
            }
        }

        [Test]
        public void DisposeUnblocksAWaitingOpen()
        {
            var c = new SecucardClient(T.Sandbox.DeviceConfig());
            var codes = new Inbox<string>();
            c.DeviceCodeIssued += (s, e) => codes.Add(e.UserCode);
            var open = Task.Factory.StartNew(() => c.Open(), TaskCreationOptions.LongRunning);
            codes.WaitCount(1, "device code");
            c.Dispose();
            var e2 = T.Faulted<SecucardException>(open);
            Assert.That(e2 is ClosedException || e2 is CanceledException || e2 is AuthCanceledException, "got " + e2.GetType().Name);
        }

        // A program that returns from Main without disposing a client whose async call
        // is in flight: the finalizer releases the client and must not wait for the
        // call's callback (it took ~42 s, Mono's finalizer timeout, when it did).
        [TestCase("fresh")] // no callback ran yet: the callback thread cannot attach any more
        [TestCase("warm")]  // a callback ran: the callback thread is attached to the runtime
        public void ProgramExitsPromptlyWithoutDispose(string mode)
        {
            T.Sandbox.AddFault("{\"path\":\"/smart/transactions\",\"delay_ms\":30000}");
            string exe = Path.Combine(Path.GetDirectoryName(typeof(LifecycleTests).Assembly.Location), "ExitWithoutDispose.exe");
            var psi = new ProcessStartInfo("mono", "\"" + exe + "\" " + mode)
            {
                UseShellExecute = false,
                RedirectStandardOutput = true,
                CreateNoWindow = true,
            };
            psi.EnvironmentVariables["SECUCARD_TEST_CONFIG"] = T.Sandbox.Config();
            using (var p = Process.Start(psi))
            {
                try
                {
                    var line = p.StandardOutput.ReadLineAsync();
                    Assert.IsTrue(line.Wait(T.Patience), "the program did not reach the end of Main");
                    var sw = Stopwatch.StartNew();
                    Assert.AreEqual("main returns", line.Result);
                    bool exited = p.WaitForExit(10000);
                    double took = sw.Elapsed.TotalSeconds;
                    Assert.IsTrue(exited, "the program still runs 10 s after Main returned");
                    Assert.AreEqual(0, p.ExitCode);
                    Assert.Less(took, 1.0, "the process took " + took.ToString("0.00") + " s to exit after Main returned");
                }
                finally
                {
                    if (!p.HasExited) p.Kill();
                }
            }
        }

        [Test]
        public void ClientsAreIndependent()
        {
            using (var a = new SecucardClient(T.Sandbox.Config()))
            using (var b = new SecucardClient(T.Sandbox.Config()))
            {
                a.Smart.Idents.List();
                a.Dispose();
                Assert.AreEqual("smi_1", T.Obj(b.Smart.Idents.Get("smi_1"))["id"]);
            }
        }
    }
}
