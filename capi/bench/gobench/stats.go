package main

import (
	"math"
	"sort"
	"syscall"
	"time"
	"unsafe"
)

// monoNow is CLOCK_MONOTONIC in nanoseconds: the clock every worker (C,
// Python, Go) stamps with, so times taken in different processes compare.
func monoNow() int64 {
	var ts syscall.Timespec
	_, _, _ = syscall.RawSyscall(syscall.SYS_CLOCK_GETTIME, 1 /* CLOCK_MONOTONIC */, uintptr(unsafe.Pointer(&ts)), 0)
	return ts.Nano()
}

// usage is what getrusage(RUSAGE_SELF) says about a process: CPU time and
// context switches of all its threads.
type usage struct {
	cpuNS int64
	csw   int64 // voluntary + involuntary
}

func selfUsage() usage {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return usage{cpuNS: ru.Utime.Nano() + ru.Stime.Nano(), csw: ru.Nvcsw + ru.Nivcsw}
}

func (u usage) minus(v usage) usage { return usage{u.cpuNS - v.cpuNS, u.csw - v.csw} }

// run is one measured batch of one variant.
type run struct {
	calls, errors int
	wall          time.Duration
	use           usage
}

func (r run) perSecond() float64  { return float64(r.calls) / r.wall.Seconds() }
func (r run) cpuPerCall() float64 { return float64(r.use.cpuNS) / 1e3 / float64(r.calls) } // µs
func (r run) cswPerCall() float64 { return float64(r.use.csw) / float64(r.calls) }

// spread is the median and range of per-round values.
type spread struct{ med, min, max float64 }

func spreadOf(v []float64) spread {
	if len(v) == 0 {
		return spread{math.NaN(), math.NaN(), math.NaN()}
	}
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	m := s[len(s)/2]
	if len(s)%2 == 0 {
		m = (s[len(s)/2-1] + s[len(s)/2]) / 2
	}
	return spread{m, s[0], s[len(s)-1]}
}

// percentile of sorted-in-place durations (nearest rank).
func percentile(d []int64, p float64) int64 {
	if len(d) == 0 {
		return 0
	}
	sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
	i := int(math.Ceil(p*float64(len(d)))) - 1
	return d[max(0, min(i, len(d)-1))]
}
