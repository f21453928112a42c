// Package sandbox owns the local, in-memory, stateful stand-in for the
// secucard services: the OAuth token endpoint, the REST API under /api/v2 for
// every resource of its table, STOMP, smart.transactions with simulated
// terminal steps and push events, fault injection, and an admin API under
// /sandbox. Every test tier, the examples and the bindings run against it;
// cmd/secucard-sandbox ships it as a program.
//
// It is an oracle: it imports nothing from the client (core/), and takes its
// truth from the wire spec (secucard-wire.md). Where the real server's
// behaviour is unknown, the sandbox chooses the tolerant answer and says so
// in a comment; the README section "Sandbox" lists what it does not
// reproduce.
//
// The files, by job:
//
//	server.go                   lifecycle, limits, the jobs on the HTTP listener (areas)
//	oauth.go                    OAuth: grants, tokens, device codes
//	rest.go, dispatch.go        REST onto one Dispatch, which STOMP uses too; generic CRUD
//	list.go, query/             lists; the q language
//	transactions.go, idents.go  the POS core's behaviour beyond CRUD
//	stomp.go, stomp_frame.go,   STOMP: connections, bounded frames, destinations
//	stomp_route.go
//	faults.go, admin.go         fault injection and request records; the admin API
//	events.go                   the push hub
//	seed.go, catalog/           seed data; the resource table (data from the spec)
//	json.go, envelope.go        the server's JSON style and error envelopes
//	tls.go                      self-signed certificates for HTTPS and STOMP over TLS
package sandbox

import (
	"context"
	crand "crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log"
	"math/rand/v2"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/libsecucard/libsecucard/sandbox/cardpointe"
	"github.com/libsecucard/libsecucard/sandbox/query"
)

// Options configure a Server. Zero values mean the defaults below, except
// DeviceAutoApprove: its zero value approves device codes at once (use -1,
// the CLI default, for manual approval).
type Options struct {
	ClientID, ClientSecret string        // generated when empty: 32 lowercase hex / 64 lowercase hex
	TokenTTL               time.Duration // access-token lifetime, default 20m (expires_in on the wire, whole seconds, min 1)
	RefreshTokenTTL        time.Duration // default 30 days
	DeviceCodeTTL          time.Duration // device code expires_in, default 1200s
	// DeviceInterval is the device poll interval in whole seconds on the wire,
	// default 5. Negative: 0 on the wire and no slow_down (for tests that poll
	// back to back).
	DeviceInterval int
	// DeviceAutoApprove < 0: never; >= 0: approve that long after the codes
	// are issued (0 = immediately).
	DeviceAutoApprove time.Duration
	// StartDelay is the pause between the simulated terminal steps of
	// smart.transactions start, default 150ms; negative: no pause.
	StartDelay time.Duration
	AppUsers   map[string]string // appuser grant username -> password; nil: {"cashier":"cashier-password"}
	Log        *log.Logger       // optional request log; nil: none
	Seed       int64             // random seed for ids/outcomes; 0 = time-based
	// CardPointe configures the CardPointe Gateway and CardSecure served on
	// the same listener under /cardconnect/rest/ and /cardsecure/api/v1/
	// (package sandbox/cardpointe). Zero values: the public UAT credentials
	// and MID. Its Log and Seed default to the ones above.
	CardPointe cardpointe.Options
}

// Defaults of Options.
const (
	DefaultTokenTTL        = 20 * time.Minute
	DefaultRefreshTokenTTL = 30 * 24 * time.Hour
	DefaultDeviceCodeTTL   = 1200 * time.Second
	DefaultDeviceInterval  = 5
	DefaultStartDelay      = 150 * time.Millisecond
	// IdempotencyWindow is how long an X-Action id is remembered. The real
	// server's window is unknown (spec §9.2); 3 minutes covers any client
	// retry loop.
	IdempotencyWindow = 3 * time.Minute
)

