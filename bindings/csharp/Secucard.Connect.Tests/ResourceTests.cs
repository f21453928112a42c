// ResourceTests.cs - the resource operations against the sandbox, and the
// errors a caller sees for each kind of failure.

using System;
using System.Collections.Generic;
using System.Linq;
using NUnit.Framework;

namespace Secucard.Connect.Tests
{
    [TestFixture]
    public class ResourceTests
    {
        SecucardClient client;

        [SetUp]
        public void NewClient() { client = new SecucardClient(T.Sandbox.Config()); }

        [TearDown]
        public void DisposeClient()
        {
            client.Dispose();
            T.Sandbox.ClearFaults();
        }

        [Test]
        public void ReportsTheNativeVersions()
        {
            Assert.AreEqual(1, SecucardClient.NativeAbiVersion);
            StringAssert.IsMatch(@"^\d+\.\d+\.\d+", SecucardClient.NativeVersion);
        }

        [Test]
        public void ListsTheSeededIdents()
        {
            var list = T.Obj(client.Smart.Idents.List());
            var ids = ((List<object>)list["data"]).Cast<Dictionary<string, object>>().Select(o => (string)o["id"]).ToList();
            CollectionAssert.IsSubsetOf(new[] { "smi_1", "smi_2", "smi_3" }, ids);
            Assert.GreaterOrEqual((long)list["count"], 3L);
        }

        [Test]
        public void ListHonoursTheQuery()
        {
            var data = T.Data(client.Smart.Idents.List("{\"count\":1,\"offset\":1}"));
            Assert.AreEqual(1, data.Count);
        }

        [Test]
        public void GetsOneIdent()
        {
            var o = T.Obj(client.Smart.Idents.Get("smi_1"));
            Assert.AreEqual("smi_1", o["id"]);
            Assert.AreEqual("card", o["type"]);
        }

        [Test]
        public void GenericCallTakesRequestJson()
        {
            var o = T.Obj(client.Call("{\"resource\":\"smart.idents\",\"op\":\"get\",\"id\":\"smi_2\"}"));
            Assert.AreEqual("smi_2", o["id"]);
            var same = T.Obj(client.Resource("smart.idents").Get("smi_2"));
            Assert.AreEqual(o["id"], same["id"]);
        }

        [Test]
        public void GenericResourceCreateGetUpdateDelete()
        {
            var contacts = client.Resource("general.contacts");
            var created = T.Obj(contacts.Create("{\"forename\":\"Erika\",\"surname\":\"Mustermann\"}"));
            string id = (string)created["id"];
            Assert.AreEqual("Mustermann", T.Obj(contacts.Get(id))["surname"]);
            Assert.AreEqual("Gabler", T.Obj(contacts.Update(id, "{\"surname\":\"Gabler\"}"))["surname"]);
            contacts.Delete(id);
            var e = Assert.Throws<ApiException>(() => contacts.Get(id));
            Assert.AreEqual(404, e.HttpStatus);
        }

        [Test]
        public void AsyncDeleteRemovesTheObject()
        {
            var contacts = client.Resource("general.contacts");
            string id = (string)T.Obj(T.Await(contacts.CreateAsync("{\"forename\":\"Max\"}")))["id"];
            T.Await(contacts.DeleteAsync(id));
            T.Faulted<ApiException>(contacts.GetAsync(id));
        }

        [Test]
        public void TransactionLifecycle()
        {
            var tx = client.Smart.Transactions;
            var created = T.Obj(tx.Create(T.TransactionJson("lifecycle")));
            string id = (string)created["id"];
            StringAssert.StartsWith("STX_", id);
            Assert.AreEqual("created", created["status"]);
            Assert.AreEqual("lifecycle", created["merchantRef"]);

            var updated = T.Obj(tx.Update(id, "{\"merchantRef\":\"lifecycle-2\"}"));
            Assert.AreEqual("lifecycle-2", updated["merchantRef"]);
            Assert.AreEqual("lifecycle-2", T.Obj(tx.Get(id))["merchantRef"]);

            var started = T.Obj(tx.Start(id, "cash")); // cash always succeeds; demo declines at random
            Assert.AreEqual(id, started["id"]);
            Assert.AreEqual("ok", started["status"]);
            var receipt = (List<object>)started["receipt"];
            Assert.Greater(receipt.Count, 0);

            string text = SecucardClient.FormatReceipt(tx.Get(id), 32);
            Assert.IsNotEmpty(text.Trim());
            foreach (var line in text.Split('\n'))
                Assert.LessOrEqual(line.Length, 32, "receipt line wider than the printer: " + line);
        }

