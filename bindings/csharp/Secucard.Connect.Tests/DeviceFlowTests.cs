// DeviceFlowTests.cs - the two-way device authorization as a till sees it:
// the code shown from DeviceCodeIssued, approval, denial, expiry, timeout,
// cancellation from another thread, and the auth events along the way.

using System;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using NUnit.Framework;

namespace Secucard.Connect.Tests
{
    [TestFixture]
    public class DeviceFlowTests
    {
        SecucardClient client;
        Inbox<DeviceCodeEventArgs> codes;
        Inbox<AuthStatusEventArgs> auth;

        void NewClient(string extra = null)
        {
            client = new SecucardClient(T.Sandbox.DeviceConfig(extra));
            codes = new Inbox<DeviceCodeEventArgs>();
            auth = new Inbox<AuthStatusEventArgs>();
            client.DeviceCodeIssued += (s, e) => codes.Add(e);
            client.AuthStatusChanged += (s, e) => auth.Add(e);
        }

        [TearDown]
        public void DisposeClient()
        {
            if (client != null) client.Dispose();
            client = null;
        }

        Task StartOpen() { return Task.Factory.StartNew(() => client.Open(), TaskCreationOptions.LongRunning); }

        [Test]
        public void ApprovedCodeOpensTheClient()
        {
            NewClient();
            var open = StartOpen();
            var code = codes.WaitCount(1, "device code")[0];
            Assert.IsNotNullOrEmpty(code.UserCode);
            StringAssert.StartsWith("http", code.VerificationUrl);
            Assert.Greater(code.ExpiresIn, TimeSpan.Zero);
            StringAssert.Contains(code.UserCode, code.Json);

            T.Sandbox.ApproveDevice(code.UserCode);
            T.Wait(open);
            Assert.IsTrue(open.Status == TaskStatus.RanToCompletion, open.Exception != null ? open.Exception.ToString() : open.Status.ToString());

            auth.WaitFor(a => a.State == "ok", "auth ok");
            var states = auth.Snapshot().Select(a => a.State).ToList();
            Assert.AreEqual("device_code", states[0], string.Join(",", states));
            Assert.IsNull(auth.Snapshot().First(a => a.State == "ok").Error);
            Assert.AreEqual("device", auth.Snapshot()[0].Grant);

            Assert.AreEqual("smi_1", T.Obj(client.Smart.Idents.Get("smi_1"))["id"]);
        }

        [Test]
        public void CancelAuthFromAnotherThreadStopsOpen()
        {
            NewClient();
            var open = StartOpen();
            codes.WaitCount(1, "device code");
            var canceller = new Thread(() => client.CancelAuth());
            canceller.Start();
            canceller.Join();
            var e = T.Faulted<AuthCanceledException>(open);
            Assert.AreEqual("canceled", e.Reason);
            Assert.AreEqual(3, e.Status);

            var ev = auth.WaitFor(a => a.State == "canceled" || a.State == "failed", "auth canceled event");
            Assert.IsNotNull(ev.Error);
            Assert.IsInstanceOf<AuthCanceledException>(ev.Error);
        }

        [Test]
        public void CancelAuthFromTheDeviceCodeHandlerStopsOpen()
        {
            NewClient();
            client.DeviceCodeIssued += (s, e) => client.CancelAuth(); // allowed inside callbacks
            T.Faulted<AuthCanceledException>(StartOpen());
        }

        [Test]
        public void DeniedCodeFailsOpen()
        {
            NewClient();
            var open = StartOpen();
            T.Sandbox.DenyDevice(codes.WaitCount(1, "device code")[0].UserCode);
            var e = T.Faulted<AuthDeniedException>(open);
            Assert.AreEqual("denied", e.Reason);
            var ev = auth.WaitFor(a => a.State == "failed", "auth failed event");
            Assert.IsInstanceOf<AuthDeniedException>(ev.Error);
        }

        [Test]
        public void ExpiredCodeFailsOpen()
        {
            NewClient();
            var open = StartOpen();
            T.Sandbox.ExpireDevice(codes.WaitCount(1, "device code")[0].UserCode);
            var e = T.Faulted<AuthExpiredException>(open);
            Assert.AreEqual("expired", e.Reason);
        }

