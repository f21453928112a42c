// AsyncTests.cs - Task-returning calls over secucard_call_async, cancellation
// through CancellationToken, and use of one client from several threads.

using System;
using System.Collections.Generic;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using NUnit.Framework;

namespace Secucard.Connect.Tests
{
    [TestFixture]
    public class AsyncTests
    {
        SecucardClient client;

        [SetUp]
        public void NewClient()
        {
            client = new SecucardClient(T.Sandbox.Config());
            client.Smart.Idents.List(); // authenticated, so faults below hit only the API call
        }

        [TearDown]
        public void DisposeClient()
        {
            client.Dispose();
            T.Sandbox.ClearFaults();
        }

        [Test]
        public void AsyncCallsReturnTheAnswer()
        {
            Assert.AreEqual("smi_1", T.Obj(T.Await(client.Smart.Idents.GetAsync("smi_1")))["id"]);
            Assert.GreaterOrEqual(T.Data(T.Await(client.Smart.Idents.ListAsync())).Count, 3);
            Assert.AreEqual("smi_2", T.Obj(T.Await(client.CallAsync("{\"resource\":\"smart.idents\",\"op\":\"get\",\"id\":\"smi_2\"}")))["id"]);
        }

        [Test]
        public void AsyncTransactionLifecycle()
        {
            var tx = client.Smart.Transactions;
            string id = (string)T.Obj(T.Await(tx.CreateAsync(T.TransactionJson()))).Get("id");
            Assert.AreEqual("x", T.Obj(T.Await(tx.UpdateAsync(id, "{\"merchantRef\":\"x\"}")))["merchantRef"]);
            Assert.AreEqual("ok", T.Obj(T.Await(tx.StartAsync(id, "cash")))["status"]);
        }

        [Test]
        public void FailuresFaultTheTaskWithTheMappedException()
        {
            var e = T.Faulted<ApiException>(client.Smart.Transactions.GetAsync("STX_DOESNOTEXIST0000000000000000"));
            Assert.AreEqual(404, e.HttpStatus);
            var inv = T.Faulted<InvalidArgumentException>(client.CallAsync("{\"resource\":\"smart.idents\"}"));
            Assert.AreEqual("op", inv.Field);
        }

        [Test]
        public void TokenCancelEndsTheTaskCanceled()
        {
            T.Sandbox.AddFault("{\"path\":\"/smart/idents\",\"delay_ms\":10000}");
            using (var cts = new CancellationTokenSource())
            {
                var sw = System.Diagnostics.Stopwatch.StartNew();
                var task = client.Smart.Idents.ListAsync(null, cts.Token);
                cts.Cancel();
                T.Wait(task);
                Assert.IsTrue(task.IsCanceled, "status " + task.Status);
                Assert.Less(sw.Elapsed.TotalSeconds, 8, "the call was not canceled in the library");
                var ex = Assert.Throws<AggregateException>(() => task.Wait());
                Assert.IsInstanceOf<TaskCanceledException>(ex.InnerException);
            }
            // The client is fine afterwards.
            T.Sandbox.ClearFaults();
            Assert.AreEqual("smi_1", T.Obj(client.Smart.Idents.Get("smi_1"))["id"]);
        }

        [Test]
        public void CanceledTokenBeforeTheCallStartsNothing()
        {
            using (var cts = new CancellationTokenSource())
            {
                cts.Cancel();
                int before = T.Sandbox.Requests().Count;
                var task = client.Smart.Idents.ListAsync(null, cts.Token);
                Assert.IsTrue(task.IsCanceled);
                Assert.AreEqual(before, T.Sandbox.Requests().Count, "a request was sent for a canceled token");
            }
        }

        [Test]
        public void CancelAfterCompletionChangesNothing()
        {
            using (var cts = new CancellationTokenSource())
            {
                var task = client.Smart.Idents.GetAsync("smi_1", cts.Token);
                T.Wait(task);
                cts.Cancel();
                Assert.AreEqual(TaskStatus.RanToCompletion, task.Status);
                Assert.AreEqual("smi_1", T.Obj(task.Result)["id"]);
            }
        }

        [Test]
        public void ManyAsyncCallsEachCompleteOnce()
        {
            var tasks = Enumerable.Range(0, 60).Select(i => client.Smart.Idents.GetAsync("smi_" + (i % 3 + 1))).ToList();
            Assert.IsTrue(Task.WaitAll(tasks.ToArray<Task>(), T.Patience), "not all async calls completed");
            for (int i = 0; i < tasks.Count; i++)
                Assert.AreEqual("smi_" + (i % 3 + 1), T.Obj(tasks[i].Result)["id"]);
        }

        [Test]
        public void ContinuationsDoNotRunOnTheLibraryThread()
        {
            // A continuation that disposes the client would deadlock if it ran inline
            // on the library's completion thread; RunContinuationsAsynchronously prevents it.
            var c = new SecucardClient(T.Sandbox.Config());
            var done = c.Smart.Idents.GetAsync("smi_1").ContinueWith(t => { c.Dispose(); return t.Result; },
                                                                     TaskContinuationOptions.ExecuteSynchronously);
            Assert.AreEqual("smi_1", T.Obj(T.Await(done))["id"]);
            Assert.IsTrue(c.IsDisposed);
        }

        [Test]
        public void SeveralThreadsShareOneClient()
        {
            const int threads = 8, perThread = 10;
            var errors = new List<Exception>();
            int ok = 0;
            var workers = Enumerable.Range(0, threads).Select(n => new Thread(() =>
            {
                for (int i = 0; i < perThread; i++)
                {
                    try
                    {
                        string want = "smi_" + ((n + i) % 3 + 1);
                        string got = (string)T.Obj(i % 2 == 0 ? client.Smart.Idents.Get(want)
                                                              : T.Await(client.Smart.Idents.GetAsync(want)))["id"];
                        if (got == want) Interlocked.Increment(ref ok);
                        else lock (errors) errors.Add(new Exception("asked " + want + ", got " + got));
                        client.HandleEvent("{\"object\":\"event.pushes\",\"target\":\"general.notifications\",\"type\":\"display\",\"data\":null}");
                    }
                    catch (Exception e) { lock (errors) errors.Add(e); }
                }
            })).ToList();
            workers.ForEach(w => w.Start());
            workers.ForEach(w => Assert.IsTrue(w.Join(T.Patience), "a worker hung"));
            Assert.IsEmpty(errors, string.Join("\n", errors.Select(e => e.ToString())));
            Assert.AreEqual(threads * perThread, ok);
        }

        [Test]
        public void ConcurrentFirstCallsAuthenticateOnce()
        {
            // The token endpoint answers slowly, so all ten first calls surely overlap
            // while the token is being fetched; the till must still ask for one token.
            T.Sandbox.AddFault("{\"path\":\"/oauth/token\",\"delay_ms\":400,\"count\":-1}");
            using (var fresh = new SecucardClient(T.Sandbox.Config()))
            using (var start = new Barrier(10))
            {
                var tasks = Enumerable.Range(0, 10).Select(i => Task.Factory.StartNew(() =>
                {
                    start.SignalAndWait();
                    return fresh.Smart.Idents.Get("smi_1");
                }, TaskCreationOptions.LongRunning)).ToArray();
                Assert.IsTrue(Task.WaitAll(tasks, T.Patience), "not all first calls completed");
                Assert.AreEqual(1L, T.Obj(fresh.Stats())["token_requests"]);
            }
        }
    }
}
