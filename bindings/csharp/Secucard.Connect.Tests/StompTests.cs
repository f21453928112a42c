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
        public void DisplayTextsArriveOverStompBeforeTheFinalChange()
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
                string done = client.Smart.Transactions.Start(id, "demo");
                Assert.AreEqual(id, T.Obj(done)["id"]);

                pushes.WaitFor(p => p.Target == "smart.transactions" && p.Type == "changed", "the final changed event");
                var all = pushes.Snapshot();
                var displays = all.Where(p => p.Target == "general.notifications" && p.Type == "display").ToList();
                Assert.GreaterOrEqual(displays.Count, 2, "display texts during the payment");
                foreach (var d in displays) StringAssert.IsMatch(".+", (string)T.Obj(d.DataJson)["text"]);
                int changed = all.FindIndex(p => p.Target == "smart.transactions");
                Assert.IsTrue(displays.All(d => all.IndexOf(d) < changed), "display texts come before the final change");
                StringAssert.Contains(id, all[changed].DataJson);
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
                Assert.AreEqual(id, T.Obj(client.Smart.Transactions.Start(id, "demo"))["id"], "payments use the healed connection");
                StringAssert.Contains("\"reconnects\":1", client.Stats());
            }
        }
    }
}
