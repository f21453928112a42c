// HostServicesTests.cs - what the host lends the library: a credential
// provider, token storage delegates and a log delegate.

using System;
using System.Collections.Generic;
using System.Linq;
using System.Text;
using System.Threading.Tasks;
using NUnit.Framework;

namespace Secucard.Connect.Tests
{
    [TestFixture]
    public class CredentialProviderTests
    {
        string Creds() { return "{\"client_id\":" + Json.Quote(T.Sandbox.ClientId) + ",\"client_secret\":" + Json.Quote(T.Sandbox.ClientSecret) + "}"; }

        [Test]
        public void ProviderSuppliesMissingCredentials()
        {
            using (var c = new SecucardClient(T.Sandbox.ConfigWithoutCredentials()))
            {
                var asked = new List<CredentialRequest>();
                c.SetCredentialProvider(r => { lock (asked) asked.Add(r); return Creds(); });
                Assert.AreEqual("smi_1", T.Obj(c.Smart.Idents.Get("smi_1"))["id"]);
                Assert.AreEqual(1, asked.Count);
                Assert.IsNotEmpty(asked[0].Json);
                T.Obj(asked[0].Json); // the request is a JSON object
            }
        }

        [Test]
        public void ProviderReturningNullDeclines()
        {
            using (var c = new SecucardClient(T.Sandbox.ConfigWithoutCredentials()))
            {
                c.SetCredentialProvider(r => null);
                var e = Assert.Throws<AuthCanceledException>(() => c.Smart.Idents.List());
                Assert.AreEqual("canceled", e.Reason);
            }
        }

        [Test]
        public void ProviderThatThrowsDeclinesAndIsLogged()
        {
            using (var c = new SecucardClient(T.Sandbox.ConfigWithoutCredentials()))
            {
                var logs = new Inbox<LogEventArgs>();
                c.LogReceived += (s, e) => logs.Add(e);
                c.SetCredentialProvider(r => { throw new InvalidOperationException("vault locked"); });
                Assert.Throws<AuthCanceledException>(() => c.Smart.Idents.List());
                var line = logs.WaitFor(l => l.Message.Contains("vault locked"), "log line about the provider");
                Assert.AreEqual(LogLevel.Error, line.Level);
            }
        }

        [Test]
        public void WithoutProviderOrCredentialsTheReasonSaysSo()
        {
            using (var c = new SecucardClient(T.Sandbox.ConfigWithoutCredentials()))
            {
                var e = Assert.Catch<AuthException>(() => c.Smart.Idents.List());
                Assert.AreEqual("no_credentials", e.Reason);
            }
        }

        [Test]
        public void RemovingTheProviderTakesEffect()
        {
            using (var c = new SecucardClient(T.Sandbox.ConfigWithoutCredentials()))
            {
                int asked = 0;
                c.SetCredentialProvider(r => { asked++; return Creds(); });
                c.SetCredentialProvider(null);
                var e = Assert.Catch<AuthException>(() => c.Smart.Idents.List());
                Assert.AreEqual(0, asked, "the removed provider was asked");
                Assert.AreEqual("no_credentials", e.Reason);
            }
        }
    }

    [TestFixture]
    public class TokenStorageTests
    {
        sealed class MemoryStorage
        {
            public readonly Dictionary<string, byte[]> Values = new Dictionary<string, byte[]>();
            public int Gets, Puts, Deletes;
            public byte[] Get(string k) { lock (Values) { Gets++; byte[] v; return Values.TryGetValue(k, out v) ? v : null; } }
            public void Put(string k, byte[] v) { lock (Values) { Puts++; Values[k] = v; } }
            public void Delete(string k) { lock (Values) { Deletes++; Values.Remove(k); } }
            public void Install(SecucardClient c) { c.SetTokenStorage(Get, Put, Delete); }
        }

        const string CallbackStore = "\"store\":{\"type\":\"callback\"}";

        static void OpenWithApproval(SecucardClient c, Inbox<DeviceCodeEventArgs> codes)
        {
            var open = Task.Factory.StartNew(() => c.Open(), TaskCreationOptions.LongRunning);
            T.Sandbox.ApproveDevice(codes.WaitCount(1, "device code")[0].UserCode);
            T.Wait(open);
            Assert.AreEqual(TaskStatus.RanToCompletion, open.Status, open.Exception != null ? open.Exception.ToString() : "");
        }

        [Test]
        public void StoredTokenSkipsTheDeviceFlowNextTime()
        {
            var storage = new MemoryStorage();
            string cfg = T.Sandbox.DeviceConfig(CallbackStore);

            using (var first = new SecucardClient(cfg))
            {
                storage.Install(first);
                var codes = new Inbox<DeviceCodeEventArgs>();
                first.DeviceCodeIssued += (s, e) => codes.Add(e);
                OpenWithApproval(first, codes);
            }
            Assert.Greater(storage.Puts, 0, "the token was not stored through the delegates");
            Assert.Greater(storage.Values.Count, 0);
            foreach (var kv in storage.Values)
            {
                string asText = Encoding.UTF8.GetString(kv.Value);
                StringAssert.DoesNotContain(T.Sandbox.ClientSecret, asText, "stored value holds the client secret in clear");
                StringAssert.DoesNotContain("access_token", asText, "stored value is not encrypted");
            }

            // The next run of the till finds the token: no code to show.
            using (var second = new SecucardClient(cfg))
            {
                storage.Install(second);
                int codes = 0;
                second.DeviceCodeIssued += (s, e) => codes++;
                second.Open();
                Assert.AreEqual(0, codes);
                Assert.AreEqual("smi_1", T.Obj(second.Smart.Idents.Get("smi_1"))["id"]);

                second.ClearTokens();
                Assert.Greater(storage.Deletes, 0, "ClearTokens did not delete through the delegates");
            }
        }

