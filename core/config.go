package core

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"net"
	"net/url"
	"os"
	"reflect"
	"regexp"
	"strings"
	"time"

	"github.com/libsecucard/libsecucard/core/auth"
	"github.com/libsecucard/libsecucard/core/call"
	"github.com/libsecucard/libsecucard/core/errs"
	"github.com/libsecucard/libsecucard/core/logging"
	"github.com/libsecucard/libsecucard/core/redact"
	"github.com/libsecucard/libsecucard/core/retry"
)

// Production endpoints (spec §1.1).
const (
	ProductionOAuthURL  = "https://connect.secucard.com/oauth/token"
	ProductionRESTURL   = "https://connect.secucard.com/api/v2"
	ProductionSTOMPHost = "connect.secucard.com"
	ProductionSTOMPPort = 61614
)

// Environments.
const (
	EnvProduction = "production" // the endpoints above
	EnvSandbox    = "sandbox"    // a running secucard-sandbox at SandboxURL
	EnvCustom     = "custom"     // explicit OAuthURL and RESTURL (and STOMP host/port)
)

// Config is the client configuration. The JSON tags are the keys of the config
// JSON the C API accepts; unknown keys and ill-typed values are rejected with
// an error naming the key. A zero value means "the default" (the defaults
// table below); durations are integer milliseconds so that C hosts need no
// duration syntax.
type Config struct {
	Environment string `json:"environment,omitempty"` // production | sandbox | custom
	SandboxURL  string `json:"sandbox_url,omitempty"` // sandbox: base URL printed by secucard-sandbox, e.g. http://127.0.0.1:41234
	OAuthURL    string `json:"oauth_url,omitempty"`   // overrides the environment's token endpoint
	RESTURL     string `json:"rest_url,omitempty"`    // overrides the environment's REST base (no trailing slash needed)
	Language    string `json:"language,omitempty"`    // Accept-Language for error_user texts: "en" or "de"
	AppID       string `json:"app_id,omitempty"`      // default app id for custom app calls

	// Credentials are checked by auth.Credentials.Normalize, the same check a
	// credential callback's answer passes. nil: ask the callback at run time.
	Credentials *auth.Credentials `json:"credentials,omitempty"`
	Auth        AuthConfig        `json:"auth,omitempty"`
	Timeouts    Timeouts          `json:"timeouts,omitempty"`
	TLS         TLSConfig         `json:"tls,omitempty"`
	Retry       RetryConfig       `json:"retry,omitempty"`
	Store       StoreConfig       `json:"store,omitempty"`
	STOMP       STOMPConfig       `json:"stomp,omitempty"`
	Events      EventsConfig      `json:"events,omitempty"`
	// CardPointe configures the CardPointe Gateway client; without it
	// CardPointe requests are refused.
	CardPointe CardPointeConfig `json:"cardpointe,omitempty"`

	// Idempotency adds an X-Action id to every mutating call. With it off,
	// a write is never repeated once its request may have left the machine.
	Idempotency *bool `json:"idempotency,omitempty"`
	// AllowUnknownResources lets calls through for product.resource names the
	// catalog does not know (new server resources). Off by default so that a
	// typo at the till fails fast with a suggestion.
	AllowUnknownResources bool   `json:"allow_unknown_resources,omitempty"`
	LogLevel              string `json:"log_level,omitempty"` // off | error | warn | info | debug | trace
}

// AuthConfig tunes token handling.
type AuthConfig struct {
	WaitTimeoutMS   int `json:"wait_timeout_ms,omitempty"`   // device flow cap (spec §1.2)
	RefreshMarginMS int `json:"refresh_margin_ms,omitempty"` // refresh this long before expiry
}

// Timeouts for the HTTP channel.
type Timeouts struct {
	ConnectMS  int `json:"connect_ms,omitempty"`  // TCP + TLS connect
	ResponseMS int `json:"response_ms,omitempty"` // a REST call without timeout_ms
}

// TLSConfig. Verification is always on; there is deliberately no skip-verify.
type TLSConfig struct {
	CAFile     string `json:"ca_file,omitempty"`     // PEM bundle to trust instead of the system roots
	MinVersion string `json:"min_version,omitempty"` // "1.2" or "1.3"
}