// Server is the sandbox. All methods are safe for concurrent use.
type Server struct {
	opts         Options
	clientID     string
	clientSecret string
	appUsers     map[string]string
	log          logger
	zone         *time.Location
	now          func() time.Time // swapped by tests for expiry checks
	querySteps   int              // matching work per list request (query.DefaultSteps; tests lower it)

	// ctx ends on Close; simulated terminal steps and delays stop with it.
	ctx    context.Context
	cancel context.CancelFunc

	mu          sync.Mutex // guards everything below
	rng         *rand.Rand
	accessToks  map[string]*tokenInfo
	refreshToks map[string]*tokenInfo
	devices     map[string]*deviceCode // by device_code
	userCodes   map[string]string      // user_code -> device_code
	colls       map[string]*collection // by resource name
	scrolls     map[string]*scroll
	starting    map[string]bool // smart.transactions ids inside start
	settled     map[string]bool // smart.transactions counted by an EndofDay
	cardSecrets map[string]cardSecret
	receiptSeq  int
	issued      int // tokens and device codes issued, for pruning
	idem        map[string]*idemEntry
	faults      []*faultEntry

	reqMu    sync.Mutex
	requests []*RequestRecord

	hub    hub
	routes []area // the jobs on the HTTP listener (areas)

	cardpointe *cardpointe.Server

	active   atomic.Int64 // requests being handled
	panics   atomic.Int64 // STOMP requests that panicked (the fuzz test wants 0)
	lifeMu   sync.Mutex
	httpSrv  *http.Server
	baseURL  string
	httpCA   []byte // PEM of the HTTPS certificate
	serveErr chan error
	closed   bool
}

// New builds a sandbox with seed data. It does not listen; use Start or Handler.
func New(opts Options) (*Server, error) {
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"TokenTTL", opts.TokenTTL}, {"RefreshTokenTTL", opts.RefreshTokenTTL}, {"DeviceCodeTTL", opts.DeviceCodeTTL}} {
		if d.v < 0 {
			return nil, invalid(d.name, "must not be negative, got %s", d.v)
		}
	}
	if opts.TokenTTL == 0 {
		opts.TokenTTL = DefaultTokenTTL
	}
	if opts.RefreshTokenTTL == 0 {
		opts.RefreshTokenTTL = DefaultRefreshTokenTTL
	}
	if opts.DeviceCodeTTL == 0 {
		opts.DeviceCodeTTL = DefaultDeviceCodeTTL
	}
	if opts.DeviceInterval == 0 {
		opts.DeviceInterval = DefaultDeviceInterval
	}
	if opts.StartDelay == 0 {
		opts.StartDelay = DefaultStartDelay
	}
	s := &Server{
		opts:         opts,
		clientID:     opts.ClientID,
		clientSecret: opts.ClientSecret,
		log:          logger{opts.Log},
		zone:         serverZone(),
		now:          time.Now,
		querySteps:   query.DefaultSteps,
		accessToks:   map[string]*tokenInfo{},
		refreshToks:  map[string]*tokenInfo{},
		devices:      map[string]*deviceCode{},
		userCodes:    map[string]string{},
		colls:        map[string]*collection{},
		scrolls:      map[string]*scroll{},
		starting:     map[string]bool{},
		settled:      map[string]bool{},
		cardSecrets:  map[string]cardSecret{},
		idem:         map[string]*idemEntry{},
	}
	if s.clientID == "" {
		s.clientID = randomHex(16)
	}
	if s.clientSecret == "" {
		s.clientSecret = randomHex(32)
	}
	s.appUsers = opts.AppUsers
	if s.appUsers == nil {
		s.appUsers = map[string]string{"cashier": "cashier-password"}
	}
	seed := uint64(opts.Seed)
	if seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	s.rng = rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	s.ctx, s.cancel = context.WithCancel(context.Background())
	cp := opts.CardPointe
	if cp.Log == nil {
		cp.Log = opts.Log
	}
	if cp.Seed == 0 {
		cp.Seed = uint64(opts.Seed)
	}
	var err error
	if s.cardpointe, err = cardpointe.New(cp); err != nil {
		return nil, &Error{Field: "CardPointe", Message: err.Error(), Err: err}
	}
	s.hub.init(s.ctx, s.log)
	s.routes = s.areas()
	s.seed()
	return s, nil
}

// serverZone is the zone of the real server's timestamps (+01:00/+02:00).
func serverZone() *time.Location {
	if loc, err := time.LoadLocation("Europe/Berlin"); err == nil {
		return loc
	}
	return time.FixedZone("CET", 3600)
}

// ClientID is the one client id the sandbox accepts.
func (s *Server) ClientID() string { return s.clientID }

