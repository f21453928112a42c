// CardPointeTests.cs - client.CardPointe against the sandbox's CardPointe
// Gateway: every operation, declines versus errors versus temporary declines,
// amounts, the recovery of a lost auth, cancel, and no card data in any log
// line or error. The fixture has a sandbox of its own: its faults hold
// requests back, which must not show in the shared sandbox's request log.

using System;
using System.Collections.Generic;
using System.Linq;
using System.Text;
using System.Text.RegularExpressions;
using System.Threading;
using NUnit.Framework;

namespace Secucard.Connect.Tests
{
    [TestFixture]
    public class CardPointeTests
    {
        const string Pan = "4111111111111111";
        const string Token = "9418594164541111"; // CardSecure's recorded token of Pan
        const string Cvv = "7391";
        const string Expiry = "0931";

        Sandbox sandbox;
        SecucardClient client;
        readonly StringBuilder emitted = new StringBuilder(); // log lines and error JSON of the whole fixture

        [TestFixtureSetUp]
        public void StartSandbox() { sandbox = Sandbox.Start(); }

        [TestFixtureTearDown]
        public void StopSandbox()
        {
            if (sandbox != null) sandbox.Dispose();
        }

        [SetUp]
        public void NewClient() { client = NewClient(null); }

        [TearDown]
        public void DisposeClient()
        {
            client.Dispose();
            sandbox.ClearFaults();
        }

        // The sandbox's Gateway answers at once, not within the real one's 32 s: a
        // short answer window keeps the recovery of a lost auth quick.
        SecucardClient NewClient(string password, int gatewayMs = 500)
        {
            string section = sandbox.CardPointeSection(password);
            section = section.Substring(0, section.Length - 1) + ",\"timeouts\":{\"gateway_ms\":" + gatewayMs + "}}";
            var c = new SecucardClient(sandbox.Config(section + ",\"retry\":{\"initial_backoff_ms\":1,\"max_backoff_ms\":5}"));
            c.LogLevel = LogLevel.Trace;
            c.LogReceived += (s, e) => { lock (emitted) emitted.AppendLine(e.Message); };
            return c;
        }

        TException Throws<TException>(Action a) where TException : SecucardException
        {
            var e = Assert.Catch<TException>(() => a()); // the type or a subclass of it
            lock (emitted) emitted.AppendLine(e.RawJson).AppendLine(e.Message);
            return e;
        }

        static long Minor(Dictionary<string, object> o, string key) { return (long)o[key]; }

        int Approvals(string orderId, SecucardClient c = null)
        {
            string json;
            try { json = (c ?? client).CardPointe.InquireByOrderId(orderId); }
            catch (ApiException e)
            {
                Assert.AreEqual("29", e.RespCode);
                return 0;
            }
            var v = Json.Parse(json);
            var recs = v is List<object> ? ((List<object>)v).Cast<Dictionary<string, object>>().ToList()
                                         : new List<Dictionary<string, object>> { (Dictionary<string, object>)v };
            return recs.Count(r => (string)r["respstat"] == "A" && (!r.ContainsKey("setlstat") || (string)r["setlstat"] != "Voided"));
        }

