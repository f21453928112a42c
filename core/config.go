package core

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"net"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/libsecucard/libsecucard/core/errs"
	"github.com/libsecucard/libsecucard/core/internal/strictjson"
	"github.com/libsecucard/libsecucard/core/logging"
	"github.com/libsecucard/libsecucard/core/redact"
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
	EnvProduction = "production" // the defaults above
	EnvSandbox    = "sandbox"    // a running secucard-sandbox at SandboxURL
	EnvCustom     = "custom"     // explicit OAuthURL and RESTURL (and STOMP host/port)
)

// Config is the client configuration. The JSON tags are the keys of the config
// JSON the C API accepts; unknown keys and ill-typed values are rejected with
// an error naming the key. Zero values mean "default". Durations are integer
// milliseconds so that C hosts need no duration syntax.
type Config struct {
	Environment string `json:"environment,omitempty"` // production (default) | sandbox | custom
	SandboxURL  string `json:"sandbox_url,omitempty"` // sandbox: base URL printed by secucard-sandbox, e.g. http://127.0.0.1:41234
	OAuthURL    string `json:"oauth_url,omitempty"`   // overrides the environment's token endpoint
	RESTURL     string `json:"rest_url,omitempty"`    // overrides the environment's REST base (no trailing slash needed)
	Language    string `json:"language,omitempty"`    // Accept-Language for error_user texts: "en" (default) or "de"
	AppID       string `json:"app_id,omitempty"`      // default app id for custom app calls

	Credentials *Credentials `json:"credentials,omitempty"` // nil: ask the credential provider at run time
	Auth        AuthConfig   `json:"auth,omitempty"`
	Timeouts    Timeouts     `json:"timeouts,omitempty"`
	TLS         TLSConfig    `json:"tls,omitempty"`
	Retry       RetryConfig  `json:"retry,omitempty"`
	Store       StoreConfig  `json:"store,omitempty"`
	STOMP       STOMPConfig  `json:"stomp,omitempty"`
	Events      EventsConfig `json:"events,omitempty"`

	// Idempotency adds an X-Action id to every mutating call (default true).
	// With it off, a POST is never retried once its request was written.
	Idempotency *bool `json:"idempotency,omitempty"`
	// AllowUnknownResources lets calls through for product.resource names the
	// catalog does not know (new server resources). Off by default so that a
	// typo at the till fails fast with a suggestion.
	AllowUnknownResources bool   `json:"allow_unknown_resources,omitempty"`
	LogLevel              string `json:"log_level,omitempty"` // error|warn|info (default)|debug|trace|off
}

// Credentials identify the client and, for the device and app-user grants, the
// device or user. Grant defaults to client_credentials, or device when
// DeviceUUID is set, or appuser when Username is set.
type Credentials struct {
	Grant        string            `json:"grant,omitempty"` // client_credentials | device | appuser
	ClientID     string            `json:"client_id,omitempty"`
	ClientSecret string            `json:"client_secret,omitempty"`
	DeviceUUID   string            `json:"device_uuid,omitempty"` // device grant: vendor path, e.g. /vendor/acme/pos/17
	Username     string            `json:"username,omitempty"`    // appuser grant
	Password     string            `json:"password,omitempty"`    // appuser grant; may be left empty to prompt
	DeviceID     string            `json:"device_id,omitempty"`   // appuser grant: optional device id
	DeviceInfo   map[string]string `json:"device_info,omitempty"` // appuser grant: sent as deviceinfo[...]
}

// AuthConfig tunes token handling.
type AuthConfig struct {
	WaitTimeoutMS   int `json:"wait_timeout_ms,omitempty"`   // device flow cap, default 300000 (spec §1.2)
	RefreshMarginMS int `json:"refresh_margin_ms,omitempty"` // refresh this long before expiry, default 60000
}

// Timeouts for the HTTP channel.
type Timeouts struct {
	ConnectMS  int `json:"connect_ms,omitempty"`  // TCP+TLS connect, default 30000
	ResponseMS int `json:"response_ms,omitempty"` // whole call without an explicit timeout_ms, default 30000
}

// TLSConfig. Verification is always on; there is deliberately no skip-verify.
type TLSConfig struct {
	CAFile     string `json:"ca_file,omitempty"`     // PEM bundle to trust instead of the system roots
	MinVersion string `json:"min_version,omitempty"` // "1.2" (default) or "1.3"
}

// RetryConfig bounds retries (rest.ShouldRetry decides which calls qualify).
type RetryConfig struct {
	MaxAttempts      int `json:"max_attempts,omitempty"`       // total attempts per call, default 3; 1 disables retries
	InitialBackoffMS int `json:"initial_backoff_ms,omitempty"` // default 200
	MaxBackoffMS     int `json:"max_backoff_ms,omitempty"`     // default 5000
}

