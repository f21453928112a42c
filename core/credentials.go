package core

import (
	"github.com/libsecucard/libsecucard/core/auth"
	"github.com/libsecucard/libsecucard/core/internal/strictjson"
)

// Credentials is the one credentials type (auth.Credentials): the config's
// "credentials" object and a credential provider's answer are both one.
type Credentials = auth.Credentials

// ParseCredentials decodes a credentials JSON object (the keys of the config's
// "credentials") strictly, for run-time credential providers such as the C
// credential callback: an unknown key or a wrong type is an error naming it,
// as in the config. It may be partial (a prompted password alone); the auth
// manager checks the answer with auth.Credentials.Normalize, the same check
// the config's credentials pass.
func ParseCredentials(b []byte) (auth.Credentials, error) {
	var cr auth.Credentials
	if err := strictjson.DecodeAt(b, &cr, "credentials", "credentials"); err != nil {
		return auth.Credentials{}, err
	}
	return cr, nil
}