// RetryConfig bounds repeats (call.Decide decides which calls qualify).
type RetryConfig struct {
	MaxAttempts      int `json:"max_attempts,omitempty"`       // total attempts per call; 1 disables repeats
	InitialBackoffMS int `json:"initial_backoff_ms,omitempty"` // first delay (before jitter)
	MaxBackoffMS     int `json:"max_backoff_ms,omitempty"`     // cap on any delay, also for STOMP reconnects
	// MaxRetryAfterMS is the longest Retry-After the library waits out by
	// itself; a longer one ends the call with the error and retry_after_ms.
	MaxRetryAfterMS int `json:"max_retry_after_ms,omitempty"`
}

// StoreConfig selects token storage.
type StoreConfig struct {
	Type string `json:"type,omitempty"` // memory | sqlite | callback (host storage callbacks)
	Path string `json:"path,omitempty"` // sqlite: database file, created 0600
	// EncryptionKey is 64 hex characters (AES-256). Without it a key is derived
	// from the client secret and device uuid, which only protects the file on
	// its own (see store.DeriveKey).
	EncryptionKey string `json:"encryption_key,omitempty"`
}

// STOMPConfig configures the STOMP channel (spec §1.2, §4).
type STOMPConfig struct {
	Enabled                 *bool  `json:"enabled,omitempty"` // per environment
	Host                    string `json:"host,omitempty"`    // per environment
	Port                    int    `json:"port,omitempty"`    // per environment
	TLS                     *bool  `json:"tls,omitempty"`     // per environment; the sandbox listens plain unless started with TLS
	VirtualHost             string `json:"vhost,omitempty"`
	Destination             string `json:"destination,omitempty"`
	ReplyQueue              string `json:"reply_queue,omitempty"`
	HeartbeatMS             int    `json:"heartbeat_ms,omitempty"`               // heart-beat and idle session refresh
	ConnectTimeoutMS        int    `json:"connect_timeout_ms,omitempty"`         // TCP + TLS + CONNECTED
	MessageTimeoutMS        int    `json:"message_timeout_ms,omitempty"`         // a STOMP call without timeout_ms
	SessionRefreshTimeoutMS int    `json:"session_refresh_timeout_ms,omitempty"` // auth.sessions refresh reply
	// Routing: "auto" (DESIGN §2), "rest" (never STOMP) or "stomp" (every
	// call over STOMP).
	Routing string `json:"routing,omitempty"`
}

// EventsConfig configures the event pipeline.
type EventsConfig struct {
	QueueSize int `json:"queue_size,omitempty"` // when full the oldest event is dropped and counted
	// Dedupe drops a push whose id is among the last 4096 push ids (default
	// true): a copy after a reconnect, or the webhook copy of a STOMP push.
	// false delivers every copy.
	Dedupe       *bool `json:"dedupe,omitempty"`
	FetchChanged bool  `json:"fetch_changed,omitempty"` // fetch the objects named by "changed" events' {object,id} stubs
}

// CardPointeConfig configures the CardPointe Gateway and CardSecure
// (spec cardpointe.md §1). The same tls section applies.
type CardPointeConfig struct {
	// URL is the Gateway's REST base, e.g.
	// https://fts-uat.cardconnect.com/cardconnect/rest. Instead of it: Site
	// (and UAT). In environment "sandbox" it defaults to the sandbox's.
	URL  string `json:"url,omitempty"`
	Site string `json:"site,omitempty"` // https://<site>[-uat].cardconnect.com/cardconnect/rest
	UAT  bool   `json:"uat,omitempty"`  // with Site: the UAT host <site>-uat
	// CardSecureURL is CardSecure's base; default: the Gateway's host with
	// /cardsecure/api/v1.
	CardSecureURL string             `json:"cardsecure_url,omitempty"`
	Username      string             `json:"username,omitempty"` // HTTP Basic
	Password      string             `json:"password,omitempty"`
	MerchID       string             `json:"merchid,omitempty"` // default merchid of every request
	Timeouts      CardPointeTimeouts `json:"timeouts,omitempty"`
}