// StoreConfig selects token storage.
type StoreConfig struct {
	Type string `json:"type,omitempty"` // memory (default) | sqlite | callback (host storage callbacks)
	Path string `json:"path,omitempty"` // sqlite: database file, created 0600
	// EncryptionKey is 64 hex characters (AES-256). Without it a key is derived
	// from the client secret and device uuid, which only protects the file on
	// its own (see store.DeriveKey).
	EncryptionKey string `json:"encryption_key,omitempty"`
}

// STOMPConfig configures the STOMP channel (spec §1.2, §4).
type STOMPConfig struct {
	Enabled                 *bool  `json:"enabled,omitempty"` // default true in production/custom; sandbox: true when port is set
	Host                    string `json:"host,omitempty"`
	Port                    int    `json:"port,omitempty"`
	TLS                     *bool  `json:"tls,omitempty"` // default true; the sandbox listens plain unless started with TLS
	VirtualHost             string `json:"vhost,omitempty"`
	Destination             string `json:"destination,omitempty"`                // default /exchange/connect.api/
	ReplyQueue              string `json:"reply_queue,omitempty"`                // default /temp-queue/main
	HeartbeatMS             int    `json:"heartbeat_ms,omitempty"`               // heart-beat and idle session refresh, default 30000
	ConnectTimeoutMS        int    `json:"connect_timeout_ms,omitempty"`         // TCP + TLS + CONNECTED, default 20000
	MessageTimeoutMS        int    `json:"message_timeout_ms,omitempty"`         // reply wait of STOMP calls without timeout_ms, default 120000
	SessionRefreshTimeoutMS int    `json:"session_refresh_timeout_ms,omitempty"` // auth.sessions refresh reply, default 15000
	// Routing: "auto" (default; DESIGN §2), "rest" (never STOMP) or "stomp"
	// (every call over STOMP).
	Routing string `json:"routing,omitempty"`
}

// EventsConfig configures the event pipeline.
type EventsConfig struct {
	QueueSize int `json:"queue_size,omitempty"` // default 1024; when full the oldest event is dropped and counted
	// Dedupe drops a push whose id was among the last 4096 push ids
	// (default true): a redelivery after a reconnect, or the webhook copy
	// of a STOMP push. false delivers every copy.
	Dedupe       *bool `json:"dedupe,omitempty"`
	FetchChanged bool  `json:"fetch_changed,omitempty"` // fetch the objects named by "changed" events' {object,id} stubs
}

// ParseConfig decodes the host's config JSON strictly and validates it.
func ParseConfig(b []byte) (Config, error) {
	var c Config
	if err := strictjson.Decode(b, &c, "config"); err != nil {
		return Config{}, err
	}
	if err := c.Validate(); err != nil {
		return Config{}, errs.Redact(err, redact.ForJSON(b))
	}
	return c, nil
}

// resolved is Config with every default applied and durations typed.
type resolved struct {
	Config
	oauthURL, restURL string
	stompEnabled      bool
	stompHost         string
	stompPort         int
	stompTLS          bool
	stompHeartbeat    time.Duration
	stompConnect      time.Duration
	stompMessage      time.Duration
	stompRefresh      time.Duration
	connectTimeout    time.Duration
	responseTimeout   time.Duration
	refreshMargin     time.Duration
	waitTimeout       time.Duration
	idempotency       bool
	logLevel          logging.Level
	tls               *tls.Config
	storeKey          []byte
}

func ms(v, def int) time.Duration {
	if v <= 0 {
		v = def
	}
	return time.Duration(v) * time.Millisecond
}

// Validate checks the config and names the first bad key.
func (c *Config) Validate() error {
	_, err := c.resolve()
	return err
}

