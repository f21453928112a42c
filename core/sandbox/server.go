package sandbox

import (
	"context"
	"errors"
	"math/rand/v2"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/libsecucard/libsecucard/core/errs"
	"github.com/libsecucard/libsecucard/core/logging"
)

// Options configure a Server. The zero value is a usable sandbox.
type Options struct {
	ClientID, ClientSecret string        // generated when empty: 32 / 64 lowercase hex
	TokenTTL               time.Duration // access-token lifetime, default 20m; expires_in on the wire is whole seconds, min 1
	RefreshTokenTTL        time.Duration // default 30 days
	DeviceCodeTTL          time.Duration // device code lifetime (expires_in), default 1200s
	// DeviceInterval is the device poll interval in whole seconds on the wire,
	// default 5. Negative: interval 0 on the wire and no slow_down answers (fast
	// tests of clients that poll back to back).
	DeviceInterval int
	// DeviceAutoApprove approves device codes that long after they were issued.
	// Zero or negative (the default) never auto-approves: the zero value of
	// Options must not approve by surprise. For "immediately" use any tiny
	// positive value such as time.Nanosecond (the CLI maps "0s" to that).
	DeviceAutoApprove time.Duration
	// StartDelay is the pause between the simulated terminal steps of
	// smart.transactions start, default 150ms; negative means no pause.
	StartDelay time.Duration
	AppUsers   map[string]string // appuser grant username -> password; nil: {"cashier": "cashier-password"}
	Logger     *logging.Logger   // optional request log (lines are redacted by the logger)
	Seed       int64             // random seed for ids and outcomes; 0 = time-based
	// IdempotencyWindow is how long an X-Action id is remembered, default 3m.
	IdempotencyWindow time.Duration
}

// Server is the sandbox. All methods are safe for concurrent use.
type Server struct {
	opts                   Options
	clientID, clientSecret string
	log                    *logging.Logger

	// life ends at Close; simulated terminal steps and fault delays stop then.
	life     context.Context
	stopLife context.CancelFunc

	rngMu sync.Mutex
	rng   *rand.Rand

	mu          sync.Mutex
	tokens      map[string]*accessToken  // access token -> grant record
	refreshes   map[string]*refreshToken // refresh token -> grant record
	devices     map[string]*deviceCode   // device_code -> state
	userCodes   map[string]*deviceCode   // user_code -> state
	colls       map[string]*collection   // resource name -> objects
	cardSecrets map[string]cardSecret    // card number -> CSC and PIN (never served)
	idSeq       map[string]int           // lower-case prefixes (smi_, sls_) count up
	receiptSeq  int
	endOfDay    time.Time            // payments completed after this go into the next EndofDay
	completedAt map[string]time.Time // smart.transactions id -> when start finished
	scrolls     map[string]*scroll
	idem        map[string]*idemEntry
	faults      []*Fault
	requests    []RequestRecord

	hub hub

	httpMu  sync.Mutex
	httpSrv *http.Server
	baseURL string
}

// Defaults (spec §2.3, §3.3, brief).
const (
	defaultTokenTTL          = 20 * time.Minute
	defaultRefreshTokenTTL   = 30 * 24 * time.Hour
	defaultDeviceCodeTTL     = 1200 * time.Second
	defaultDeviceInterval    = 5
	defaultStartDelay        = 150 * time.Millisecond
	defaultIdempotencyWindow = 3 * time.Minute
	maxRequestRecords        = 10000
	maxBodyBytes             = 16 << 20 // uploads carry base64 documents
)

// New builds a sandbox with seed data. It does not listen; use Start or Handler.
func New(opts Options) (*Server, error) {
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"TokenTTL", opts.TokenTTL}, {"RefreshTokenTTL", opts.RefreshTokenTTL}, {"DeviceCodeTTL", opts.DeviceCodeTTL}, {"IdempotencyWindow", opts.IdempotencyWindow}} {
		if d.v < 0 {
			return nil, errs.Invalid("Options."+d.name, "must not be negative, got %s", d.v)
		}
	}
	if opts.TokenTTL == 0 {
		opts.TokenTTL = defaultTokenTTL
	}
	if opts.RefreshTokenTTL == 0 {
		opts.RefreshTokenTTL = defaultRefreshTokenTTL
	}
	if opts.DeviceCodeTTL == 0 {
		opts.DeviceCodeTTL = defaultDeviceCodeTTL
	}
	if opts.DeviceInterval == 0 {
		opts.DeviceInterval = defaultDeviceInterval
	}
	if opts.StartDelay == 0 {
		opts.StartDelay = defaultStartDelay
	}
	if opts.IdempotencyWindow == 0 {
		opts.IdempotencyWindow = defaultIdempotencyWindow
	}
	if opts.AppUsers == nil {
		opts.AppUsers = map[string]string{"cashier": "cashier-password"}
	}
	seed := opts.Seed
	if seed == 0 {
		seed = time.Now().UnixNano()
	}
	s := &Server{
		opts:        opts,
		log:         opts.Logger.With("sandbox: "),
		rng:         rand.New(rand.NewPCG(uint64(seed), uint64(seed)^0x5ec0ca7d)),
		tokens:      map[string]*accessToken{},
		refreshes:   map[string]*refreshToken{},
		devices:     map[string]*deviceCode{},
		userCodes:   map[string]*deviceCode{},
		colls:       map[string]*collection{},
		cardSecrets: map[string]cardSecret{},
		idSeq:       map[string]int{},
		scrolls:     map[string]*scroll{},
		idem:        map[string]*idemEntry{},
		endOfDay:    time.Now(),
		completedAt: map[string]time.Time{},
	}
	s.life, s.stopLife = context.WithCancel(context.Background())
	s.clientID, s.clientSecret = opts.ClientID, opts.ClientSecret
	if s.clientID == "" {
		s.clientID = s.randHex(32)
	}
	if s.clientSecret == "" {
		s.clientSecret = s.randHex(64)
	}
	s.seed()
	return s, nil
}