// CardPointeTimeouts of the CardPointe calls.
type CardPointeTimeouts struct {
	ConnectMS int `json:"connect_ms,omitempty"` // TCP + TLS connect
	// ResponseMS bounds the wait for one answer (a request's timeout_ms
	// replaces it); above the Gateway's 32 s processor wait (spec §3), so a
	// timed-out authorization comes back as PPS 62 rather than not at all.
	ResponseMS int `json:"response_ms,omitempty"`
	// RecoveryMS bounds the recovery of an auth whose answer was lost
	// (inquiry, one resend or the voids), after its response wait.
	RecoveryMS int `json:"recovery_ms,omitempty"`
	// GatewayMS is the Gateway's answer window: it waits 31 s on the
	// processor and answers by 32 s (spec §3), so an auth that reached it
	// is on record by then. Until this long after an auth was written, an
	// inquiry's "Txn not found" does not prove it never arrived, and the
	// recovery does not send it again.
	GatewayMS int `json:"gateway_ms,omitempty"`
}

// defaults is the one table of defaults: the value every key takes when the
// host leaves it out (or gives 0). resolve applies it once; sub-packages get
// resolved values and default nothing themselves. The endpoints that depend
// on the environment are in environments. README.md and include/secucard.h
// list these values; TestDocumentedDefaults fails when they drift.
var defaults = Config{
	Environment: EnvProduction,
	Language:    "en",
	// Java SDK values where the spec names them (§1.2, §4.9).
	Auth:     AuthConfig{WaitTimeoutMS: 300000, RefreshMarginMS: 60000},
	Timeouts: Timeouts{ConnectMS: 30000, ResponseMS: 30000},
	TLS:      TLSConfig{MinVersion: "1.2"},
	Retry:    RetryConfig{MaxAttempts: 3, InitialBackoffMS: 200, MaxBackoffMS: 10000, MaxRetryAfterMS: 30000},
	Store:    StoreConfig{Type: "memory"},
	STOMP: STOMPConfig{
		Destination: "/exchange/connect.api/", ReplyQueue: "/temp-queue/main",
		HeartbeatMS: 30000, ConnectTimeoutMS: 20000, MessageTimeoutMS: 120000, SessionRefreshTimeoutMS: 15000,
		Routing: "auto",
	},
	Events: EventsConfig{QueueSize: 1024, Dedupe: ptr(true)},
	// gateway_ms: the Gateway answers by 32 s (spec §3), and a second for the network.
	CardPointe:  CardPointeConfig{Timeouts: CardPointeTimeouts{ConnectMS: 30000, ResponseMS: 40000, RecoveryMS: 60000, GatewayMS: 33000}},
	Idempotency: ptr(true),
	LogLevel:    "info",
}

// endpoints are an environment's defaults for the keys marked "per
// environment".
type endpoints struct {
	oauthURL, restURL string
	stompEnabled      bool
	stompHost         string
	stompPort         int
	stompTLS          bool
}

// environments holds the per-environment defaults; the sandbox's are derived
// from sandbox_url (STOMP is on when a port is given, plain TCP unless tls).
var environments = map[string]endpoints{
	EnvProduction: {oauthURL: ProductionOAuthURL, restURL: ProductionRESTURL, stompEnabled: true,
		stompHost: ProductionSTOMPHost, stompPort: ProductionSTOMPPort, stompTLS: true},
	EnvCustom:  {stompEnabled: true, stompPort: ProductionSTOMPPort, stompTLS: true},
	EnvSandbox: {},
}

func ptr[T any](v T) *T { return &v }

// withDefaults returns c with every zero value replaced by the defaults
// table's, recursively.
func (c Config) withDefaults() Config {
	fill(reflect.ValueOf(&c).Elem(), reflect.ValueOf(defaults))
	return c
}

func fill(dst, def reflect.Value) {
	for i := 0; i < dst.NumField(); i++ {
		f, d := dst.Field(i), def.Field(i)
		switch {
		case f.Kind() == reflect.Struct:
			fill(f, d)
		case f.IsZero():
			f.Set(d)
		}
	}
}

// ParseConfig decodes the host's config JSON strictly and validates it. It
// reads no file: the CA file is read once, by New.
func ParseConfig(b []byte) (Config, error) {
	var c Config
	if err := decodeConfig(b, &c); err != nil {
		return Config{}, err
	}
	if err := c.Validate(); err != nil {
		return Config{}, errs.Redact(err, redact.ForJSON(b))
	}
	return c, nil
}