        [Test]
        public void EveryOperation()
        {
            var cp = client.CardPointe;
            var test = T.Obj(cp.TestCredentials());
            Assert.AreEqual(true, test["valid"]);
            Assert.AreEqual(Token, T.Obj(cp.Tokenize(Pan, Expiry, Cvv))["token"]);

            var sale = T.Obj(T.Await(cp.AuthAsync(1999, Token, Expiry, capture: true)));
            Assert.AreEqual("A", sale["respstat"]);
            Assert.AreEqual("19.99", sale["amount"]);
            Assert.AreEqual(1999L, Minor(sale, "amount_minor"));
            Assert.AreEqual(false, sale["partial"]);
            StringAssert.StartsWith("LSC", (string)sale["orderid"]);
            string retref = (string)sale["retref"];
            Assert.AreEqual("Queued for Capture", T.Obj(T.Await(cp.InquireAsync(retref)))["setlstat"]);
            Assert.AreEqual(retref, T.Obj(cp.InquireByOrderId((string)sale["orderid"]))["retref"]);
            Assert.AreEqual("REVERS", T.Obj(T.Await(cp.VoidAsync(retref)))["authcode"]);

            var a = T.Obj(cp.Auth(500, Token, Expiry, orderId: "CS-ORDER-1"));
            var cap = T.Obj(T.Await(cp.CaptureAsync((string)a["retref"], 400)));
            Assert.AreEqual(400L, Minor(cap, "amount_minor"));
            cp.Auth(700, Token, Expiry, orderId: "CS-ORDER-2");
            Assert.AreEqual("A", T.Obj(T.Await(cp.VoidByOrderIdAsync("CS-ORDER-2")))["respstat"]);

            var sold = T.Obj(cp.Auth(2500, Token, Expiry, capture: true));
            var notSettled = T.Faulted<SecucardDeclinedException>(cp.RefundAsync((string)sold["retref"]));
            Assert.AreEqual("28", notSettled.RespCode);
            sandbox.Admin("POST", "/cardpointe/settle", "{}");
            var refund = T.Obj(T.Await(cp.RefundAsync((string)sold["retref"], 1000)));
            Assert.AreEqual(1000L, Minor(refund, "amount_minor"));
            Assert.AreEqual("02", T.Obj(T.Await(cp.SigCapAsync((string)sold["retref"], "H4sIAAAAAAAA")))["respcode"]);

            string today = DateTime.UtcNow.ToString("MMdd");
            var batches = (List<object>)Json.Parse(T.Await(cp.SettleStatAsync(today)));
            Assert.IsNotEmpty(batches);
            var batch = (Dictionary<string, object>)batches[0];
            Assert.IsTrue(batch.ContainsKey("chargetotal_minor"));
            Assert.AreEqual(1, ((List<object>)Json.Parse(cp.SettleStat(batchId: (string)batch["batchid"]))).Count);
            Assert.IsNotEmpty((List<object>)T.Obj(T.Await(cp.FundingAsync(DateTime.UtcNow.ToString("yyyyMMdd"))))["txns"]);

            var p = T.Obj(T.Await(cp.ProfileCreateAsync("{\"account\":\"" + Pan + "\",\"expiry\":\"" + Expiry + "\",\"name\":\"Erika Mustermann\"}")));
            string profileId = (string)p["profileid"], acctId = (string)p["acctid"];
            Assert.AreEqual("Profile Saved", T.Obj(cp.ProfileUpdate("{\"profile\":\"" + profileId + "/" + acctId + "\",\"postal\":\"19406\"}"))["resptext"]);
            var accounts = (List<object>)Json.Parse(T.Await(cp.ProfileGetAsync(profileId)));
            Assert.AreEqual("19406", ((Dictionary<string, object>)accounts[0])["postal"]);
            Assert.AreEqual("A", T.Obj(cp.Auth("{\"profile\":\"" + profileId + "/" + acctId + "\",\"amount\":300}"))["respstat"]);
            Assert.AreEqual("08", T.Obj(T.Await(cp.ProfileDeleteAsync(profileId)))["respcode"]);
            Assert.AreEqual("96", Throws<ApiException>(() => cp.ProfileGet(profileId)).RespCode);

            Assert.IsTrue(T.Obj(cp.Auth("{\"account\":\"5454545454545454\",\"expiry\":\"" + Expiry + "\",\"amount\":100,\"profile\":true}")).ContainsKey("profileid"));
            Assert.AreEqual("0.00", T.Obj(cp.Auth(0, Token, Expiry))["amount"]);
            Assert.AreEqual(-1500L, Minor(T.Obj(cp.Auth(-1500, Token, Expiry, capture: true)), "amount_minor"));
            Assert.AreEqual(true, T.Obj(T.Await(cp.BinAsync(Token)))["success"]);
            Assert.AreEqual(sandbox.CardPointeMerchId, T.Obj(T.Await(cp.InquireMerchantAsync()))["merchid"]);
            // the secucard side of the same client
            StringAssert.Contains("\"count\"", client.Call("{\"resource\":\"smart.idents\",\"op\":\"list\"}"));
        }

        [TestCase(1L, "0.01")]
        [TestCase(99L, "0.99")]
        [TestCase(100L, "1.00")]
        [TestCase(123456789L, "1234567.89")]
        public void AmountsRoundTrip(long minor, string text)
        {
            var a = T.Obj(client.CardPointe.Auth(minor, Token, Expiry, capture: true));
            Assert.AreEqual(minor, Minor(a, "amount_minor"));
            Assert.AreEqual(minor, Minor(a, "requested_minor"));
            Assert.AreEqual(text, a["amount"]);
            Assert.AreEqual(text, T.Obj(client.CardPointe.InquireByOrderId((string)a["orderid"]))["amount"]);
        }

