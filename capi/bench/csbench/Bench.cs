// Bench.cs - the C# worker of `make bench` (gobench starts it; see
// gobench/workers.go for the protocol): the C# binding's blocking
// SecucardClient.Call from N threads, the way a .NET till would call it.
//
// Environment: BENCH_CONFIG, BENCH_GET, BENCH_POST; libsecucard.so on
// LD_LIBRARY_PATH.
using System;
using System.Runtime.InteropServices;
using System.Threading;
using Secucard.Connect;

static class Bench
{
    [StructLayout(LayoutKind.Sequential)]
    struct RUsage
    {
        public long UtimeSec, UtimeUsec, StimeSec, StimeUsec;
        public long MaxRss, Ixrss, Idrss, Isrss, Minflt, Majflt, Nswap, Inblock, Oublock, Msgsnd, Msgrcv, Nsignals, Nvcsw, Nivcsw;
    }

    [DllImport("libc", SetLastError = true)]
    static extern int getrusage(int who, out RUsage usage);

    [DllImport("libc")]
    static extern int clock_gettime(int clock, out Timespec ts);

    [StructLayout(LayoutKind.Sequential)]
    struct Timespec { public long Sec, Nsec; }

    static long MonoNs()
    {
        Timespec ts;
        clock_gettime(1 /* CLOCK_MONOTONIC */, out ts);
        return ts.Sec * 1000000000L + ts.Nsec;
    }

    static void Usage(out long cpuNs, out long csw)
    {
        RUsage ru;
        getrusage(0 /* RUSAGE_SELF */, out ru);
        cpuNs = (ru.UtimeSec + ru.StimeSec) * 1000000000L + (ru.UtimeUsec + ru.StimeUsec) * 1000L;
        csw = ru.Nvcsw + ru.Nivcsw;
    }

    static SecucardClient client;
    static string[] requests;

    static int Calls(int n)
    {
        int bad = 0;
        for (int j = 0; j < n; j++)
        {
            try { client.Call(requests[j % 2]); }
            catch (SecucardException) { bad++; }
        }
        return bad;
    }

    static int Main()
    {
        client = new SecucardClient(Environment.GetEnvironmentVariable("BENCH_CONFIG"));
        requests = new[] { Environment.GetEnvironmentVariable("BENCH_GET"), Environment.GetEnvironmentVariable("BENCH_POST") };
        if (Calls(200) != 0) { Console.Error.WriteLine("csbench: warm-up calls failed"); return 1; }
        Console.WriteLine("ready");
        Console.Out.Flush();
        string line;
        while ((line = Console.In.ReadLine()) != null)
        {
            string[] w = line.Split(' ');
            if (w.Length != 3 || w[0] != "calls") { Console.Error.WriteLine("csbench: bad command " + line); return 1; }
            int n = int.Parse(w[1]), callers = int.Parse(w[2]);
            var threads = new Thread[callers];
            int errors = 0;
            long cpu0, csw0, cpu1, csw1;
            Usage(out cpu0, out csw0);
            long t0 = MonoNs();
            for (int i = 0; i < callers; i++)
            {
                int share = n / callers + (i < n % callers ? 1 : 0);
                threads[i] = new Thread(() => { int b = Calls(share); Interlocked.Add(ref errors, b); });
                threads[i].Start();
            }
            foreach (var t in threads) t.Join();
            long wall = MonoNs() - t0;
            Usage(out cpu1, out csw1);
            Console.WriteLine("result calls={0} errors={1} wall_ns={2} cpu_ns={3} csw={4}", n, errors, wall, cpu1 - cpu0, csw1 - csw0);
            Console.Out.Flush();
        }
        client.Dispose();
        return 0;
    }
}