// NewFromJSON decodes the host's config JSON and builds a client, resolving
// the config once (the C API's secucard_client_new).
func NewFromJSON(b []byte, opts ...Option) (*Client, error) {
	var c Config
	if err := decodeConfig(b, &c); err != nil {
		return nil, err
	}
	return New(c, opts...)
}

// Validate checks the config and names the first bad key. It is pure: no
// file is read and nothing is registered anywhere.
func (c *Config) Validate() error {
	_, err := c.resolve()
	return err
}

// resolved is the config with the defaults applied, every section resolved
// into the typed value its consumer takes.
type resolved struct {
	Config                        // with defaults applied
	endpoints                     // after overrides
	creds       *auth.Credentials // normalised; nil: ask the credential callback
	waitTimeout time.Duration
	margin      time.Duration
	connect     time.Duration
	response    time.Duration
	tls         tlsSettings
	policy      call.Policy
	store       storeSettings
	stomp       stompSettings
	cardpointe  cardpointeSettings
	idempotency bool
	logLevel    logging.Level
}

type tlsSettings struct {
	minVersion uint16
	caFile     string // read by load, in New
}

type storeSettings struct {
	typ  string // memory | sqlite | callback
	path string
	key  []byte // nil: derived from the credentials
}

type stompSettings struct {
	routing        string // auto | rest | stomp
	heartbeat      time.Duration
	connect        time.Duration
	message        time.Duration
	sessionRefresh time.Duration
}

func ms(v int) time.Duration { return time.Duration(v) * time.Millisecond }

// resolve applies the defaults table once and resolves each section. Every
// error names the key the host wrote and never echoes a value (a value in the
// wrong key may be a secret).
func (c *Config) resolve() (*resolved, error) {
	r := &resolved{Config: c.withDefaults()}
	var err error
	if r.endpoints, err = c.resolveEndpoints(); err != nil {
		return nil, err
	}
	switch strings.ToLower(r.Language) {
	case "en", "de":
	default:
		return nil, errs.Invalid("language", `must be "en" or "de"`)
	}
	if c.Credentials != nil {
		cr, err := c.Credentials.Normalize()
		if err != nil {
			return nil, err
		}
		r.creds = &cr
	}
	if r.waitTimeout, r.margin, err = r.Auth.resolve(); err != nil {
		return nil, err
	}
	if r.connect, r.response, err = r.Timeouts.resolve(); err != nil {
		return nil, err
	}
	if r.policy, err = r.Retry.resolve(); err != nil {
		return nil, err
	}
	if err := nonNegative("events", "queue_size", r.Events.QueueSize); err != nil {
		return nil, err
	}
	if r.tls, err = r.TLS.resolve(); err != nil {
		return nil, err
	}
	if r.store, err = r.Store.resolve(); err != nil {
		return nil, err
	}
	if r.stomp, err = r.STOMP.resolve(&r.endpoints); err != nil {
		return nil, err
	}
	if r.cardpointe, err = r.CardPointe.resolve(r.Environment, r.SandboxURL); err != nil {
		return nil, err
	}
	r.idempotency = *r.Idempotency
	lvl, ok := logging.ParseLevel(r.LogLevel)
	if !ok {
		return nil, errs.Invalid("log_level", "must be one of off, error, warn, info, debug, trace")
	}
	r.logLevel = lvl
	return r, nil
}

