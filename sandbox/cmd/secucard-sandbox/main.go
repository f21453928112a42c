// Command secucard-sandbox runs the local secucard sandbox (package sandbox).
//
// When it is ready it prints exactly one JSON line on stdout with its URLs
// and credentials, then serves until SIGINT or SIGTERM. Everything else goes
// to stderr.
package main

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/libsecucard/libsecucard/sandbox"
	"github.com/libsecucard/libsecucard/sandbox/cardpointe"
)

// autoApprove is the -device-auto-approve value: a Go duration ("0s",
// "1.5s") or a whole number of seconds ("-1" = never, the default).
type autoApprove struct{ d time.Duration }

func (a *autoApprove) String() string {
	if a.d < 0 {
		return "-1"
	}
	return a.d.String()
}

func (a *autoApprove) Set(v string) error {
	if n, err := strconv.Atoi(strings.TrimSpace(v)); err == nil {
		a.d = time.Duration(n) * time.Second
		return nil
	}
	d, err := time.ParseDuration(strings.TrimSpace(v))
	if err != nil {
		return fmt.Errorf("want a duration such as 0s or 2s, or -1 for never")
	}
	a.d = d
	return nil
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("secucard-sandbox", flag.ContinueOnError)
	fs.SetOutput(stderr)
	httpAddr := fs.String("http", "127.0.0.1:0", "listen address of the REST, OAuth and admin server")
	httpTLS := fs.Bool("http-tls", false, "serve REST, OAuth and admin over TLS with a fresh self-signed certificate (needs -http-ca-out)")
	httpCAOut := fs.String("http-ca-out", "", "with -http-tls: write the certificate (PEM) to this file, for the client's tls.ca_file")
	stompAddr := fs.String("stomp", "", "listen address of the STOMP endpoint, e.g. 127.0.0.1:0 (default: no STOMP)")
	stompTLS := fs.Bool("stomp-tls", false, "serve STOMP over TLS with a fresh self-signed certificate (needs -stomp-ca-out)")
	stompCAOut := fs.String("stomp-ca-out", "", "with -stomp-tls: write the certificate (PEM) to this file, for the client's tls.ca_file")
	clientID := fs.String("client-id", "", "client id to accept (default: generated, 32 hex)")
	clientSecret := fs.String("client-secret", "", "client secret to accept (default: generated, 64 hex)")
	tokenTTL := fs.Duration("token-ttl", sandbox.DefaultTokenTTL, "access-token lifetime")
	approve := &autoApprove{d: -1}
	fs.Var(approve, "device-auto-approve", "approve device codes this long after issuing them (0s = at once; -1 = never)")
	deviceInterval := fs.Int("device-interval", sandbox.DefaultDeviceInterval, "device poll interval in seconds (0 = none: no slow_down)")
	startDelay := fs.Duration("start-delay", sandbox.DefaultStartDelay, "pause between the simulated terminal steps of a payment start")
	seed := fs.Int64("seed", 0, "random seed for ids and demo outcomes (0 = time-based)")
	verbose := fs.Bool("v", false, "log every request to stderr, as sent (CardPointe card numbers masked)")
	cpUser := fs.String("cardpointe-username", cardpointe.DefaultUsername, "HTTP Basic user of the CardPointe Gateway (default: the public UAT value)")
	cpPass := fs.String("cardpointe-password", cardpointe.DefaultPassword, "HTTP Basic password of the CardPointe Gateway (default: the public UAT value)")
	cpMID := fs.String("cardpointe-merchid", cardpointe.DefaultMerchID, "the CardPointe merchant ID those credentials may use (default: the public UAT MID)")
	cpDelay := fs.Duration("cardpointe-timeout-delay", 0, "how long a CardPointe auth on a timeout test card waits before answering PPS 62 \"Timed out\"")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "secucard-sandbox: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	if *cpDelay < 0 {
		fmt.Fprintln(stderr, "secucard-sandbox: -cardpointe-timeout-delay must not be negative")
		return 2
	}
	if *tokenTTL <= 0 {
		fmt.Fprintln(stderr, "secucard-sandbox: -token-ttl must be positive")
		return 2
	}
	switch {
	case *stompTLS && *stompAddr == "":
		fmt.Fprintln(stderr, "secucard-sandbox: -stomp-tls needs -stomp ADDR")
		return 2
	case *stompTLS && *stompCAOut == "":
		fmt.Fprintln(stderr, "secucard-sandbox: -stomp-tls needs -stomp-ca-out FILE (clients trust the certificate through tls.ca_file)")
		return 2
	case !*stompTLS && *stompCAOut != "":
		fmt.Fprintln(stderr, "secucard-sandbox: -stomp-ca-out is only used with -stomp-tls")
		return 2
	case *httpTLS && *httpCAOut == "":
		fmt.Fprintln(stderr, "secucard-sandbox: -http-tls needs -http-ca-out FILE (clients trust the certificate through tls.ca_file)")
		return 2
	case !*httpTLS && *httpCAOut != "":
		fmt.Fprintln(stderr, "secucard-sandbox: -http-ca-out is only used with -http-tls")
		return 2
	}

	opts := sandbox.Options{
		ClientID: *clientID, ClientSecret: *clientSecret, TokenTTL: *tokenTTL,
		DeviceAutoApprove: approve.d, DeviceInterval: *deviceInterval, StartDelay: *startDelay, Seed: *seed,
		CardPointe: cardpointe.Options{
			Username: *cpUser, Password: *cpPass, MerchID: *cpMID, TimeoutDelay: *cpDelay,
		},
	}
	// On the command line 0 means "none", not "default".
	if *startDelay <= 0 {
		opts.StartDelay = -1
	}
	if *deviceInterval <= 0 {
		opts.DeviceInterval = -1
	}
	if *verbose {
		opts.Log = log.New(stderr, "sandbox: ", log.LstdFlags|log.Lmicroseconds)
	}
	s, err := sandbox.New(opts)
	if err != nil {
		fmt.Fprintf(stderr, "secucard-sandbox: %v\n", err)
		return 2
	}
	// One certificate serves both TLS modes: a client needs one CA file.
	var cert *tls.Config
	fail := func(err error) int {
		fmt.Fprintf(stderr, "secucard-sandbox: %v\n", err)
		_ = s.Close()
		return 1
	}
	if *httpTLS || *stompTLS {
		c, _, err := sandbox.SelfSignedTLS()
		if err != nil {
			return fail(err)
		}
		cert = c
	}
	if *httpTLS {
		err = s.StartTLS(*httpAddr, cert)
	} else {
		err = s.Start(*httpAddr)
	}
	if err != nil {
		return fail(err)
	}
	if *stompAddr != "" {
		var conf *tls.Config
		if *stompTLS {
			conf = cert
		}
		if _, err := s.StartSTOMP(*stompAddr, conf); err != nil {
			return fail(err)
		}
	}
	// Public certificates, no key.
	e := s.Endpoints()
	for _, w := range []struct {
		file string
		pem  []byte
	}{{*httpCAOut, e.HTTPCA}, {*stompCAOut, e.STOMPCA}} {
		if w.file == "" {
			continue
		}
		if err := os.WriteFile(w.file, w.pem, 0o644); err != nil {
			return fail(err)
		}
	}

	// Catch the signals before announcing readiness: a supervisor that reads
	// the line and stops the sandbox at once must get a graceful exit, not a
	// process killed by the default SIGTERM action.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	// The one stdout line; its keys and their order are the contract.
	line, _ := json.Marshal(e)
	out := bufio.NewWriter(stdout)
	_, _ = out.Write(append(line, '\n'))
	if err := out.Flush(); err != nil {
		fmt.Fprintf(stderr, "secucard-sandbox: cannot write to stdout: %v\n", err)
		_ = s.Close()
		return 1
	}

	<-ctx.Done()
	if err := s.Close(); err != nil {
		fmt.Fprintf(stderr, "secucard-sandbox: %v\n", err)
		return 1
	}
	return 0
}