func (c *Config) resolve() (*resolved, error) {
	r := &resolved{Config: *c}
	switch strings.ToLower(c.Environment) {
	case "", EnvProduction:
		r.oauthURL, r.restURL = ProductionOAuthURL, ProductionRESTURL
		r.stompHost, r.stompPort, r.stompTLS, r.stompEnabled = ProductionSTOMPHost, ProductionSTOMPPort, true, true
	case EnvSandbox:
		if c.SandboxURL == "" && (c.OAuthURL == "" || c.RESTURL == "") {
			return nil, errs.Invalid("sandbox_url", `is required for environment "sandbox" (the base URL secucard-sandbox printed)`)
		}
		base := strings.TrimRight(c.SandboxURL, "/")
		r.oauthURL, r.restURL = base+"/oauth/token", base+"/api/v2"
		if u, err := url.Parse(base); err == nil {
			r.stompHost = u.Hostname()
		}
		r.stompEnabled = c.STOMP.Port != 0
	case EnvCustom:
		if c.OAuthURL == "" {
			return nil, errs.Invalid("oauth_url", `is required for environment "custom"`)
		}
		if c.RESTURL == "" {
			return nil, errs.Invalid("rest_url", `is required for environment "custom"`)
		}
		r.stompPort, r.stompTLS, r.stompEnabled = ProductionSTOMPPort, true, true
	default:
		return nil, errs.Invalid("environment", `must be "production", "sandbox" or "custom", got %q`, c.Environment)
	}
	if c.OAuthURL != "" {
		r.oauthURL = c.OAuthURL
	}
	if c.RESTURL != "" {
		r.restURL = strings.TrimRight(c.RESTURL, "/")
	}
	for _, u := range []struct{ key, v string }{{"oauth_url", r.oauthURL}, {"rest_url", r.restURL}, {"sandbox_url", c.SandboxURL}} {
		if u.v == "" {
			continue
		}
		if err := checkURL(u.key, u.v); err != nil {
			return nil, err
		}
	}

	switch strings.ToLower(c.Language) {
	case "", "en", "de":
	default:
		return nil, errs.Invalid("language", `must be "en" or "de", got %q`, c.Language)
	}
	if c.Credentials != nil {
		if err := c.Credentials.validate(); err != nil {
			return nil, err
		}
	}

	// Timeouts.
	for _, v := range []struct {
		key string
		val int
	}{
		{"auth.wait_timeout_ms", c.Auth.WaitTimeoutMS}, {"auth.refresh_margin_ms", c.Auth.RefreshMarginMS},
		{"timeouts.connect_ms", c.Timeouts.ConnectMS}, {"timeouts.response_ms", c.Timeouts.ResponseMS},
		{"retry.max_attempts", c.Retry.MaxAttempts}, {"retry.initial_backoff_ms", c.Retry.InitialBackoffMS},
		{"retry.max_backoff_ms", c.Retry.MaxBackoffMS}, {"stomp.port", c.STOMP.Port},
		{"stomp.heartbeat_ms", c.STOMP.HeartbeatMS}, {"stomp.connect_timeout_ms", c.STOMP.ConnectTimeoutMS},
		{"stomp.message_timeout_ms", c.STOMP.MessageTimeoutMS}, {"stomp.session_refresh_timeout_ms", c.STOMP.SessionRefreshTimeoutMS},
		{"events.queue_size", c.Events.QueueSize},
	} {
		if v.val < 0 {
			return nil, errs.Invalid(v.key, "must not be negative")
		}
	}
	if c.STOMP.Port > 65535 {
		return nil, errs.Invalid("stomp.port", "must be 1..65535, got %d", c.STOMP.Port)
	}
	if c.Retry.MaxAttempts > 10 {
		return nil, errs.Invalid("retry.max_attempts", "must be at most 10, got %d", c.Retry.MaxAttempts)
	}
	if c.STOMP.HeartbeatMS != 0 && c.STOMP.HeartbeatMS < 1000 {
		return nil, errs.Invalid("stomp.heartbeat_ms", "must be at least 1000 (or 0 for the default)")
	}
	r.connectTimeout = ms(c.Timeouts.ConnectMS, 30000)
	r.responseTimeout = ms(c.Timeouts.ResponseMS, 30000)
	r.refreshMargin = ms(c.Auth.RefreshMarginMS, 60000)
	r.waitTimeout = ms(c.Auth.WaitTimeoutMS, 300000)

	// STOMP.
	if c.STOMP.Enabled != nil {
		r.stompEnabled = *c.STOMP.Enabled
	}
	if c.STOMP.Host != "" {
		r.stompHost = c.STOMP.Host
	}
	if c.STOMP.Port != 0 {
		r.stompPort = c.STOMP.Port
	}
	if c.STOMP.TLS != nil {
		r.stompTLS = *c.STOMP.TLS
	}
	switch strings.ToLower(c.STOMP.Routing) {
	case "", "auto", "rest", "stomp":
	default:
		return nil, errs.Invalid("stomp.routing", `must be "auto", "rest" or "stomp", got %q`, c.STOMP.Routing)
	}
	if r.stompEnabled {
		if r.stompHost == "" {
			return nil, errs.Invalid("stomp.host", "is required when STOMP is enabled")
		}
		if r.stompPort == 0 {
			return nil, errs.Invalid("stomp.port", "is required when STOMP is enabled")
		}
		if !r.stompTLS && !isLoopback(r.stompHost) {
			return nil, errs.Invalid("stomp.tls", "may only be false for a loopback host (the sandbox); %q is not one", r.stompHost)
		}
	}
	if strings.EqualFold(c.STOMP.Routing, "stomp") && !r.stompEnabled {
		return nil, errs.Invalid("stomp.routing", `is "stomp" but STOMP is disabled`)
	}
	for _, v := range []struct{ key, val string }{{"stomp.destination", c.STOMP.Destination}, {"stomp.reply_queue", c.STOMP.ReplyQueue}} {
		if v.val != "" && (!strings.HasPrefix(v.val, "/") || strings.ContainsAny(v.val, " \r\n\x00")) {
			return nil, errs.Invalid(v.key, `must be a STOMP destination starting with "/", got %q`, v.val)
		}
	}
	// Java SDK defaults (spec §4.9): heart-beat and idle refresh 30 s,
	// CONNECTED within 20 s, replies within 120 s, refresh replies within 15 s.
	r.stompHeartbeat = ms(c.STOMP.HeartbeatMS, 30000)
	r.stompConnect = ms(c.STOMP.ConnectTimeoutMS, 20000)
	r.stompMessage = ms(c.STOMP.MessageTimeoutMS, 120000)
	r.stompRefresh = ms(c.STOMP.SessionRefreshTimeoutMS, 15000)

	r.idempotency = c.Idempotency == nil || *c.Idempotency

	lvl, ok := logging.ParseLevel(c.LogLevel)
	if !ok {
		return nil, errs.Invalid("log_level", `must be one of off, error, warn, info, debug, trace; got %q`, c.LogLevel)
	}
	r.logLevel = lvl

	tlsCfg, err := c.TLS.build()
	if err != nil {
		return nil, err
	}
	r.tls = tlsCfg

	switch strings.ToLower(c.Store.Type) {
	case "", "memory", "callback":
		if c.Store.Path != "" {
			return nil, errs.Invalid("store.path", `is only used with store.type "sqlite"`)
		}
	case "sqlite":
		if c.Store.Path == "" {
			return nil, errs.Invalid("store.path", `is required for store.type "sqlite"`)
		}
	default:
		return nil, errs.Invalid("store.type", `must be "memory", "sqlite" or "callback", got %q`, c.Store.Type)
	}
	if c.Store.EncryptionKey != "" {
		k, err := hex.DecodeString(c.Store.EncryptionKey)
		if err != nil || len(k) != 32 {
			return nil, errs.Invalid("store.encryption_key", "must be 64 hexadecimal characters (32 bytes)")
		}
		r.storeKey = k
	}
	return r, nil
}