        [Test]
        public void DemoStartIsPaidOrThrowsDeclinedWithTheTransaction()
        {
            // Issue 10.8a: a declined start used to return the failed transaction as a success.
            // The demo terminal declines a fifth of the payments: pay until both ends were seen.
            int paid = 0, declined = 0;
            for (int i = 0; i < 100 && (paid == 0 || declined == 0); i++)
            {
                string id = (string)T.Obj(client.Smart.Transactions.Create(T.TransactionJson())).Get("id");
                try
                {
                    var started = T.Obj(client.Smart.Transactions.Start(id, "demo"));
                    Assert.AreEqual("ok", started["status"], "a normal return is a payment");
                    Assert.Greater(((List<object>)started["receipt"]).Count, 0);
                    paid++;
                }
                catch (SecucardDeclinedException e)
                {
                    declined++;
                    Assert.IsInstanceOf<DeclinedException>(e, "the existing class stays the base");
                    Assert.AreEqual(Native.ErrDeclined, e.Status);
                    Assert.AreEqual("declined", e.Type);
                    Assert.AreEqual("failed", e.Reason);
                    Assert.AreEqual("rejected", e.Outcome);
                    Assert.IsFalse(e.Retryable);
                    Assert.AreEqual(id, e.ObjectId);
                    var tx = T.Obj(e.TransactionJson);
                    Assert.AreEqual(id, tx["id"]);
                    Assert.AreEqual("failed", tx["status"]);
                    Assert.Greater(((List<object>)Json.Parse(e.ReceiptJson)).Count, 0);
                    StringAssert.Contains("EUR", SecucardClient.FormatReceipt(e.TransactionJson, 32));
                }
            }
            Assert.Greater(paid, 0);
            Assert.Greater(declined, 0);
        }

        [Test]
        public void ExecuteIsTheGenericAction()
        {
            string id = (string)T.Obj(client.Smart.Transactions.Create(T.TransactionJson())).Get("id");
            var started = T.Obj(client.Resource("smart.transactions").Execute(id, "start", "cash"));
            Assert.AreEqual("ok", started["status"]);
        }

        [Test]
        public void CancelTrxReversesAPaymentByReceiptNumber()
        {
            var tx = client.Smart.Transactions;
            string id = (string)T.Obj(tx.Create(T.TransactionJson())).Get("id");
            string receiptNumber = (string)T.Obj(tx.Start(id, "cash"))["receipt_number"];
            Assert.IsNotNullOrEmpty(receiptNumber);
            var reversed = T.Obj(tx.CancelTrx(receiptNumber));
            Assert.AreEqual(id, reversed["id"]);
            Assert.AreEqual("canceled", reversed["status"]);
        }

        [Test]
        public void DiagnosisAndEndOfDayAnswerWithReceipts()
        {
            var tx = client.Smart.Transactions;
            foreach (var answer in new[] { tx.Diagnosis(), tx.EndOfDay() })
            {
                var o = T.Obj(answer);
                Assert.AreEqual("ok", o["status"]);
                Assert.IsNotEmpty(SecucardClient.FormatReceipt(answer, 40).Trim());
            }
        }

        [Test]
        public void StartingTwiceIsRefusedByTheApi()
        {
            var tx = client.Smart.Transactions;
            string id = (string)T.Obj(tx.Create(T.TransactionJson())).Get("id");
            tx.Start(id, "cash");
            var e = Assert.Throws<ApiException>(() => tx.Start(id, "cash"));
            Assert.AreNotEqual(0, e.HttpStatus);
            Assert.IsFalse(e.Retryable);
        }

        [Test]
        public void CancelCancelsACreatedTransaction()
        {
            string id = (string)T.Obj(client.Smart.Transactions.Create(T.TransactionJson())).Get("id");
            var canceled = T.Obj(client.Smart.Transactions.Cancel(id));
            StringAssert.StartsWith("cancel", (string)canceled["status"]);
        }

        [Test]
        public void NonAsciiTextSurvivesTheRoundTrip()
        {
            const string reference = "Gr\u00fc\u00dfe M\u00fcller \u20ac \U0001F37A \u65e5\u672c";
            var created = T.Obj(client.Smart.Transactions.Create(T.TransactionJson(reference)));
            Assert.AreEqual(reference, created["merchantRef"]);
            Assert.AreEqual(reference, T.Obj(client.Smart.Transactions.Get((string)created["id"]))["merchantRef"]);
        }

        [Test]
        public void FormatReceiptRendersLinesForTheWidth()
        {
            string lines = "[{\"type\":\"textline\",\"value\":{\"text\":\"Danke\",\"decoration\":[\"important\",\"align-center\"]}}," +
                           "{\"type\":\"separator\",\"value\":{}}," +
                           "{\"type\":\"name-value\",\"value\":{\"name\":\"Betrag\",\"value\":\"5,04 \u20ac\"}}]";
            string text = SecucardClient.FormatReceipt(lines, 24);
            var rows = text.TrimEnd('\n').Split('\n');
            Assert.AreEqual(3, rows.Length, text);
            StringAssert.Contains("DANKE", rows[0]);
            Assert.IsTrue(rows[2].StartsWith("Betrag") && rows[2].EndsWith("5,04 \u20ac"), rows[2]);
            Assert.AreEqual(24, rows[2].Length);
        }