// resolveEndpoints picks the environment's endpoints and applies the URL
// keys. Each URL is checked under the key the host wrote: a sandbox's token
// endpoint is derived from sandbox_url, so a bad one is sandbox_url's fault.
func (c *Config) resolveEndpoints() (endpoints, error) {
	env := strings.ToLower(c.Environment)
	if env == "" {
		env = defaults.Environment
	}
	ep, ok := environments[env]
	if !ok {
		return ep, errs.Invalid("environment", `must be "production", "sandbox" or "custom"`)
	}
	switch env {
	case EnvSandbox:
		if c.SandboxURL == "" && (c.OAuthURL == "" || c.RESTURL == "") {
			return ep, errs.Invalid("sandbox_url", `is required for environment "sandbox" (the base URL secucard-sandbox printed)`)
		}
		if c.SandboxURL != "" {
			u, err := checkURL("sandbox_url", c.SandboxURL)
			if err != nil {
				return ep, err
			}
			base := strings.TrimRight(c.SandboxURL, "/")
			ep.oauthURL, ep.restURL, ep.stompHost = base+"/oauth/token", base+"/api/v2", u.Hostname()
		}
		ep.stompEnabled = c.STOMP.Port != 0
	case EnvCustom:
		if c.OAuthURL == "" {
			return ep, errs.Invalid("oauth_url", `is required for environment "custom"`)
		}
		if c.RESTURL == "" {
			return ep, errs.Invalid("rest_url", `is required for environment "custom"`)
		}
	}
	if c.SandboxURL != "" && env != EnvSandbox {
		if _, err := checkURL("sandbox_url", c.SandboxURL); err != nil {
			return ep, err
		}
	}
	if c.OAuthURL != "" {
		if _, err := checkURL("oauth_url", c.OAuthURL); err != nil {
			return ep, err
		}
		ep.oauthURL = c.OAuthURL
	}
	if c.RESTURL != "" {
		if _, err := checkURL("rest_url", c.RESTURL); err != nil {
			return ep, err
		}
		ep.restURL = strings.TrimRight(c.RESTURL, "/")
	}
	return ep, nil
}

// nonNegative rejects negative numbers in a section's keys, given as name,
// value pairs (0 means the default, which the table has applied already).
func nonNegative(section string, kv ...any) error {
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1].(int) < 0 {
			return errs.Invalid(section+"."+kv[i].(string), "must not be negative (0 or absent means the default)")
		}
	}
	return nil
}

func (a AuthConfig) resolve() (wait, margin time.Duration, err error) {
	err = nonNegative("auth", "wait_timeout_ms", a.WaitTimeoutMS, "refresh_margin_ms", a.RefreshMarginMS)
	return ms(a.WaitTimeoutMS), ms(a.RefreshMarginMS), err
}

func (t Timeouts) resolve() (connect, response time.Duration, err error) {
	err = nonNegative("timeouts", "connect_ms", t.ConnectMS, "response_ms", t.ResponseMS)
	return ms(t.ConnectMS), ms(t.ResponseMS), err
}

// resolve makes the retry section the call pipeline's policy.
func (r RetryConfig) resolve() (call.Policy, error) {
	err := nonNegative("retry", "max_attempts", r.MaxAttempts, "initial_backoff_ms", r.InitialBackoffMS,
		"max_backoff_ms", r.MaxBackoffMS, "max_retry_after_ms", r.MaxRetryAfterMS)
	switch {
	case err != nil:
	case r.MaxAttempts > 10:
		err = errs.Invalid("retry.max_attempts", "must be at most 10")
	case r.InitialBackoffMS > r.MaxBackoffMS:
		err = errs.Invalid("retry.initial_backoff_ms", "must not exceed retry.max_backoff_ms")
	}
	return call.Policy{
		MaxAttempts: r.MaxAttempts,
		Backoff:     retry.Backoff{Initial: ms(r.InitialBackoffMS), Max: ms(r.MaxBackoffMS), Factor: 2, Jitter: 1},
		MaxWait:     ms(r.MaxRetryAfterMS),
	}, err
}

func (t TLSConfig) resolve() (tlsSettings, error) {
	switch t.MinVersion {
	case "1.2":
		return tlsSettings{minVersion: tls.VersionTLS12, caFile: t.CAFile}, nil
	case "1.3":
		return tlsSettings{minVersion: tls.VersionTLS13, caFile: t.CAFile}, nil
	}
	return tlsSettings{}, errs.Invalid("tls.min_version", `must be "1.2" or "1.3"`)
}

// load builds the TLS configuration, reading the CA file: the one read, in New.
func (t tlsSettings) load() (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: t.minVersion}
	if t.caFile == "" {
		return cfg, nil
	}
	pem, err := os.ReadFile(t.caFile)
	if err != nil {
		return nil, errs.Invalid("tls.ca_file", "cannot be read: %s", fileProblem(err))
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, errs.Invalid("tls.ca_file", "holds no PEM certificate")
	}
	cfg.RootCAs = pool
	return cfg, nil
}

// fileProblem names why a file cannot be read without Go's wording.
func fileProblem(err error) string {
	switch {
	case os.IsNotExist(err):
		return "it does not exist"
	case os.IsPermission(err):
		return "permission denied"
	}
	return "the read failed"
}

