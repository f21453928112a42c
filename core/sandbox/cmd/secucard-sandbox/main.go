// Command secucard-sandbox runs the local secucard sandbox (core/sandbox).
//
// When it is ready it prints exactly one JSON line on stdout:
//
//	{"rest_url":...,"oauth_url":...,"stomp_addr":...,"admin_url":...,"client_id":...,"client_secret":...,"sandbox_url":...}
//
// and serves until SIGINT or SIGTERM, then shuts down and exits 0. Logs and
// notes go to stderr only.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/libsecucard/libsecucard/core/logging"
	"github.com/libsecucard/libsecucard/core/sandbox"
)

// ready is the one stdout line; field order is the documented contract.
type ready struct {
	RESTURL      string `json:"rest_url"`
	OAuthURL     string `json:"oauth_url"`
	STOMPAddr    string `json:"stomp_addr"`
	AdminURL     string `json:"admin_url"`
	ClientID     string `json:"client_id"`
	ClientSecret string `json:"client_secret"`
	SandboxURL   string `json:"sandbox_url"`
}

// autoApprove parses -device-auto-approve: -1 (or any negative) = off, 0s =
// immediately, else a duration.
type autoApprove struct{ d time.Duration }

func (a *autoApprove) String() string {
	if a == nil || a.d < 0 {
		return "-1"
	}
	return a.d.String()
}

func (a *autoApprove) Set(v string) error {
	if n, err := strconv.Atoi(v); err == nil {
		if n < 0 {
			a.d = -1
			return nil
		}
		a.d = time.Duration(n) * time.Second
		return nil
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		return fmt.Errorf("want a duration such as 0s or 5s, or -1 for off")
	}
	a.d = d
	return nil
}

// options maps the flag onto sandbox.Options, where zero means "never".
func (a *autoApprove) options() time.Duration {
	switch {
	case a.d < 0:
		return 0
	case a.d == 0:
		return time.Nanosecond
	}
	return a.d
}

func main() { os.Exit(run(os.Args[1:])) }

func run(args []string) int {
	fs := flag.NewFlagSet("secucard-sandbox", flag.ContinueOnError)
	httpAddr := fs.String("http", "127.0.0.1:0", "listen address of the REST, OAuth and admin API")
	stompAddr := fs.String("stomp", "", "listen address of the STOMP endpoint (not available yet)")
	clientID := fs.String("client-id", "", "client id to accept (default: generated, 32 hex)")
	clientSecret := fs.String("client-secret", "", "client secret to accept (default: generated, 64 hex)")
	tokenTTL := fs.Duration("token-ttl", 20*time.Minute, "access token lifetime")
	approve := &autoApprove{d: -1}
	fs.Var(approve, "device-auto-approve", "approve device codes this long after issue; -1 = never, 0s = immediately")
	interval := fs.Int("device-interval", 5, "device flow poll interval in seconds")
	startDelay := fs.Duration("start-delay", 150*time.Millisecond, "pause between simulated terminal steps of smart.transactions start")
	seed := fs.Int64("seed", 0, "random seed for ids and demo outcomes (0 = time-based)")
	verbose := fs.Bool("v", false, "log every request to stderr (redacted)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "secucard-sandbox: unexpected arguments: %v\n", fs.Args())
		return 2
	}
	if *tokenTTL <= 0 {
		fmt.Fprintln(os.Stderr, "secucard-sandbox: -token-ttl must be positive")
		return 2
	}
	if *startDelay == 0 {
		*startDelay = -1 // Options treat 0 as "default"; the flag's 0 means no pause
	}
	var logger *logging.Logger
	if *verbose {
		logger = logging.New(logging.SinkFunc(func(_ logging.Level, msg string) { fmt.Fprintln(os.Stderr, msg) }), logging.Info)
	}
	s, err := sandbox.New(sandbox.Options{
		ClientID: *clientID, ClientSecret: *clientSecret, TokenTTL: *tokenTTL,
		DeviceAutoApprove: approve.options(), DeviceInterval: *interval, StartDelay: *startDelay,
		Seed: *seed, Logger: logger,
	})
	if err != nil {
		fmt.Fprintf(os.Stderr, "secucard-sandbox: %v\n", err)
		return 2
	}
	if err := s.Start(*httpAddr); err != nil {
		fmt.Fprintf(os.Stderr, "secucard-sandbox: %v\n", err)
		return 1
	}
	if *stompAddr != "" {
		fmt.Fprintf(os.Stderr, "secucard-sandbox: note: the STOMP endpoint is not available yet; -stomp %s is ignored\n", *stompAddr)
	}

	stop := make(chan os.Signal, 1)
	signal.Notify(stop, os.Interrupt, syscall.SIGTERM)

	base := s.URL()
	line, _ := json.Marshal(ready{
		RESTURL: base + "/api/v2", OAuthURL: base + "/oauth/token", STOMPAddr: "", AdminURL: base + "/sandbox",
		ClientID: s.ClientID(), ClientSecret: s.ClientSecret(), SandboxURL: base,
	})
	if _, err := os.Stdout.Write(append(line, '\n')); err != nil {
		_ = s.Close()
		return 1
	}
	_ = os.Stdout.Sync() // a pipe reports EINVAL here; the write above is unbuffered anyway

	<-stop
	if err := s.Close(); err != nil {
		fmt.Fprintf(os.Stderr, "secucard-sandbox: shutdown: %v\n", err)
		return 1
	}
	return 0
}
