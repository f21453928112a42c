// EventTests.cs - push events through webhook input, their order, the raw
// EventReceived stream, and handlers that throw.

using System;
using System.Linq;
using NUnit.Framework;

namespace Secucard.Connect.Tests
{
    [TestFixture]
    public class EventTests
    {
        SecucardClient client;

        [SetUp]
        public void NewClient() { client = new SecucardClient(T.Sandbox.Config()); }

        [TearDown]
        public void DisposeClient() { client.Dispose(); }

        static string Webhook(string id, string type, string data, string obj = "event.pushes")
        {
            return "{\"object\":\"" + obj + "\",\"id\":\"" + id + "\",\"created\":\"2026-11-23T10:00:00+01:00\"," +
                   "\"target\":\"general.notifications\",\"type\":\"" + type + "\",\"data\":" + data + "}";
        }

        [Test]
        public void WebhookBodyIsRaisedAsPush()
        {
            var pushes = new Inbox<PushEventArgs>();
            client.PushReceived += (s, e) => pushes.Add(e);
            const string data = "{\"text\":\"Bitte Karte einstecken \u2013 5,04 \u20ac\",\"amount\":504}";
            client.HandleEvent(Webhook("EPS_1", "display", data));

            var p = pushes.WaitCount(1, "push")[0];
            Assert.AreEqual("EPS_1", p.Id);
            Assert.AreEqual("general.notifications", p.Target);
            Assert.AreEqual("display", p.Type);
            Assert.AreEqual("2026-11-23T10:00:00+01:00", p.Created);
            var d = T.Obj(p.DataJson);
            Assert.AreEqual("Bitte Karte einstecken \u2013 5,04 \u20ac", d["text"]);
            Assert.AreEqual(504L, d["amount"]);
            Assert.AreEqual("push", T.Obj(p.Json)["kind"]);
        }

        [Test]
        public void StompSpellingOfTheObjectIsAccepted()
        {
            var pushes = new Inbox<PushEventArgs>();
            client.PushReceived += (s, e) => pushes.Add(e);
            client.HandleEvent(Webhook("EPS_2", "changed", "{\"object\":\"smart.transactions\",\"id\":\"STX_1\"}", "event.pushs"));
            Assert.AreEqual("changed", pushes.WaitCount(1, "push")[0].Type);
        }

        [Test]
        public void BadWebhookBodyNamesTheField()
        {
            var e = Assert.Throws<InvalidArgumentException>(() => client.HandleEvent("{\"object\":\"event.pushes\",\"type\":\"display\"}"));
            Assert.AreEqual("target", e.Field);
            Assert.Throws<InvalidArgumentException>(() => client.HandleEvent("not json"));
            Assert.Throws<ArgumentNullException>(() => client.HandleEvent(null));
        }

        [Test]
        public void EventsArriveInOrder()
        {
            var pushes = new Inbox<PushEventArgs>();
            client.PushReceived += (s, e) => pushes.Add(e);
            for (int i = 0; i < 50; i++) client.HandleEvent(Webhook("EPS_" + i, "display", "{\"n\":" + i + "}"));
            var got = pushes.WaitCount(50, "pushes");
            CollectionAssert.AreEqual(Enumerable.Range(0, 50).Select(i => "EPS_" + i).ToList(), got.Select(p => p.Id).ToList());
        }

        [Test]
        public void EventReceivedSeesEveryEventRaw()
        {
            var all = new Inbox<SecucardEventArgs>();
            client.EventReceived += (s, e) => all.Add(e);
            client.HandleEvent(Webhook("EPS_9", "display", "null"));
            var ev = all.WaitFor(e => e.Kind == "push", "raw push");
            StringAssert.Contains("EPS_9", ev.Json);
        }

        [Test]
        public void AThrowingHandlerDoesNotStopDeliveryAndIsLogged()
        {
            var logs = new Inbox<LogEventArgs>();
            var pushes = new Inbox<PushEventArgs>();
            client.LogReceived += (s, e) => logs.Add(e);
            client.PushReceived += (s, e) => { throw new InvalidOperationException("handler bug 42"); };
            client.PushReceived += (s, e) => pushes.Add(e); // a later subscriber still gets the event

            client.HandleEvent(Webhook("EPS_A", "display", "{}"));
            client.HandleEvent(Webhook("EPS_B", "display", "{}"));
            var got = pushes.WaitCount(2, "pushes after a throwing handler");
            Assert.AreEqual("EPS_B", got[1].Id);

            var line = logs.WaitFor(l => l.Message.Contains("handler bug 42"), "log line about the handler");
            Assert.AreEqual(LogLevel.Error, line.Level);
            StringAssert.Contains("PushReceived", line.Message);

            Assert.AreEqual("smi_1", T.Obj(client.Smart.Idents.Get("smi_1"))["id"]); // the client is unharmed
        }

        [Test]
        public void HandlersMayCallTheClient()
        {
            var answers = new Inbox<string>();
            client.PushReceived += (s, e) => answers.Add((string)T.Obj(client.Smart.Idents.Get("smi_3"))["id"]);
            client.HandleEvent(Webhook("EPS_C", "display", "{}"));
            Assert.AreEqual("smi_3", answers.WaitCount(1, "call from handler")[0]);
        }
    }
}