// ClientSecret is the secret belonging to ClientID.
func (s *Server) ClientSecret() string { return s.clientSecret }

// Handler serves /oauth/token, /api/v2/..., the CardPointe paths
// /cardconnect/rest/... and /cardsecure/api/v1/..., and /sandbox/... .
func (s *Server) Handler() http.Handler { return http.HandlerFunc(s.serveHTTP) }

// Start listens on addr (e.g. "127.0.0.1:0") and serves REST, OAuth and
// the admin API over plain HTTP in the background.
func (s *Server) Start(addr string) error { return s.start(addr, nil) }

// StartTLS is Start over TLS (1.2 at least) with conf's certificate, e.g.
// from SelfSignedTLS, for clients that only speak https. The URLs then
// start with https. HTTP/2 is not offered, so a dropped-connection fault
// closes the connection as it does over plain HTTP.
func (s *Server) StartTLS(addr string, conf *tls.Config) error {
	if conf == nil || len(conf.Certificates) == 0 {
		return invalid("conf", "needs a certificate")
	}
	return s.start(addr, conf)
}

func (s *Server) start(addr string, conf *tls.Config) error {
	s.lifeMu.Lock()
	defer s.lifeMu.Unlock()
	if s.closed {
		return ErrClosed
	}
	if s.httpSrv != nil {
		return &Error{Message: "the sandbox already listens at " + s.baseURL}
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return failed(err, "cannot listen on %s: %v", addr, err)
	}
	host, port, _ := net.SplitHostPort(ln.Addr().String())
	if ip := net.ParseIP(host); ip == nil || ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	scheme := "http"
	if conf != nil {
		scheme = "https"
		ln = tls.NewListener(ln, serverTLS(conf, "http/1.1"))
		s.httpCA = certPEM(conf)
	}
	s.baseURL = scheme + "://" + net.JoinHostPort(host, port)
	s.httpSrv = &http.Server{
		Handler:           s.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		MaxHeaderBytes:    maxHeaderBytes,
		BaseContext:       func(net.Listener) context.Context { return s.ctx },
		// Non-nil and empty: no HTTP/2, even if a caller's conf offers h2.
		TLSNextProto: map[string]func(*http.Server, *tls.Conn, http.Handler){},
	}
	s.serveErr = make(chan error, 1)
	go func(srv *http.Server) {
		err := srv.Serve(ln)
		if errors.Is(err, http.ErrServerClosed) {
			err = nil
		}
		s.serveErr <- err
	}(s.httpSrv)
	return nil
}

// URL is "http://127.0.0.1:PORT" (https with StartTLS) after Start, "" before.
func (s *Server) URL() string {
	s.lifeMu.Lock()
	defer s.lifeMu.Unlock()
	return s.baseURL
}

// Endpoints is where a client finds a running sandbox and what it logs in
// with: plain values, as the CLI prints them (the JSON keys and their order
// are the CLI's contract), so the client side builds its own configuration
// from them.
type Endpoints struct {
	RESTURL      string `json:"rest_url"`
	OAuthURL     string `json:"oauth_url"`
	STOMPAddr    string `json:"stomp_addr"` // "" without a STOMP endpoint
	AdminURL     string `json:"admin_url"`
	ClientID     string `json:"client_id"`
	ClientSecret string `json:"client_secret"`
	SandboxURL   string `json:"sandbox_url"`
	// The CardPointe Gateway's REST base (…/cardconnect/rest) and its HTTP
	// Basic credentials and MID. CardSecure is on the same host.
	CardPointeURL      string `json:"cardpointe_url"`
	CardPointeUsername string `json:"cardpointe_username"`
	CardPointePassword string `json:"cardpointe_password"`
	CardPointeMerchID  string `json:"cardpointe_merchid"`
	// The certificates (PEM) the REST and STOMP endpoints present when
	// they serve TLS: what a client trusts through its CA file. Not part
	// of the CLI line, which writes them to -http-ca-out/-stomp-ca-out.
	HTTPCA  []byte `json:"-"`
	STOMPCA []byte `json:"-"`
}