        [Test]
        public void NobodyApprovingTimesOut()
        {
            NewClient("\"auth\":{\"wait_timeout_ms\":600}");
            var e = T.Faulted<AuthTimeoutException>(StartOpen());
            Assert.AreEqual("timeout", e.Reason);
            codes.WaitCount(1, "the device code that nobody approved"); // events may trail the failed Open
        }

        [Test]
        public void CallBeforeOpenNeedsAuthorization()
        {
            NewClient();
            var e = Assert.Throws<AuthException>(() => client.Smart.Idents.List());
            Assert.AreEqual("not_authorized", e.Reason);
            Assert.AreEqual(0, codes.Snapshot().Count, "a call must not start the device flow by itself");
        }

        [Test]
        public void OpenAsyncCompletesOnApproval()
        {
            NewClient();
            var open = client.OpenAsync();
            T.Sandbox.ApproveDevice(codes.WaitCount(1, "device code")[0].UserCode);
            T.Wait(open);
            Assert.AreEqual(TaskStatus.RanToCompletion, open.Status);
        }

        [Test]
        public void OpenAsyncTokenCancelsTheFlow()
        {
            NewClient();
            using (var cts = new CancellationTokenSource())
            {
                var open = client.OpenAsync(cts.Token);
                codes.WaitCount(1, "device code");
                cts.Cancel();
                T.Wait(open);
                Assert.IsTrue(open.IsCanceled, "status " + open.Status);
            }
        }

        [Test]
        public void OpenAsyncCanceledRightAwayEndsCanceled()
        {
            // The cancel may land before the device flow has started in the library;
            // whichever way the race goes, the Task must end Canceled, not wait for
            // an approval nobody will give.
            NewClient();
            using (var cts = new CancellationTokenSource())
            {
                var open = client.OpenAsync(cts.Token);
                cts.Cancel();
                T.Wait(open);
                Assert.IsTrue(open.IsCanceled, "status " + open.Status);
            }
        }

        [Test]
        public void ClearTokensForcesANewAuthorization()
        {
            NewClient();
            var open = StartOpen();
            T.Sandbox.ApproveDevice(codes.WaitCount(1, "device code")[0].UserCode);
            T.Wait(open);
            client.Open(); // a valid token: no new code
            Assert.AreEqual(1, codes.Snapshot().Count);

            client.ClearTokens();
            var again = StartOpen();
            var second = codes.WaitCount(2, "second device code")[1];
            T.Sandbox.ApproveDevice(second.UserCode);
            T.Wait(again);
            Assert.AreEqual(TaskStatus.RanToCompletion, again.Status);
        }
            [Test]
        public void ReadmeCashierFlow()
        {
            // The README's C# example, with the sandbox admin API standing in for the
            // person who approves the till and memory instead of a token file.
            NewClient();
            client.DeviceCodeIssued += (s, e) => T.Sandbox.ApproveDevice(e.UserCode);
            client.Open();
            Assert.GreaterOrEqual(T.Data(client.Smart.Idents.List()).Count, 3);
            string tx = client.Smart.Transactions.Create(
                "{\"basket_info\":{\"sum\":250,\"currency\":\"EUR\"}," +
                "\"basket\":{\"products\":[{\"id\":1,\"desc\":\"Coffee\",\"quantity\":1,\"priceOne\":250,\"tax\":7}]}}");
            string id = (string)T.Obj(tx)["id"];
            string done;
            try { done = client.Smart.Transactions.Start(id, "demo"); }
            catch (DeclinedException e) { done = e.TransactionJson; }
            CollectionAssert.Contains(new[] { "ok", "failed" }, T.Obj(done)["status"]);
            string receipt = SecucardClient.FormatReceipt(done, 32);
            StringAssert.Contains("2,50", receipt);
            foreach (var line in receipt.Split('\n')) Assert.LessOrEqual(line.Length, 32);
        }
    }
}