func (s StoreConfig) resolve() (storeSettings, error) {
	out := storeSettings{typ: strings.ToLower(s.Type), path: s.Path}
	switch out.typ {
	case "memory", "callback":
		if s.Path != "" {
			return out, errs.Invalid("store.path", `is only used with store.type "sqlite"`)
		}
	case "sqlite":
		if s.Path == "" {
			return out, errs.Invalid("store.path", `is required for store.type "sqlite"`)
		}
	default:
		return out, errs.Invalid("store.type", `must be "memory", "sqlite" or "callback"`)
	}
	if s.EncryptionKey != "" {
		k, err := hex.DecodeString(s.EncryptionKey)
		if err != nil || len(k) != 32 {
			return out, errs.Invalid("store.encryption_key", "must be 64 hexadecimal characters (32 bytes)")
		}
		out.key = k
	}
	return out, nil
}

// resolve applies the STOMP keys to the environment's endpoints.
func (s STOMPConfig) resolve(ep *endpoints) (stompSettings, error) {
	err := nonNegative("stomp", "port", s.Port, "heartbeat_ms", s.HeartbeatMS, "connect_timeout_ms", s.ConnectTimeoutMS,
		"message_timeout_ms", s.MessageTimeoutMS, "session_refresh_timeout_ms", s.SessionRefreshTimeoutMS)
	switch {
	case err != nil:
		return stompSettings{}, err
	case s.Port > 65535:
		return stompSettings{}, errs.Invalid("stomp.port", "must be 1..65535")
	case s.HeartbeatMS < 1000:
		return stompSettings{}, errs.Invalid("stomp.heartbeat_ms", "must be at least 1000 (or 0 for the default)")
	}
	if s.Enabled != nil {
		ep.stompEnabled = *s.Enabled
	}
	if s.Host != "" {
		ep.stompHost = s.Host
	}
	if s.Port != 0 {
		ep.stompPort = s.Port
	}
	if s.TLS != nil {
		ep.stompTLS = *s.TLS
	}
	out := stompSettings{
		routing: strings.ToLower(s.Routing), heartbeat: ms(s.HeartbeatMS), connect: ms(s.ConnectTimeoutMS),
		message: ms(s.MessageTimeoutMS), sessionRefresh: ms(s.SessionRefreshTimeoutMS),
	}
	switch out.routing {
	case "auto", "rest", "stomp":
	default:
		return out, errs.Invalid("stomp.routing", `must be "auto", "rest" or "stomp"`)
	}
	if ep.stompEnabled {
		switch {
		case ep.stompHost == "":
			return out, errs.Invalid("stomp.host", "is required when STOMP is enabled")
		case ep.stompPort == 0:
			return out, errs.Invalid("stomp.port", "is required when STOMP is enabled")
		case !ep.stompTLS && !isLoopback(ep.stompHost):
			return out, errs.Invalid("stomp.tls", "may only be false for a loopback host (the sandbox)")
		}
	}
	if out.routing == "stomp" && !ep.stompEnabled {
		return out, errs.Invalid("stomp.routing", `is "stomp" but STOMP is disabled`)
	}
	for _, v := range []struct{ key, val string }{{"stomp.destination", s.Destination}, {"stomp.reply_queue", s.ReplyQueue}} {
		if !strings.HasPrefix(v.val, "/") || strings.ContainsAny(v.val, " \r\n\x00") {
			return out, errs.Invalid(v.key, `must be a STOMP destination: starting with "/", without spaces`)
		}
	}
	return out, nil
}

// cardpointeSettings is the resolved cardpointe section.
type cardpointeSettings struct {
	enabled                     bool // the section names a Gateway
	gateway, cardsecure         string
	username, password, merchid string
	connect, response, recovery time.Duration
	window                      time.Duration // the Gateway's answer window
}