func (cr *Credentials) validate() error {
	switch cr.EffectiveGrant() {
	case "client_credentials":
	case "device":
		if cr.DeviceUUID == "" {
			return errs.Invalid("credentials.device_uuid", `is required for grant "device"`)
		}
	case "appuser":
		if cr.Username == "" {
			return errs.Invalid("credentials.username", `is required for grant "appuser"`)
		}
	default:
		return errs.Invalid("credentials.grant", `must be "client_credentials", "device" or "appuser", got %q`, cr.Grant)
	}
	if cr.ClientID == "" {
		return errs.Invalid("credentials.client_id", "is required")
	}
	if cr.ClientSecret == "" {
		return errs.Invalid("credentials.client_secret", "is required")
	}
	return nil
}

// EffectiveGrant returns the grant, inferring it when Grant is empty.
func (cr *Credentials) EffectiveGrant() string {
	switch {
	case cr.Grant != "":
		return strings.ToLower(cr.Grant)
	case cr.DeviceUUID != "":
		return "device"
	case cr.Username != "":
		return "appuser"
	}
	return "client_credentials"
}

func (t TLSConfig) build() (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	switch t.MinVersion {
	case "", "1.2":
	case "1.3":
		cfg.MinVersion = tls.VersionTLS13
	default:
		return nil, errs.Invalid("tls.min_version", `must be "1.2" or "1.3", got %q`, t.MinVersion)
	}
	if t.CAFile != "" {
		pem, err := os.ReadFile(t.CAFile)
		if err != nil {
			return nil, errs.Invalid("tls.ca_file", "cannot be read: %v", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, errs.Invalid("tls.ca_file", "holds no PEM certificate")
		}
		cfg.RootCAs = pool
	}
	return cfg, nil
}

// checkURL requires https, except for loopback hosts (the sandbox), so that a
// misconfigured till never sends credentials in clear over a network.
func checkURL(key, raw string) error {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return errs.Invalid(key, "must be an absolute URL, got %q", raw)
	}
	switch u.Scheme {
	case "https":
	case "http":
		if !isLoopback(u.Hostname()) {
			return errs.Invalid(key, "must use https (plain http is only allowed for loopback hosts), got %q", raw)
		}
	default:
		return errs.Invalid(key, "must be an http(s) URL, got %q", raw)
	}
	if u.User != nil {
		return errs.Invalid(key, "must not carry credentials in the URL")
	}
	return nil
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
