package core

import (
	"net"
	"net/url"
	"strings"
	"testing"

	"github.com/libsecucard/libsecucard/core/errs"
	"github.com/libsecucard/libsecucard/internal/testkit"
)

// FuzzConfig feeds host config JSON to ParseConfig (the parser behind
// secucard_client_new) and ParseCredentials (the credential callback's
// answer). Properties:
//   - a refused config gets an InvalidArgument naming a field;
//   - an accepted config never lets credentials or tokens travel in clear
//     to a remote host: every HTTP endpoint (secucard's and CardPointe's)
//     is https or a loopback host, and
//     plain STOMP is only enabled for a loopback host; no URL carries
//     credentials;
//   - no card number in the input, and no secret planted in any value
//     position, appears in an error.
//
// Seeds: testdata/fuzz/FuzzConfig.
func FuzzConfig(f *testing.F) {
	f.Add([]byte(`{"environment":"sandbox","sandbox_url":"http://127.0.0.1:8080","credentials":{"client_id":"a","client_secret":"b"}}`), 3, "s3cr3tValue99")
	f.Fuzz(func(t *testing.T, doc []byte, at int, secret string) {
		c, err := ParseConfig(doc)
		if err != nil {
			checkRefusal(t, doc, err)
		} else {
			r, err := c.resolve()
			if err != nil {
				t.Fatalf("ParseConfig accepted a config that resolve refuses: %v", err)
			}
			checkEndpoints(t, r)
		}
		if _, err := ParseCredentials(doc); err != nil {
			checkRefusal(t, doc, err)
		}

		// The same document with a secret, and with a card number, in
		// one value position: whatever the key, no error repeats it.
		s := testkit.SecretLike(secret)
		pan := testkit.TestPANs[uint(at)%uint(len(testkit.TestPANs))]
		for _, planted := range []struct{ value, secret string }{{s, s}, {pan, ""}} {
			if planted.value == "" || inKeys(doc, planted.value) {
				continue
			}
			d, ok := testkit.PlantJSON(doc, at, planted.value)
			if !ok {
				continue
			}
			if _, err := ParseConfig(d); err != nil {
				if leak := testkit.Leak(testkit.ErrorText(err), string(d), planted.secret); leak != "" {
					t.Fatalf("config %s: the error repeats the value %q: %s", d, leak, testkit.ErrorText(err))
				}
			}
			if _, err := ParseCredentials(d); err != nil {
				if leak := testkit.Leak(testkit.ErrorText(err), string(d), planted.secret); leak != "" {
					t.Fatalf("credentials %s: the error repeats the value %q: %s", d, leak, testkit.ErrorText(err))
				}
			}
		}
	})
}

// checkRefusal: a typed InvalidArgument that names a field and repeats no
// card number of the input.
func checkRefusal(t *testing.T, doc []byte, err error) {
	t.Helper()
	e := errs.As(err)
	if e.Kind != errs.InvalidArgument || e.Field == "" {
		t.Fatalf("config %q: refused with %s (field %q), want invalid_argument naming a field: %v", doc, e.Kind, e.Field, err)
	}
	if leak := testkit.Leak(testkit.ErrorText(err), string(doc)); leak != "" {
		t.Fatalf("config %q: the error repeats the card number %q: %s", doc, leak, testkit.ErrorText(err))
	}
}

func inKeys(doc []byte, v string) bool {
	for _, k := range testkit.Keys(doc) {
		if strings.Contains(k, v) {
			return true
		}
	}
	return false
}

// checkEndpoints states the transport rules of an accepted config without
// the config's own helpers.
func checkEndpoints(t *testing.T, r *resolved) {
	t.Helper()
	urls := map[string]string{"oauth": r.oauthURL, "rest": r.restURL}
	if r.cardpointe.enabled {
		// HTTP Basic with the Gateway password, card numbers: the same rule.
		urls["cardpointe"], urls["cardsecure"] = r.cardpointe.gateway, r.cardpointe.cardsecure
	}
	for name, raw := range urls {
		u, err := url.Parse(strings.TrimSpace(raw))
		if err != nil || u.Host == "" {
			t.Fatalf("accepted config: the %s URL %q does not parse to a host: %v", name, raw, err)
		}
		switch {
		case u.User != nil:
			t.Fatalf("accepted config: the %s URL %q carries credentials", name, raw)
		case u.Scheme == "https":
		case u.Scheme == "http" && loopbackHost(u.Hostname()):
		default:
			t.Fatalf("accepted config: the %s URL %q is not https and not on a loopback host", name, raw)
		}
	}
	if r.stompEnabled {
		if r.stompHost == "" || r.stompPort < 1 || r.stompPort > 65535 {
			t.Fatalf("accepted config: STOMP enabled at %q:%d", r.stompHost, r.stompPort)
		}
		if !r.stompTLS && !loopbackHost(r.stompHost) {
			t.Fatalf("accepted config: plaintext STOMP to the remote host %q", r.stompHost)
		}
	}
}

// loopbackHost: "localhost" or an IP address in a loopback range.
func loopbackHost(h string) bool {
	if strings.ToLower(h) == "localhost" {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && (ip.To4() != nil && ip.To4()[0] == 127 || ip.Equal(net.IPv6loopback))
}
