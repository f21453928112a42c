package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"
)

// A worker is one process hosting one variant: the raw and core Go workers
// (this binary with -worker), cbench (C), pybench.py, csbench.exe. Each
// builds its client once, warms up, prints "ready", then answers commands on
// stdin with one line on stdout:
//
//	calls N C  -> result calls=N errors=E wall_ns=W cpu_ns=U csw=S
//	rss N C    -> rss calls=N rss_kb=K
//
// Push workers instead print "event ID T_NS" for every pushed event, T_NS
// taken (CLOCK_MONOTONIC) on the first line of the host's callback.
// Closing stdin ends a worker.
type worker struct {
	name  string
	cmd   *exec.Cmd
	stdin io.WriteCloser
	lines chan string
	proxy *stompProxy // push workers only
}

func startWorker(name string, env []string, argv ...string) (*worker, error) {
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stderr = os.Stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	w := &worker{name: name, cmd: cmd, stdin: in, lines: make(chan string, 1024)}
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			w.lines <- sc.Text()
		}
		close(w.lines)
	}()
	if _, err := w.expect("ready", 90*time.Second); err != nil {
		w.stop()
		return nil, err
	}
	return w, nil
}

// expect waits for the next line starting with word.
func (w *worker) expect(word string, timeout time.Duration) (map[string]string, error) {
	deadline := time.After(timeout)
	for {
		select {
		case l, ok := <-w.lines:
			if !ok {
				return nil, fmt.Errorf("%s exited before %q (see its stderr above)", w.name, word)
			}
			f := strings.Fields(l)
			if len(f) == 0 || f[0] != word {
				continue
			}
			kv := map[string]string{}
			for i, p := range f[1:] {
				if k, v, ok := strings.Cut(p, "="); ok {
					kv[k] = v
				} else {
					kv[strconv.Itoa(i)] = p
				}
			}
			return kv, nil
		case <-deadline:
			return nil, fmt.Errorf("%s: no %q within %s", w.name, word, timeout)
		}
	}
}

func (w *worker) send(format string, args ...any) error {
	_, err := fmt.Fprintf(w.stdin, format+"\n", args...)
	return err
}

// calls runs n calls from callers threads in the worker.
func (w *worker) calls(n, callers int) (run, error) {
	if err := w.send("calls %d %d", n, callers); err != nil {
		return run{}, err
	}
	kv, err := w.expect("result", 5*time.Minute)
	if err != nil {
		return run{}, err
	}
	num := func(k string) int64 { v, _ := strconv.ParseInt(kv[k], 10, 64); return v }
	r := run{calls: int(num("calls")), errors: int(num("errors")), wall: time.Duration(num("wall_ns")),
		use: usage{cpuNS: num("cpu_ns"), csw: num("csw")}}
	if r.calls != n || r.wall <= 0 {
		return r, fmt.Errorf("%s: unexpected result %v", w.name, kv)
	}
	return r, nil
}

func (w *worker) stop() {
	_ = w.stdin.Close()
	done := make(chan struct{})
	go func() { _ = w.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		_ = w.cmd.Process.Kill()
		<-done
	}
}