// Endpoints reports the sandbox's URLs and credentials (URLs "" before
// Start).
func (s *Server) Endpoints() Endpoints {
	base := s.URL()
	e := Endpoints{STOMPAddr: s.STOMPAddr(), ClientID: s.clientID, ClientSecret: s.clientSecret, SandboxURL: base}
	s.lifeMu.Lock()
	e.HTTPCA = s.httpCA
	s.lifeMu.Unlock()
	if v, ok := stompEndpoints.Load(s); ok {
		e.STOMPCA = v.(*stompEndpoint).ca
	}
	e.CardPointeUsername, e.CardPointePassword, e.CardPointeMerchID = s.cardpointe.Credentials()
	if base != "" {
		e.RESTURL, e.OAuthURL, e.AdminURL = base+"/api/v2", base+"/oauth/token", base+"/sandbox"
		e.CardPointeURL = base + cardpointe.GatewayPrefix
	}
	return e
}

// closeGrace is how long Close lets running requests (a start in progress)
// finish before it stops simulated work.
const closeGrace = 2 * time.Second

// Close stops listening, lets running requests finish for a short grace
// period (a request a fault holds is abandoned at once), then ends simulated
// terminal steps, delays and event delivery (waiting for subscriber calls
// already running). It is idempotent.
func (s *Server) Close() error {
	s.lifeMu.Lock()
	if s.closed {
		s.lifeMu.Unlock()
		return nil
	}
	s.closed = true
	srv := s.httpSrv
	s.lifeMu.Unlock()

	var err error
	if srv != nil {
		srv.SetKeepAlivesEnabled(false)
		ctx, stop := context.WithCancel(context.Background())
		shutdown := make(chan error, 1)
		go func() { shutdown <- srv.Shutdown(ctx) }()
		if !s.waitIdle(closeGrace) {
			s.cancel()
			s.waitIdle(5 * time.Second)
		}
		// Shutdown alone would wait up to 5s for connections a client
		// dialed but never used; no request can be lost on those.
		stop()
		_ = srv.Close()
		<-shutdown
		if e := <-s.serveErr; e != nil {
			err = failed(e, "serve: %v", e)
		}
	}
	s.cancel()
	s.hub.wait()
	return err
}

// waitIdle waits until no request is being handled, up to d.
func (s *Server) waitIdle(d time.Duration) bool {
	deadline := time.Now().Add(d)
	for s.active.Load() > 0 {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(5 * time.Millisecond)
	}
	return true
}

// area is one job on the HTTP listener, chosen by path prefix. Each answers
// in its own error format (also for a URL over the limit). Adding a job
// (CardPointe's /cardconnect/rest and /cardsecure/api/v1, issue 13) is one
// entry in areas.
type area struct {
	prefix string                 // lower case; matches the prefix itself and everything below it
	owns   func(path string) bool // instead of prefix: the path as sent (CardPointe's are case-sensitive)
	admin  bool                   // neither faulted nor recorded, so a test can always inspect and repair
	serve  func(w http.ResponseWriter, r *http.Request, rec *RequestRecord)
	fail   func(w http.ResponseWriter, r *http.Request, status int, msg string)
}

func (a *area) matches(path, lowerPath string) bool {
	if a.owns != nil {
		return a.owns(path)
	}
	return lowerPath == a.prefix || strings.HasPrefix(lowerPath, a.prefix+"/")
}

// apiFail answers with the API's error envelope.
func (s *Server) apiFail(w http.ResponseWriter, _ *http.Request, status int, msg string) {
	writeJSON(w, status, s.envelope(status, excFormat, codeBadQuery, msg, "The request could not be processed.").Body)
}

func (s *Server) areas() []area {
	return []area{
		{prefix: "/sandbox", admin: true,
			serve: func(w http.ResponseWriter, r *http.Request, _ *RequestRecord) { s.serveAdmin(w, r) },
			fail: func(w http.ResponseWriter, _ *http.Request, status int, msg string) {
				adminFail(w, status, "", "%s", msg)
			}},
		{prefix: "/oauth/token", serve: s.serveToken,
			fail: func(w http.ResponseWriter, _ *http.Request, status int, msg string) {
				s.oauthError(w, status, "invalid_request", msg)
			}},
		{prefix: "/api/v2", serve: func(w http.ResponseWriter, r *http.Request, _ *RequestRecord) { s.serveREST(w, r) },
			fail: s.apiFail},
		// The CardPointe Gateway and CardSecure (sandbox/cardpointe); its
		// admin call is under /sandbox/cardpointe, in the admin area above.
		{owns: cardpointe.Owns,
			serve: func(w http.ResponseWriter, r *http.Request, _ *RequestRecord) { s.cardpointe.Handler().ServeHTTP(w, r) },
			fail: func(w http.ResponseWriter, r *http.Request, status int, _ string) {
				writeJSON(w, status, s.cardpointe.ErrorBody(status, r.URL.Path)) // the Gateway's error shape has no message
			}},
	}
}

