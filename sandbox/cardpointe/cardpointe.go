// Package cardpointe is the sandbox's stand-in for the CardPointe Gateway
// REST API (under /cardconnect/rest/) and the CardSecure tokenizer (under
// /cardsecure/api/v1/), as the UAT environment behaves: HTTP Basic, every
// Gateway operation, a stateful transaction lifecycle with settlement on
// demand, and the UAT emulator's test cards, amounts, postal codes and CVVs.
//
// It is an oracle: its truth is /work/shared/spec/cardpointe.md (section
// numbers in comments point there), never a client's code, and it imports
// nothing from core/. Where the spec says the real behaviour is unknown, the
// sandbox picks one answer, says so in a comment, and the README's sandbox
// section lists it.
//
// The HTTP handlers expect full request paths (/cardconnect/rest/auth), so a
// host server routes by prefix without stripping it. State lives in memory;
// every method is safe for concurrent use.
package cardpointe

import (
	"errors"
	"fmt"
	"log"
	"math/rand/v2"
	"strings"
	"sync"
	"time"
)

// Public UAT values (spec §4): the credentials and MID of CardConnect's own
// samples.
const (
	DefaultUsername = "testing"
	DefaultPassword = "testing123"
	DefaultMerchID  = "496160873888"
	DefaultCurrency = "USD"
	DefaultSite     = "sandbox"
)

// Path prefixes of the two services.
const (
	GatewayPrefix    = "/cardconnect/rest"
	CardSecurePrefix = "/cardsecure/api/v1"
	AdminPrefix      = "/sandbox/cardpointe"
)

// Options configure a Server. Zero values mean the defaults above.
type Options struct {
	Username, Password string // HTTP Basic credentials of the Gateway
	MerchID            string // the one MID those credentials may use
	Currency           string // the MID's currency (ISO alpha-3)
	// Processor is the UAT emulator the MID is boarded to: ProcFNOR (the
	// default, like the standard UAT MID) or ProcRPCT. It decides respproc,
	// the code set, and the answers of the test cards.
	Processor string
	Site      string // "site" of inquireMerchant
	// TimeoutDelay is how long an auth on a timeout test card waits before
	// answering PPS 62 "Timed out" (the real gateway: 32s). Default 0.
	TimeoutDelay time.Duration
	// Log receives one line per business event; nil: none. Lines carry
	// masked card numbers only: never a PAN, CVV, token or password.
	Log  *log.Logger
	Now  func() time.Time // clock for dates; default time.Now
	Seed uint64           // seed for retrefs, authcodes, ids; 0 = time-based
}

// Server is the CardPointe sandbox.
type Server struct {
	opts Options

	mu       sync.Mutex // guards everything below
	rng      *rand.Rand
	retrefN  uint64 // last retref sequence number
	txns     map[string]*txn
	byOrder  map[string][]*txn // orderid -> transactions, oldest first
	vault    *vault
	profiles map[string]*profile
	batches  []*batch // every batch, oldest first
	open     *batch   // the batch captures go to; nil until the first capture
	batchN   uint64
	hostN    uint64
	// reported counts the settled batches a settlestat without date or
	// batchid has returned ("since the last request", spec §2.7).
	reported  int
	fundings  []*funding
	fundedOut int // fundings a funding call without date has returned
	fundingN  uint64
}

// New builds a sandbox. It returns an error naming the first bad option.
func New(opts Options) (*Server, error) {
	for _, d := range []struct {
		v   *string
		def string
	}{
		{&opts.Username, DefaultUsername}, {&opts.Password, DefaultPassword}, {&opts.MerchID, DefaultMerchID},
		{&opts.Currency, DefaultCurrency}, {&opts.Processor, ProcFNOR}, {&opts.Site, DefaultSite},
	} {
		if *d.v == "" {
			*d.v = d.def
		}
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	switch {
	case strings.Contains(opts.Username, ":"):
		return nil, errors.New(`cardpointe: Username must not contain ":" (HTTP Basic separates the password with it)`)
	case len(opts.MerchID) > 12 || !digitsOnly(opts.MerchID):
		return nil, fmt.Errorf("cardpointe: MerchID must be up to 12 digits, got %q", opts.MerchID)
	case !isCurrency(opts.Currency):
		return nil, fmt.Errorf("cardpointe: Currency must be an ISO 4217 alpha-3 code, got %q", opts.Currency)
	case opts.Processor != ProcFNOR && opts.Processor != ProcRPCT:
		return nil, fmt.Errorf("cardpointe: Processor must be %q or %q, got %q", ProcFNOR, ProcRPCT, opts.Processor)
	case opts.TimeoutDelay < 0:
		return nil, fmt.Errorf("cardpointe: TimeoutDelay must not be negative, got %s", opts.TimeoutDelay)
	}
	opts.Currency = strings.ToUpper(opts.Currency)
	seed := opts.Seed
	if seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	s := &Server{
		opts:     opts,
		rng:      rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)),
		txns:     map[string]*txn{},
		byOrder:  map[string][]*txn{},
		vault:    newVault(),
		profiles: map[string]*profile{},
	}
	s.retrefN = s.rng.Uint64N(500_000_000)
	s.batchN = 1_900_000_000 + s.rng.Uint64N(90_000_000)
	s.hostN = s.rng.Uint64N(9_000)
	s.fundingN = 340_000_000_000 + s.rng.Uint64N(9_000_000_000)
	// The UAT test cards have tokens from the start, so a client can use
	// "their tokens" (spec §4) without tokenizing first.
	for pan := range testPANs {
		s.vault.tokenize(pan, false)
	}
	for pan := range timeoutPANs {
		s.vault.tokenize(pan, false)
	}
	for _, pan := range []string{partialPAN, "4111111111111111", "4444333322221111"} {
		s.vault.tokenize(pan, false)
	}
	return s, nil
}

// Credentials are the Gateway's HTTP Basic user, password and MID.
func (s *Server) Credentials() (username, password, merchid string) {
	return s.opts.Username, s.opts.Password, s.opts.MerchID
}

// logf writes one line to the optional log. Callers pass masked values only.
func (s *Server) logf(format string, args ...any) {
	if s.opts.Log != nil {
		s.opts.Log.Printf("cardpointe: "+format, args...)
	}
}

func isCurrency(c string) bool {
	if len(c) != 3 {
		return false
	}
	for i := 0; i < 3; i++ {
		if ch := c[i] | 0x20; ch < 'a' || ch > 'z' {
			return false
		}
	}
	return true
}

// newRetref makes a 12-digit retrieval reference like the recorded ones:
// the day of the year, then nine digits (spec §2.2: "117196149700" on
// 27 April). A sequence keeps them unique.
func (s *Server) newRetref() string {
	s.retrefN = (s.retrefN + 1) % 1_000_000_000
	return fmt.Sprintf("%03d%09d", s.now().YearDay(), s.retrefN)
}

// newAuthcode is the UAT emulator's issuer authcode: "PPS" and three digits.
func (s *Server) newAuthcode() string { return fmt.Sprintf("PPS%03d", s.rng.IntN(1000)) }

// newProfileID is a 20-digit profile id.
func (s *Server) newProfileID() string {
	for {
		id := fmt.Sprintf("1%019d", s.rng.Uint64N(1e19))
		if _, taken := s.profiles[id]; !taken {
			return id
		}
	}
}