        [Test]
        public void DeclineCarriesTheGatewayFields()
        {
            var t = client.CardPointe.AuthAsync("{\"account\":\"4387751111111038\",\"expiry\":\"" + Expiry + "\",\"amount\":1000," +
                                                "\"postal\":\"19406\",\"cvv2\":\"112\",\"orderid\":\"CS-DECL-1\"}");
            var e = T.Faulted<SecucardDeclinedException>(t);
            Assert.IsInstanceOf<DeclinedException>(e, "existing DeclinedException handlers still catch it");
            Assert.AreEqual(5, e.Status);
            Assert.AreEqual("C", e.RespStat);
            Assert.AreEqual("05", e.RespCode);
            Assert.AreEqual("Do not honor", e.RespText);
            Assert.AreEqual("FNOR", e.RespProc);
            Assert.AreEqual(12, e.Retref.Length);
            Assert.AreEqual("Y", e.AvsResp);
            Assert.AreEqual("M", e.CvvResp);
            Assert.AreEqual("CS-DECL-1", e.OrderId);
            Assert.IsFalse(e.Retryable);
            Assert.IsFalse(e.Temporary);
            Assert.AreEqual("rejected", e.Outcome);
            lock (emitted) emitted.AppendLine(e.RawJson);
        }

        [Test]
        public void PartialApprovalIsASuccess()
        {
            var a = T.Obj(client.CardPointe.Auth(750, "4387750101010101", Expiry));
            Assert.AreEqual(true, a["partial"]);
            Assert.AreEqual(500L, Minor(a, "amount_minor"));
        }

        [Test]
        public void TemporaryDeclineIsRetryable()
        {
            var e = T.Faulted<SecucardDeclinedException>(client.CardPointe.AuthAsync(100, "4999006200620062", Expiry));
            Assert.IsTrue(e.Temporary);
            Assert.AreEqual("B", e.RespStat);
            Assert.AreEqual("62", e.RespCode);
            Assert.IsTrue(e.Retryable);
            Assert.AreEqual("rejected", e.Outcome);
        }

        [Test]
        public void ErrorsThatAreNotDeclines()
        {
            Assert.AreEqual("29", Throws<ApiException>(() => client.CardPointe.Inquire("999999999999")).RespCode);
            var bad = Throws<InvalidArgumentException>(() => client.CardPointe.Auth("{\"Amount\":100,\"account\":\"" + Token + "\"}"));
            Assert.AreEqual("data.Amount", bad.Field);
            Assert.AreEqual("data.amount", Throws<InvalidArgumentException>(() => client.CardPointe.Auth("{\"amount\":19.99,\"account\":\"" + Token + "\"}")).Field);
            using (var wrong = NewClient("not-the-password"))
            {
                var denied = Throws<AuthDeniedException>(() => wrong.CardPointe.InquireMerchant());
                StringAssert.DoesNotContain("not-the-password", denied.RawJson);
            }
            using (var plain = new SecucardClient(sandbox.Config()))
                Assert.AreEqual("system", Throws<InvalidArgumentException>(() => plain.CardPointe.InquireMerchant()).Field);
        }