        [Test]
        public void FormatReceiptRejectsABadWidth()
        {
            var e = Assert.Throws<InvalidArgumentException>(() => SecucardClient.FormatReceipt("[{\"type\":\"space\"}]", 5));
            Assert.AreEqual("invalid_argument", e.Type);
        }

        // ---- errors, one per kind the sandbox can produce ----

        [Test]
        public void UnknownConfigKeyIsNamed()
        {
            var e = Assert.Throws<InvalidArgumentException>(() => new SecucardClient(T.Sandbox.Config("\"colour\":\"blue\"")));
            Assert.AreEqual("colour", e.Field);
            Assert.AreEqual(1, e.Status);
        }

        [Test]
        public void ConfigIsNotJson()
        {
            Assert.Throws<InvalidArgumentException>(() => new SecucardClient("{not json"));
            Assert.Throws<ArgumentNullException>(() => new SecucardClient(null));
        }

        [Test]
        public void UnknownResourceIsNamed()
        {
            var e = Assert.Throws<InvalidArgumentException>(() => client.Resource("smart.transaktions").List());
            Assert.AreEqual("resource", e.Field);
            StringAssert.Contains("smart.transactions", e.Message); // the suggestion
        }

        [Test]
        public void BadRequestFieldIsNamed()
        {
            var e = Assert.Throws<InvalidArgumentException>(() => client.Call("{\"resource\":\"smart.idents\",\"op\":\"fetch\"}"));
            Assert.AreEqual("op", e.Field);
        }

        [Test]
        public void MissingObjectIsAnApiError()
        {
            var e = Assert.Throws<ApiException>(() => client.Smart.Transactions.Get("STX_DOESNOTEXIST0000000000000000"));
            Assert.AreEqual(404, e.HttpStatus);
            Assert.IsNotNullOrEmpty(e.Error);
            Assert.IsNotNullOrEmpty(e.SupportId);
            Assert.AreEqual("api", e.Type);
            Assert.AreEqual(4, e.Status);
            Assert.IsFalse(e.Retryable);
            StringAssert.Contains("\"support_id\"", e.RawJson);
        }

        [Test]
        public void WrongSecretIsDenied()
        {
            string cfg = T.Sandbox.Config().Replace(T.Sandbox.ClientSecret, new string('0', 64));
            using (var c = new SecucardClient(cfg))
            {
                var e = Assert.Throws<AuthDeniedException>(() => c.Smart.Idents.List());
                Assert.AreEqual("denied", e.Reason);
                StringAssert.DoesNotContain(new string('0', 64), e.RawJson);
            }
        }

        [Test]
        public void UnreachableServerIsANetworkError()
        {
            string cfg = "{\"environment\":\"sandbox\",\"sandbox_url\":\"http://127.0.0.1:9\",\"stomp\":{\"enabled\":false}," +
                         "\"credentials\":{\"client_id\":\"x\",\"client_secret\":\"y\"},\"retry\":{\"max_attempts\":1}}";
            using (var c = new SecucardClient(cfg))
            {
                var e = Assert.Throws<NetworkException>(() => c.Smart.Idents.List());
                Assert.AreEqual("network", e.Type);
            }
        }

        [Test]
        public void SlowAnswerIsATimeout()
        {
            client.Smart.Idents.List(); // authenticate first: only the API call is slow
            T.Sandbox.AddFault("{\"path\":\"/smart/idents\",\"delay_ms\":3000,\"count\":-1}");
            var e = Assert.Throws<SecucardTimeoutException>(() =>
                client.Call("{\"resource\":\"smart.idents\",\"op\":\"list\",\"timeout_ms\":300}"));
            Assert.AreEqual("timeout", e.Type);
        }

        [Test]
        public void ServerErrorAfterRetriesIsAnApiError()
        {
            client.Smart.Idents.List();
            T.Sandbox.AddFault("{\"path\":\"/smart/idents\",\"status\":503,\"count\":-1}");
            var e = Assert.Throws<ApiException>(() =>
                client.Call("{\"resource\":\"smart.idents\",\"op\":\"get\",\"id\":\"smi_1\"}"));
            Assert.AreEqual(503, e.HttpStatus);
            Assert.IsTrue(e.Retryable);
        }

        // ---- payment-safe repeats (issue 9) ----