var (
	siteRe    = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,62}$`)
	merchIDRe = regexp.MustCompile(`^[A-Za-z0-9]{1,12}$`)
)

// resolve checks the cardpointe section. It is enabled when it names a
// Gateway or credentials; the timeouts alone (defaulted) do not enable it.
func (p CardPointeConfig) resolve(environment, sandboxURL string) (cardpointeSettings, error) {
	out := cardpointeSettings{username: p.Username, password: p.Password, merchid: p.MerchID}
	if err := nonNegative("cardpointe.timeouts", "connect_ms", p.Timeouts.ConnectMS, "response_ms", p.Timeouts.ResponseMS,
		"recovery_ms", p.Timeouts.RecoveryMS, "gateway_ms", p.Timeouts.GatewayMS); err != nil {
		return out, err
	}
	out.connect, out.response, out.recovery = ms(p.Timeouts.ConnectMS), ms(p.Timeouts.ResponseMS), ms(p.Timeouts.RecoveryMS)
	out.window = ms(p.Timeouts.GatewayMS)
	out.enabled = p.URL != "" || p.Site != "" || p.UAT || p.CardSecureURL != "" || p.Username != "" || p.Password != "" || p.MerchID != ""
	if !out.enabled {
		return out, nil
	}
	switch {
	case p.URL != "" && p.Site != "":
		return out, errs.Invalid("cardpointe.site", "cannot be combined with cardpointe.url")
	case p.UAT && p.Site == "":
		return out, errs.Invalid("cardpointe.uat", "needs cardpointe.site (with cardpointe.url, name the UAT host in it)")
	case p.Site != "":
		if !siteRe.MatchString(p.Site) {
			return out, errs.Invalid("cardpointe.site", `must be the site name CardPointe assigned, e.g. "fts" (lower-case letters, digits, "-")`)
		}
		host := p.Site
		if p.UAT {
			host += "-uat"
		}
		out.gateway = "https://" + host + ".cardconnect.com/cardconnect/rest"
	case p.URL != "":
		if _, err := checkURL("cardpointe.url", p.URL); err != nil {
			return out, err
		}
		out.gateway = strings.TrimRight(p.URL, "/")
	case strings.EqualFold(environment, EnvSandbox) && sandboxURL != "":
		out.gateway = strings.TrimRight(sandboxURL, "/") + "/cardconnect/rest"
	default:
		return out, errs.Invalid("cardpointe.url", "is required (the Gateway's REST base), or cardpointe.site")
	}
	if p.CardSecureURL != "" {
		if _, err := checkURL("cardpointe.cardsecure_url", p.CardSecureURL); err != nil {
			return out, err
		}
		out.cardsecure = strings.TrimRight(p.CardSecureURL, "/")
	} else {
		// CardSecure lives on the Gateway's host (spec §1, §5).
		u, _ := url.Parse(out.gateway)
		prefix := strings.TrimSuffix(strings.TrimRight(u.Path, "/"), "/cardconnect/rest")
		u.Path, u.RawQuery, u.Fragment = prefix+"/cardsecure/api/v1", "", ""
		out.cardsecure = u.String()
	}
	switch {
	case p.Username == "":
		return out, errs.Invalid("cardpointe.username", "is required (the Gateway uses HTTP Basic)")
	case strings.Contains(p.Username, ":"):
		return out, errs.Invalid("cardpointe.username", `must not contain ":" (HTTP Basic separates the password with it)`)
	case p.Password == "":
		return out, errs.Invalid("cardpointe.password", "is required (the Gateway uses HTTP Basic)")
	case !merchIDRe.MatchString(p.MerchID):
		return out, errs.Invalid("cardpointe.merchid", "is required: the merchant ID, up to 12 letters or digits")
	}
	return out, nil
}

// checkURL requires an absolute https URL, or http for loopback hosts (the
// sandbox), so that a misconfigured till never sends credentials in clear
// over a network.
func checkURL(key, raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return nil, errs.Invalid(key, "must be an absolute URL such as https://host/path")
	}
	switch u.Scheme {
	case "https":
	case "http":
		if !isLoopback(u.Hostname()) {
			return nil, errs.Invalid(key, "must use https (plain http is only allowed for loopback hosts)")
		}
	default:
		return nil, errs.Invalid(key, "must be an http(s) URL")
	}
	if u.User != nil {
		return nil, errs.Invalid(key, "must not carry credentials in the URL")
	}
	return u, nil
}

func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// String describes the endpoints for logs without any secret.
func (r *resolved) String() string {
	return fmt.Sprintf("oauth=%s rest=%s stomp=%v(%s:%d tls=%v)", r.oauthURL, r.restURL, r.stompEnabled, r.stompHost, r.stompPort, r.stompTLS)
}