        [Test]
        public void LostAuthIsRecoveredNeverChargedTwice()
        {
            sandbox.AddFault("{\"path\":\"/cardconnect/rest/auth\",\"drop\":\"before_read\"}");
            Assert.AreEqual("A", T.Obj(client.CardPointe.Auth(1234, Token, Expiry, orderId: "CS-DROP-1"))["respstat"]);
            Assert.AreEqual(1, Approvals("CS-DROP-1"));

            sandbox.AddFault("{\"path\":\"/cardconnect/rest/auth\",\"drop\":\"after_execute\"}");
            var lost = T.Obj(client.CardPointe.Auth(1234, Token, Expiry, orderId: "CS-LOST-1"));
            Assert.AreEqual("A", lost["respstat"]);
            Assert.AreEqual(true, lost["recovered"], "the Gateway approved, the answer was lost: the inquiry's record");
            Assert.AreEqual(1, Approvals("CS-LOST-1"));

            // Held past the deadline before the Gateway recorded it: "Txn not found"
            // proves nothing inside the Gateway's answer window; after it, the
            // inquiry finds the held auth.
            using (var patient = NewClient(null, 5000))
            {
                sandbox.AddFault("{\"path\":\"/cardconnect/rest/auth\",\"delay_ms\":1500}");
                var late = T.Obj(patient.CardPointe.Call("auth", "{\"account\":\"" + Token + "\",\"expiry\":\"" + Expiry + "\",\"amount\":1234,\"orderid\":\"CS-LATE-1\"}", 300));
                Assert.AreEqual("A", late["respstat"]);
                Assert.AreEqual(true, late["recovered"]);
                Assert.AreEqual(1, Approvals("CS-LATE-1", patient));
            }

            // The Gateway read the auth and ran nothing, the inquiry unanswered as well.
            sandbox.AddFault("{\"path\":\"/cardconnect/rest/auth\",\"drop\":\"after_read\"}");
            sandbox.AddFault("{\"path\":\"/cardconnect/rest/inquireByOrderid\",\"status\":503,\"count\":-1}");
            var e = Throws<SecucardException>(() => client.CardPointe.Auth(1234, Token, Expiry, orderId: "CS-GONE-1"));
            Assert.AreEqual("unknown", e.Outcome);
            Assert.IsFalse(e.Retryable);
            Assert.AreEqual("CS-GONE-1", e.OrderId);
            sandbox.ClearFaults();
            Assert.AreEqual(0, Approvals("CS-GONE-1"));
        }

        [Test]
        public void CanceledAuthEndsCanceled()
        {
            sandbox.AddFault("{\"path\":\"/cardconnect/rest/auth\",\"delay_ms\":60000}");
            using (var cts = new CancellationTokenSource())
            {
                var t = client.CardPointe.AuthAsync(100, Token, Expiry, orderId: "CS-CANCEL-1", cancellationToken: cts.Token);
                cts.Cancel();
                T.Wait(t);
                Assert.IsTrue(t.IsCanceled, "status " + t.Status);
            }
        }

        [Test]
        public void NoCardDataInLogsOrErrors()
        {
            var cp = client.CardPointe;
            cp.Tokenize(Pan, Expiry, Cvv);
            cp.Auth("{\"account\":\"" + Pan + "\",\"expiry\":\"" + Expiry + "\",\"cvv2\":\"" + Cvv + "\",\"amount\":100,\"capture\":true}");
            Throws<SecucardDeclinedException>(() => cp.Auth("{\"account\":\"4387751111111038\",\"expiry\":\"" + Expiry + "\",\"cvv2\":\"" + Cvv + "\",\"amount\":100}"));
            Throws<SecucardDeclinedException>(() => cp.Auth("{\"account\":\"4111111111111112\",\"expiry\":\"" + Expiry + "\",\"cvv2\":\"" + Cvv + "\",\"amount\":100}"));
            Throws<SecucardException>(() => cp.Auth("{\"track\":\"%B4788250000121443^MUSTERMANN/ERIKA^31091010000?\",\"amount\":100}"));
            Throws<InvalidArgumentException>(() => cp.Auth("{\"account\":\"" + Pan + "\",\"cvv2\":\"" + Cvv + "\",\"amount\":\"1.00\"}"));
            client.Dispose(); // every log line delivered
            string all;
            lock (emitted) all = emitted.ToString();
            StringAssert.Contains("request body", all, "trace lines were delivered");
            foreach (var secret in new[] { Pan, "4387751111111038", "4111111111111112", "4788250000121443", "MUSTERMANN", sandbox.CardPointePassword })
                StringAssert.DoesNotContain(secret, all);
            foreach (var shortSecret in new[] { Cvv, Expiry })
                Assert.IsFalse(Standalone(shortSecret).IsMatch(all), shortSecret + " was emitted");
        }

        // A short secret (CVV, expiry) where a leak would put it: a value of
        // its own, not four digits inside a random retref, token or orderid.
        static Regex Standalone(string secret) =>
            new Regex("(?<![0-9A-Za-z])" + Regex.Escape(secret) + "(?![0-9A-Za-z])");

        [Test]
        public void StandaloneFindsALeakNotAnId()
        {
            foreach (var leak in new[] { "{\"cvv2\":\"7391\"}", "cvv2=7391&x", "7391", "expiry 7391." })
                Assert.IsTrue(Standalone("7391").IsMatch(leak), leak);
            foreach (var id in new[] { "\"retref\":\"173910000012\"", "\"orderid\":\"LSC7391ABC\"", "\"token\":\"9417391111111111\"" })
                Assert.IsFalse(Standalone("7391").IsMatch(id), id);
        }
    }
}