// serveHTTP picks the area of the path. Everything but the admin API is
// recorded and may be faulted.
func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	s.active.Add(1)
	defer s.active.Add(-1)
	w.Header().Set("Server", "secucard-sandbox")
	lower := strings.TrimRight(strings.ToLower(r.URL.Path), "/")
	var a *area
	for _, x := range s.routes {
		if x.matches(r.URL.Path, lower) {
			a = &x
			break
		}
	}
	if n := len(r.URL.EscapedPath()) + len(r.URL.RawQuery); n > maxURL {
		fail := s.apiFail
		if a != nil {
			fail = a.fail
		}
		fail(w, r, http.StatusBadRequest, fmt.Sprintf("the URL is longer than the limit of %d bytes", maxURL))
		return
	}
	if a != nil && a.admin {
		a.serve(w, r, nil)
		return
	}
	rec := s.beginRecord(r)
	rw := &recordingWriter{ResponseWriter: w, s: s, rec: rec}
	defer s.logRequest(rec)
	finished, loseAnswer := s.applyFault(rw, r, rec)
	if finished {
		return
	}
	if loseAnswer {
		// after_execute: the request runs in full, its answer goes nowhere,
		// and the connection closes (a lost answer).
		lost := &lostAnswer{header: http.Header{}}
		s.serveArea(a, lost, r, rec)
		s.noteLostAnswer(rec, lost.status)
		dropConnection(w)
		return
	}
	s.serveArea(a, rw, r, rec)
}

// serveArea runs r in its area; nil: no area serves the path (404).
func (s *Server) serveArea(a *area, w http.ResponseWriter, r *http.Request, rec *RequestRecord) {
	if a == nil {
		writeJSON(w, http.StatusNotFound, s.envelope(http.StatusNotFound, excNotFound, codeNoRoute,
			"no such path: the sandbox serves /oauth/token, /api/v2/<product>/<resource>/... and /sandbox/...",
			"The requested service does not exist.").Body)
		return
	}
	a.serve(w, r, rec)
}

// Limits on what a request may send (the real service's are unknown): far
// above any real payload (a few kilobytes; an upload a few megabytes), far
// below what could hurt the sandbox. A request over one is refused with a
// 400 that names the limit. A request line and headers over 1 MiB in all
// get Go's own 431 before the sandbox sees them.
const (
	maxURL         = 32 << 10 // bytes of path and query
	maxBody        = 10 << 20 // bytes of a request body (REST, OAuth, admin, STOMP)
	maxHeaderBytes = 1 << 20
)

// readBody reads the request body up to maxBody.
func readBody(r *http.Request) ([]byte, error) {
	body, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, maxBody))
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		return nil, fmt.Errorf("the request body is larger than the limit of %d bytes", maxBody)
	case err != nil:
		return nil, fmt.Errorf("the request body could not be read: %v", err)
	}
	return body, nil
}

// writeJSON answers with a JSON body; every sandbox response is JSON.
func writeJSON(w http.ResponseWriter, status int, body []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// randomHex returns n random bytes as lowercase hex from crypto/rand: it
// makes credentials, tokens and codes, which must not follow from Seed.
func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = crand.Read(b)
	return hex.EncodeToString(b)
}

// stamp formats t like the real server: 2006-01-02T15:04:05+01:00.
func (s *Server) stamp(t time.Time) string {
	return t.In(s.zone).Format("2006-01-02T15:04:05-07:00")
}

// sleep waits d, or until ctx or the server ends (false then).
func (s *Server) sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return s.ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	case <-s.ctx.Done():
		return false
	}
}

// CardPointe is the CardPointe Gateway and CardSecure sandbox served on this
// server's listener; its Go methods mirror its admin call (Settle).
func (s *Server) CardPointe() *cardpointe.Server { return s.cardpointe }