// ClientID is the one client id the sandbox accepts.
func (s *Server) ClientID() string { return s.clientID }

// ClientSecret is the secret belonging to ClientID.
func (s *Server) ClientSecret() string { return s.clientSecret }

// Handler serves /oauth/token, /api/v2/... and /sandbox/... .
func (s *Server) Handler() http.Handler { return http.HandlerFunc(s.serveHTTP) }

// Start listens on addr (e.g. "127.0.0.1:0") and serves in the background.
func (s *Server) Start(addr string) error {
	s.httpMu.Lock()
	defer s.httpMu.Unlock()
	if s.httpSrv != nil {
		return errs.New(errs.InvalidArgument, "sandbox.start", "the sandbox is already started at %s", s.baseURL)
	}
	if s.life.Err() != nil {
		return errs.New(errs.Closed, "sandbox.start", "the sandbox is closed")
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return errs.Classify("sandbox.start", err)
	}
	s.httpSrv = &http.Server{Handler: s.Handler(), ReadHeaderTimeout: 10 * time.Second}
	s.baseURL = "http://" + ln.Addr().String()
	srv := s.httpSrv
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Errorf("serve: %v", err)
		}
	}()
	s.log.Infof("listening on %s", s.baseURL)
	return nil
}

// URL is "http://127.0.0.1:PORT" after Start, "" before.
func (s *Server) URL() string {
	s.httpMu.Lock()
	defer s.httpMu.Unlock()
	return s.baseURL
}

// Close stops simulated work and event delivery, lets running requests finish
// for a moment, then closes every connection. It is safe to call twice.
func (s *Server) Close() error {
	s.stopLife()
	s.hub.closeAll()
	s.httpMu.Lock()
	srv := s.httpSrv
	s.httpMu.Unlock()
	if srv == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		_ = srv.Close()
	}
	return nil
}

// serveHTTP routes one request. API and OAuth requests are recorded and may
// be faulted; the admin API is plumbing and is neither.
func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	path := r.URL.Path
	lower := strings.ToLower(path)
	if lower == "/sandbox" || strings.HasPrefix(lower, "/sandbox/") {
		s.serveAdmin(w, r)
		return
	}
	started := time.Now()
	rec := &RequestRecord{Method: r.Method, Path: path, XAction: r.Header.Get("X-Action"), Time: started}
	defer func() {
		s.record(*rec)
		s.log.Infof("%s %s -> %d%s (%s)", rec.Method, rec.Path, rec.Status, faultSuffix(rec.Fault), time.Since(started).Round(time.Millisecond))
	}()
	r.Body = http.MaxBytesReader(w, r.Body, maxBodyBytes)

	if f := s.takeFault(r.Method, path); f != nil {
		if handled := s.applyFault(w, r, f, rec); handled {
			return
		}
	}
	switch {
	case lower == "/oauth/token" || lower == "/oauth/token/":
		s.serveToken(w, r, rec)
	case lower == "/api/v2" || strings.HasPrefix(lower, "/api/v2/"):
		s.serveREST(w, r, rec)
	default:
		s.writeAPIError(w, rec, errNotFound("no such endpoint: %s", path), r.Header.Get("Accept-Language"))
	}
}

func faultSuffix(f string) string {
	if f == "" {
		return ""
	}
	return " [fault " + f + "]"
}

// write sends a JSON answer and notes its status in the record.
func (s *Server) write(w http.ResponseWriter, rec *RequestRecord, status int, body []byte) {
	rec.Status = status
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

func (s *Server) writeAPIError(w http.ResponseWriter, rec *RequestRecord, e *apiError, lang string) {
	s.write(w, rec, e.status, e.envelope(lang, s.supportID()))
}

// --- randomness (seeded, so ids and demo outcomes are reproducible) ---

const (
	hexDigits   = "0123456789abcdef"
	upperAlnum  = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	lowerAlnum  = "abcdefghijklmnopqrstuvwxyz0123456789"
	idRandomLen = 30 // ids are a prefix plus 30 upper-case alphanumerics (spec §7)
)

func (s *Server) randFrom(alphabet string, n int) string {
	s.rngMu.Lock()
	defer s.rngMu.Unlock()
	b := make([]byte, n)
	for i := range b {
		b[i] = alphabet[s.rng.IntN(len(alphabet))]
	}
	return string(b)
}

func (s *Server) randHex(n int) string { return s.randFrom(hexDigits, n) }

// chance reports true with probability p.
func (s *Server) chance(p float64) bool {
	s.rngMu.Lock()
	defer s.rngMu.Unlock()
	return s.rng.Float64() < p
}

func (s *Server) supportID() string { return s.randHex(32) }