        [Test]
        public void ATimedOutCreateRepeatedAsTheErrorSaysMakesOneObject()
        {
            client.Smart.Idents.List(); // authenticate first: only the create is slow
            const string reference = "cs-issue9-repeat";
            T.Sandbox.AddFault("{\"method\":\"POST\",\"path\":\"/smart/transactions\",\"delay_ms\":1500}");
            string request = "{\"resource\":\"smart.transactions\",\"op\":\"create\",\"timeout_ms\":300," +
                             "\"data\":{\"transactionRef\":\"" + reference + "\",\"basket_info\":{\"sum\":100,\"currency\":\"EUR\"}}";
            var e = Assert.Throws<SecucardTimeoutException>(() => client.Call(request + "}"));
            Assert.IsTrue(e.Retryable, "the idempotency key makes the repeat safe");
            Assert.AreEqual("unknown", e.Outcome);
            Assert.IsNotNullOrEmpty(e.IdempotencyKey);
            // Repeat exactly as the error says: the same request with its key.
            var again = T.Obj(client.Call(request.Replace("\"timeout_ms\":300", "\"timeout_ms\":10000") +
                                          ",\"idempotency_key\":" + Json.Quote(e.IdempotencyKey) + "}"));
            Assert.AreEqual(reference, again["transactionRef"]);
            var list = T.Obj(client.Call("{\"resource\":\"smart.transactions\",\"op\":\"list\",\"query\":{\"q\":\"transactionRef:" + reference + "\"}}"));
            Assert.AreEqual(1L, Convert.ToInt64(list["count"]), "one object, not two");
        }

        [Test]
        public void APaymentStartThatMayHaveRunIsNotRetryable()
        {
            string id = (string)T.Obj(client.Smart.Transactions.Create(T.TransactionJson())).Get("id");
            T.Sandbox.AddFault("{\"method\":\"POST\",\"path\":\"/smart/transactions/" + id + "/start\",\"status\":503}");
            var e = Assert.Throws<ApiException>(() => client.Smart.Transactions.Start(id, "demo"));
            Assert.IsFalse(e.Retryable);
            Assert.AreEqual("unknown", e.Outcome);
            Assert.AreEqual(id, e.ObjectId);
            Assert.IsNotNullOrEmpty(e.IdempotencyKey);
            int starts = 0;
            foreach (Dictionary<string, object> r in T.Sandbox.Requests())
                if (((string)r["path"]).EndsWith("/" + id + "/start/demo")) starts++;
            Assert.AreEqual(1, starts, "a payment start is never repeated by the library");
        }

        [Test]
        public void APaymentStartWhoseAnswerIsLostReturnsTheFinalTransaction()
        {
            // The sandbox runs the start, then closes the connection without the
            // answer. The library looks the transaction up once and returns its
            // final state. Cash: always paid (the demo terminal declines at random).
            string id = (string)T.Obj(client.Smart.Transactions.Create(T.TransactionJson())).Get("id");
            T.Sandbox.AddFault("{\"method\":\"POST\",\"path\":\"/smart/transactions/" + id + "/start\",\"drop\":\"after_execute\"}");
            var paid = T.Obj(client.Smart.Transactions.Start(id, "cash"));
            Assert.AreEqual(id, paid["id"]);
            Assert.AreEqual("ok", paid["status"]);
            Assert.Greater(((List<object>)paid["receipt"]).Count, 0, "the final transaction, with its receipt");
            var starts = T.Sandbox.Requests().Cast<Dictionary<string, object>>()
                          .Where(r => ((string)r["path"]).EndsWith("/" + id + "/start/cash")).ToList();
            Assert.AreEqual(1, starts.Count, "the start is never repeated");
            StringAssert.StartsWith("drop after_execute", (string)starts[0]["fault"], "its answer was lost");
        }

        [Test]
        public void RetryAfterIsReportedAlsoWhenNotWaitedFor()
        {
            client.Smart.Idents.List();
            T.Sandbox.AddFault("{\"path\":\"/smart/idents\",\"status\":429,\"retry_after\":120}");
            var e = Assert.Throws<ApiException>(() => client.Smart.Idents.Get("smi_1"));
            Assert.AreEqual(429, e.HttpStatus);
            Assert.AreEqual(120000L, e.RetryAfterMs);
            Assert.IsTrue(e.Retryable);
            Assert.AreEqual("rejected", e.Outcome);
        }

        [Test]
        public void StatsCountCalls()
        {
            client.Smart.Idents.List();
            Assert.Throws<ApiException>(() => client.Smart.Idents.Get("smi_404"));
            var s = T.Obj(client.Stats());
            var calls = (Dictionary<string, object>)s["calls"];
            Assert.AreEqual(1L, calls["ok"]);
            Assert.AreEqual(1L, calls["api"]);
        }
    }

    static class DictExtensions
    {
        public static object Get(this Dictionary<string, object> o, string key) { return o[key]; }
    }
}
