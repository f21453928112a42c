package auth

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"time"

	"golang.org/x/oauth2"

	"github.com/libsecucard/libsecucard/core/store"
)

// storeTimeout bounds a store write that outlives the caller's context: a
// token just obtained is worth keeping even if the caller has given up.
const storeTimeout = 5 * time.Second

// storeKey names the token of one credential identity. The device uuid or the
// user name is part of it, so two devices (or users) never share a token.
func storeKey(c *Credentials) string {
	id := ""
	switch c.Grant {
	case Device:
		id = c.DeviceUUID
	case AppUser:
		id = c.Username
	}
	sum := sha256.Sum256([]byte(c.ClientID + "\x00" + string(c.Grant) + "\x00" + id))
	return "token/" + hex.EncodeToString(sum[:])[:32]
}

// storedToken is the value kept in the store.
type storedToken struct {
	AccessToken  string    `json:"access_token"`
	TokenType    string    `json:"token_type,omitempty"`
	RefreshToken string    `json:"refresh_token,omitempty"`
	Expiry       time.Time `json:"expiry"` // RFC 3339
	Scope        string    `json:"scope,omitempty"`
	Grant        Grant     `json:"grant"`
	// ExpiresIn is the token's original lifetime in seconds; the refresh
	// margin is clamped to half of it.
	ExpiresIn int64 `json:"expires_in,omitempty"`
}

// load reads the identity's token. Anything but "not found" is logged once per
// manager and treated as absent: an unreadable store must lead to a new
// authentication, never to a failure the till cannot get out of.
func (m *Manager) load(ctx context.Context, key string, grant Grant) *oauth2.Token {
	raw, err := m.store.Get(ctx, key)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		m.warnRead("the stored token could not be read (%v); authenticating again", err)
		return nil
	}
	var st storedToken
	if err := json.Unmarshal(raw, &st); err != nil || st.AccessToken == "" {
		m.warnRead("the stored token is not a token record; authenticating again")
		return nil
	}
	if st.Grant != grant {
		m.warnRead("the stored token belongs to the %q grant, not %q; authenticating again", st.Grant, grant)
		return nil
	}
	m.log.Redactor().Set("access_token", st.AccessToken)
	m.log.Redactor().Set("refresh_token", st.RefreshToken)
	tok := &oauth2.Token{
		AccessToken:  st.AccessToken,
		TokenType:    st.TokenType,
		RefreshToken: st.RefreshToken,
		Expiry:       st.Expiry,
		ExpiresIn:    st.ExpiresIn,
	}
	return withExtra(tok, st.Scope, st.Grant)
}

func (m *Manager) warnRead(format string, args ...any) {
	if m.storeReadWarned.CompareAndSwap(false, true) {
		m.log.Warnf(format, args...)
	}
}

// save writes tok under key. A failure is logged once and otherwise ignored:
// the token stays usable in memory.
func (m *Manager) save(ctx context.Context, key string, grant Grant, tok *oauth2.Token) {
	scope, _ := tok.Extra("scope").(string)
	raw, err := json.Marshal(storedToken{
		AccessToken:  tok.AccessToken,
		TokenType:    tok.TokenType,
		RefreshToken: tok.RefreshToken,
		Expiry:       tok.Expiry,
		Scope:        scope,
		Grant:        grant,
		ExpiresIn:    tok.ExpiresIn,
	})
	if err == nil {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), storeTimeout)
		defer cancel()
		err = m.store.Put(ctx, key, raw)
	}
	if err != nil && m.storeWriteWarned.CompareAndSwap(false, true) {
		m.log.Errorf("the token could not be stored (%v); it is kept in memory only", err)
	}
}
