// Package auth owns credentials, the OAuth grants of the secucard token
// endpoint (spec §2) and the token lifecycle: memory, store, refresh, the
// interactive device and app-user flows, and single-flight so that however
// many goroutines need a token, at most one token request is on the wire.
//
// Every grant goes through one internal form-POST function (endpoint.go)
// rather than golang.org/x/oauth2's clientcredentials/Config: two of the four
// grants (device, appuser) are not standard OAuth and x/oauth2 cannot send
// them; its RetrieveError hides Retry-After and would need a second error
// mapping; and clientcredentials caches tokens on its own, which would fight
// the manager's store and single-flight. One function gives one place for the
// encoding (form, client credentials as body parameters, never HTTP Basic),
// retries, request counting and error mapping. *oauth2.Token stays the token
// type and TokenSource adapts the manager for Go users.
package auth

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/libsecucard/libsecucard/core/call"
	"github.com/libsecucard/libsecucard/core/errs"
	"github.com/libsecucard/libsecucard/core/logging"
	"github.com/libsecucard/libsecucard/core/retry"
	"github.com/libsecucard/libsecucard/core/store"
)

// Grant names a way to obtain a token.
type Grant string

// The grants (spec §2.2).
const (
	ClientCredentials Grant = "client_credentials"
	Device            Grant = "device"
	AppUser           Grant = "appuser"
)

// interactive reports whether the grant needs a person (approve a device code,
// type a password), so it may only run from Open.
func (g Grant) interactive() bool { return g == Device || g == AppUser }

// subject names what an interactive grant authorizes, for messages.
func (g Grant) subject() string {
	if g == AppUser {
		return "user"
	}
	return "device"
}

// Credentials identify the client and, for the device and app-user grants, the
// device or the user. They are the one credentials type of the library: the
// config's "credentials" object and the credential callback's answer decode
// into it (the JSON tags are those keys), and Normalize is the one check both
// pass. Grant defaults to client_credentials, or device when DeviceUUID is
// set, or appuser when Username is set.
type Credentials struct {
	Grant        Grant             `json:"grant,omitempty"` // client_credentials | device | appuser
	ClientID     string            `json:"client_id,omitempty"`
	ClientSecret string            `json:"client_secret,omitempty"`
	DeviceUUID   string            `json:"device_uuid,omitempty"` // device grant: vendor path such as /vendor/acme/pos/17
	Username     string            `json:"username,omitempty"`    // appuser
	Password     string            `json:"password,omitempty"`    // appuser; empty: the Provider is asked for it
	DeviceID     string            `json:"device_id,omitempty"`   // appuser: optional "device" param
	DeviceInfo   map[string]string `json:"device_info,omitempty"` // appuser: sent as deviceinfo[key]=value
}

// PromptRequest tells a Provider what is needed (JSON is what the C host receives).
type PromptRequest struct {
	Grant  Grant    `json:"grant,omitempty"`
	Fields []string `json:"fields"` // e.g. ["password"] or ["client_id","client_secret"]
	Reason string   `json:"reason"` // human text, no secrets
}

// Provider supplies credentials at run time (the C credential prompt callback
// sits behind it). Returning an error means "declined": the auth fails with
// Reason errs.ReasonCanceled - unless the error is itself an auth *errs.Error,
// whose reason is kept (a provider with nobody to ask says no_credentials).
type Provider interface {
	Credentials(ctx context.Context, req PromptRequest) (Credentials, error)
}

// ProviderFunc adapts a function to Provider.
type ProviderFunc func(ctx context.Context, req PromptRequest) (Credentials, error)

// Credentials implements Provider.
func (f ProviderFunc) Credentials(ctx context.Context, req PromptRequest) (Credentials, error) {
	return f(ctx, req)
}

// Event states.
const (
	StateDeviceCode = "device_code"
	StatePending    = "pending"
	StateOK         = "ok"
	StateFailed     = "failed"
	StateCanceled   = "canceled"
	StateRefreshed  = "refreshed"
)

// Event reports auth progress; the C API forwards it as {"kind":"auth", ...these fields}.
type Event struct {
	State           string      `json:"state"` // "device_code" | "pending" | "ok" | "failed" | "canceled" | "refreshed"
	Grant           Grant       `json:"grant,omitempty"`
	UserCode        string      `json:"user_code,omitempty"`
	VerificationURL string      `json:"verification_url,omitempty"`
	ExpiresIn       int         `json:"expires_in,omitempty"`
	Interval        int         `json:"interval,omitempty"`
	Error           *errs.Error `json:"error,omitempty"`
}

// Observer receives events. It is called without any lock held and may be
// called from any goroutine.
type Observer func(Event)

// Config configures a Manager with values the client resolved from its
// config; the manager fills in none of them.
type Config struct {
	TokenURL      string
	HTTPClient    *http.Client    // nil: a client with a 30 s timeout; core passes one with its TLS config
	UserAgent     string          // sent on every token request
	Credentials   *Credentials    // nil: ask Provider (fields client_id, client_secret, grant...)
	Provider      Provider        // may be nil
	Store         store.Store     // nil: store.NewMemory(); core passes a store.Sealed
	Observer      Observer        // may be nil
	Logger        *logging.Logger // may be nil
	RefreshMargin time.Duration   // refresh this long before expiry (clamped to half the token lifetime)
	WaitTimeout   time.Duration   // device flow overall cap; deadline = min(expires_in, WaitTimeout)
	// Policy bounds token-request repeats. Token requests cannot charge, so
	// call.Decide repeats them after network errors, 5xx and 429.
	Policy   call.Policy
	TimeUnit time.Duration    // the length of one wire "second" for interval/slow_down; 0: time.Second (tests shrink it)
	Sleep    retry.Sleeper    // nil: retry.Sleep (tests replace it)
	Now      func() time.Time // nil: time.Now
}

// Stats counts token traffic.
type Stats struct {
	TokenRequests int64 // every POST to the token endpoint, retries and device polls included
	Refreshes     int64 // successful refresh_token grants
}

// Wire facts (not configuration).
const (
	defaultHTTPTimeout = 30 * time.Second // only without an HTTPClient (tests): spec §1.2 rest.responseTimeoutSec
	defaultExpiresIn   = 1200             // spec §2.3: expires_in absent => 1200 s
	defaultInterval    = 5                // spec §2.5: interval <= 0 => 5 s
	slowDownStep       = 5                // RFC 8628 §3.5: slow_down adds 5 s
)

// The op names used in errors.
const (
	opToken   = "oauth.token"
	opDevice  = "oauth.device"
	opRefresh = "oauth.refresh"
	opStore   = "auth.store"
	opCreds   = "auth.credentials"
)

// declined turns a Provider's refusal into the auth error callers see.
func declined(op, what string, err error) *errs.Error {
	var e *errs.Error
	if errors.As(err, &e) && e.Kind == errs.Auth {
		return e
	}
	e = errs.AuthError(op, errs.ReasonCanceled, "the credential provider declined to give %s", what)
	e.Err = err
	return e
}
