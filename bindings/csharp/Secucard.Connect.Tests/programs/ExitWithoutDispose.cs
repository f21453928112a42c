// ExitWithoutDispose.cs - a program that returns from Main without disposing
// its client while an async call is in flight (LifecycleTests runs it). The
// process must end promptly: the finalizer that releases the client must not
// wait for callbacks.
//
//   SECUCARD_TEST_CONFIG=CONFIG_JSON mono ExitWithoutDispose.exe fresh|warm
//     fresh: no callback ran before the exit (the callback thread would have
//            to attach to a runtime that is shutting down)
//     warm:  one async call completed first (the callback thread is attached)
using System;
using Secucard.Connect;

static class ExitWithoutDispose
{
    static int Main(string[] args)
    {
        var client = new SecucardClient(Environment.GetEnvironmentVariable("SECUCARD_TEST_CONFIG"));
        if (args[0] == "warm") client.CallAsync("{\"resource\":\"smart.idents\",\"op\":\"list\"}").Wait();
        // held up by the test's delay fault on /smart/transactions
        var inFlight = client.CallAsync("{\"resource\":\"smart.transactions\",\"op\":\"list\"}");
        Console.WriteLine(inFlight.IsCompleted ? "call completed too early" : "main returns");
        Console.Out.Flush();
        return 0;
    }
}