        [Test]
        public void FailingStorageDoesNotStopTheTillButIsReported()
        {
            using (var c = new SecucardClient(T.Sandbox.Config(CallbackStore)))
            {
                var logs = new Inbox<LogEventArgs>();
                c.LogReceived += (s, e) => logs.Add(e);
                c.SetTokenStorage(k => { throw new System.IO.IOException("disk gone"); },
                                  (k, v) => { throw new System.IO.IOException("disk gone"); },
                                  k => { throw new System.IO.IOException("disk gone"); });
                // By design an unreadable or unwritable token store means "authenticate
                // again", never a till that cannot take payments.
                Assert.AreEqual("smi_1", T.Obj(c.Smart.Idents.Get("smi_1"))["id"]);
                logs.WaitFor(l => l.Level == LogLevel.Error && l.Message.Contains("disk gone"), "the delegate's failure in the log");

                // Deleting is different: a token the host asked to forget must not linger.
                var failure = Assert.Throws<StorageException>(() => c.ClearTokens());
                Assert.AreEqual("storage", failure.Type);
                Assert.AreEqual(10, failure.Status);
            }
        }

        [Test]
        public void StorageNeedsTheCallbackStoreType()
        {
            using (var c = new SecucardClient(T.Sandbox.Config()))
            {
                var e = Assert.Throws<InvalidArgumentException>(() => c.SetTokenStorage(k => null, (k, v) => { }, k => { }));
                Assert.AreEqual(1, e.Status);
                StringAssert.Contains("SetTokenStorage", e.Message);
            }
        }

        [Test]
        public void StorageMustBeSetBeforeAuthenticating()
        {
            using (var c = new SecucardClient(T.Sandbox.Config(CallbackStore)))
            {
                var storage = new MemoryStorage();
                storage.Install(c);
                c.Smart.Idents.List();
                Assert.Throws<InvalidArgumentException>(() => storage.Install(c));
            }
        }

        [Test]
        public void StorageDelegatesAreRequired()
        {
            using (var c = new SecucardClient(T.Sandbox.Config(CallbackStore)))
            {
                Assert.Throws<ArgumentNullException>(() => c.SetTokenStorage(null, (k, v) => { }, k => { }));
                Assert.Throws<ArgumentNullException>(() => c.SetTokenStorage(k => null, null, k => { }));
                Assert.Throws<ArgumentNullException>(() => c.SetTokenStorage(k => null, (k, v) => { }, null));
            }
        }
    }

    [TestFixture]
    public class LogTests
    {
        [Test]
        public void LogLinesReachTheDelegateWithoutSecrets()
        {
            using (var c = new SecucardClient(T.Sandbox.Config()))
            {
                var logs = new Inbox<LogEventArgs>();
                c.LogLevel = LogLevel.Trace;
                c.LogReceived += (s, e) => logs.Add(e);
                c.Smart.Idents.List();
                c.Smart.Transactions.Create(T.TransactionJson());
                logs.WaitCount(1, "log lines");
                c.LogLevel = LogLevel.Trace; // returns once every queued line was delivered
                foreach (var l in logs.Snapshot())
                {
                    StringAssert.DoesNotContain(T.Sandbox.ClientSecret, l.Message);
                    Assert.That(l.Level >= LogLevel.Error && l.Level <= LogLevel.Trace, "level " + l.Level);
                }
            }
        }

        [Test]
        public void RefusedSecretIsNotLogged()
        {
            string secret = "f00d" + Guid.NewGuid().ToString("N") + Guid.NewGuid().ToString("N").Substring(0, 28);
            string cfg = T.Sandbox.Config().Replace(T.Sandbox.ClientSecret, secret);
            using (var c = new SecucardClient(cfg))
            {
                var logs = new Inbox<LogEventArgs>();
                c.LogLevel = LogLevel.Trace;
                c.LogReceived += (s, e) => logs.Add(e);
                var ex = Assert.Throws<AuthDeniedException>(() => c.Smart.Idents.List());
                logs.WaitCount(1, "log lines");
                c.LogLevel = LogLevel.Trace; // returns once every queued line was delivered
                foreach (var l in logs.Snapshot()) StringAssert.DoesNotContain(secret, l.Message);
                StringAssert.DoesNotContain(secret, ex.Message);
                StringAssert.DoesNotContain(secret, ex.RawJson);
            }
        }

        [Test]
        public void LevelFiltersAndUnsubscribingStops()
        {
            using (var c = new SecucardClient(T.Sandbox.Config()))
            {
                // The library delivers log lines from a queue, after the call returns;
                // changing the level or unsubscribing waits until the queue is delivered.
                var lines = new Inbox<LogEventArgs>();
                EventHandler<LogEventArgs> h = (s, e) => lines.Add(e);
                c.LogLevel = LogLevel.Error;
                c.LogReceived += h;
                c.Smart.Idents.List(); // a successful call logs nothing at error level
                c.LogLevel = LogLevel.Trace;
                Assert.IsEmpty(lines.Snapshot().Where(l => l.Level > LogLevel.Error).ToList(), "lines above the chosen level");

                c.Smart.Idents.List();
                lines.WaitFor(l => l.Level > LogLevel.Error, "a line above error level at trace level");

                c.LogReceived -= h;
                int seen = lines.Snapshot().Count;
                c.Smart.Idents.List();
                c.LogReceived += (s, e) => { };
                c.LogLevel = LogLevel.Trace; // waits for anything queued
                Assert.AreEqual(seen, lines.Snapshot().Count, "lines arrived after unsubscribing");
            }
        }
    }
}
