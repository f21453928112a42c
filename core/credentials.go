package core

import (
	"strings"

	"github.com/libsecucard/libsecucard/core/auth"
	"github.com/libsecucard/libsecucard/core/internal/strictjson"
)

// ParseCredentials decodes a credentials JSON object (the keys of the config's
// "credentials") strictly, for run-time credential providers such as the C
// credential callback: an unknown key or a wrong type is an error naming it.
// It may be partial (a prompted password alone); the auth manager checks what
// the grant needs.
func ParseCredentials(b []byte) (auth.Credentials, error) {
	var cr Credentials
	if err := strictjson.Decode(b, &cr, "credentials"); err != nil {
		return auth.Credentials{}, err
	}
	// A partial answer (a password alone) must not have a grant inferred.
	return cr.toAuth(strings.ToLower(cr.Grant)), nil
}

// toAuth converts to the auth package's credentials with the given grant.
func (cr *Credentials) toAuth(grant string) auth.Credentials {
	return auth.Credentials{
		Grant: auth.Grant(grant), ClientID: cr.ClientID, ClientSecret: cr.ClientSecret,
		DeviceUUID: cr.DeviceUUID, Username: cr.Username, Password: cr.Password,
		DeviceID: cr.DeviceID, DeviceInfo: cr.DeviceInfo,
	}
}
