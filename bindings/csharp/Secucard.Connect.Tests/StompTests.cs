// StompTests.cs - push events as a till receives them: over STOMP while a
// payment runs on the terminal, and across a dropped broker connection.

using System.Linq;
using NUnit.Framework;

namespace Secucard.Connect.Tests
{
    [TestFixture]
    public class StompTests
    {
        const string Basket = "{\"basket_info\":{\"sum\":250,\"currency\":\"EUR\"}," +
                              "\"basket\":{\"products\":[{\"id\":1,\"desc\":\"Coffee\",\"quantity\":1,\"priceOne\":250,\"tax\":7}]}}";

        [Test]
        public void DisplayTextsArriveOverStompDuringAPayment()
        {
            using (var client = new SecucardClient(T.Sandbox.StompConfig()))
            {
                var pushes = new Inbox<PushEventArgs>();
                var states = new Inbox<ConnectionStateEventArgs>();
                client.PushReceived += (s, e) => pushes.Add(e);
                client.ConnectionStateChanged += (s, e) => states.Add(e);
                client.Open();
                states.WaitFor(e => e.State == "connected", "the STOMP connection");

                string id = (string)T.Obj(client.Smart.Transactions.Create(Basket))["id"];
                string done = client.Smart.Transactions.Start(id, "cash"); // cash: always paid (demo declines at random)
                Assert.AreEqual(id, T.Obj(done)["id"]);

                // The real service pushes only display texts during a start
                // (spec 5.3); anything else comes through the admin API, after
                // everything the start pushed.
                T.Sandbox.Admin("POST", "/events", "{\"target\":\"smart.transactions\",\"type\":\"changed\"," +
                    "\"data\":[{\"object\":\"smart.transactions\",\"id\":\"" + id + "\"}]}");
                pushes.WaitFor(p => p.Target == "smart.transactions" && p.Type == "changed", "the changed event pushed by the admin API");
                var all = pushes.Snapshot();
                var during = all.Take(all.Count - 1).ToList();
                Assert.GreaterOrEqual(during.Count, 2, "display texts during the payment");
                foreach (var d in during)
                {
                    Assert.AreEqual("general.notifications/display", d.Target + "/" + d.Type, "a start pushes display texts only");
                    StringAssert.IsMatch(".+", (string)T.Obj(d.DataJson)["text"]);
                }
                StringAssert.Contains(id, all[all.Count - 1].DataJson);
            }
        }

        [Test]
        public void ADroppedBrokerConnectionIsReportedAndHealed()
        {
            using (var client = new SecucardClient(T.Sandbox.StompConfig()))
            {
                var states = new Inbox<ConnectionStateEventArgs>();
                client.ConnectionStateChanged += (s, e) => states.Add(e);
                client.Open();
                states.WaitFor(e => e.State == "connected", "the STOMP connection");

                StringAssert.Contains("\"dropped\"", T.Sandbox.Admin("POST", "/stomp/drop", "{}"));
                states.WaitFor(e => e.State == "disconnected", "the disconnected event");
                states.WaitFor(e => e.State == "reconnecting", "the reconnect attempt");
                states.WaitFor(e => states.Snapshot().Count(x => x.State == "connected") >= 2, "the reconnect");

                string id = (string)T.Obj(client.Smart.Transactions.Create(Basket))["id"];
                Assert.AreEqual(id, T.Obj(client.Smart.Transactions.Start(id, "cash"))["id"], "payments use the healed connection");
                StringAssert.Contains("\"reconnects\":1", client.Stats());
            }
        }
    }
}
