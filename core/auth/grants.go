package auth

import (
	"context"

	"golang.org/x/oauth2"

	"github.com/libsecucard/libsecucard/core/errs"
)

// runGrant runs the configured grant and reports the outcome as an event.
func (m *Manager) runGrant(ctx context.Context, c *Credentials) (*oauth2.Token, error) {
	m.log.Debugf("authenticating with the %s grant", c.Grant)
	var tok *oauth2.Token
	var err error
	switch c.Grant {
	case Device:
		tok, err = m.device(ctx, c)
	case AppUser:
		tok, err = m.appUser(ctx, c)
	default:
		tok, err = m.clientCredentials(ctx, c)
	}
	if err != nil {
		e := errs.As(err)
		state := StateFailed
		if e.Kind == errs.Canceled || (e.Kind == errs.Auth && e.Reason == errs.ReasonCanceled) {
			state = StateCanceled
		}
		m.log.Infof("%s authentication %s: %v", c.Grant, state, e)
		m.emit(Event{State: state, Grant: c.Grant, Error: e})
		return nil, e
	}
	m.log.Infof("%s authentication succeeded", c.Grant)
	m.emit(Event{State: StateOK, Grant: c.Grant})
	return tok, nil
}

func (m *Manager) clientCredentials(ctx context.Context, c *Credentials) (*oauth2.Token, error) {
	a, err := m.post(ctx, opToken, baseForm(c, string(ClientCredentials)))
	if err != nil {
		return nil, err
	}
	return m.tokenFrom(opToken, a, ClientCredentials)
}

// refresh runs the refresh_token grant for cur. The answer may rotate the
// refresh token or omit it; without one the old refresh token stays (spec §2.6).
func (m *Manager) refresh(ctx context.Context, c *Credentials, cur *oauth2.Token) (*oauth2.Token, error) {
	m.log.Debugf("refreshing the access token")
	form := baseForm(c, "refresh_token")
	form.Set("refresh_token", cur.RefreshToken)
	a, err := m.post(ctx, opRefresh, form)
	if err != nil {
		return nil, err
	}
	tok, err := m.tokenFrom(opRefresh, a, c.Grant)
	if err != nil {
		return nil, err
	}
	if tok.RefreshToken == "" {
		tok.RefreshToken = cur.RefreshToken
	}
	m.refreshes.Add(1)
	return tok, nil
}

// appUser runs the appuser grant, asking the Provider for the password when
// the credentials hold none. A prompted password is used for this request only
// and never kept.
func (m *Manager) appUser(ctx context.Context, c *Credentials) (*oauth2.Token, error) {
	password := c.Password
	if password == "" {
		if m.cfg.Provider == nil {
			return nil, errs.AuthError(opToken, errs.ReasonNoCredentials, "the app user's password is not configured and no credential provider is set")
		}
		got, err := m.cfg.Provider.Credentials(ctx, PromptRequest{
			Grant:  AppUser,
			Fields: []string{"password"},
			Reason: "the password of the app user is needed to sign in",
		})
		if err != nil {
			return nil, declined(opToken, "the password", err)
		}
		if got.Password == "" {
			return nil, errs.AuthError(opToken, errs.ReasonNoCredentials, "the credential provider gave no password")
		}
		password = got.Password
		m.log.Redactor().Set("password", password)
	}
	form := baseForm(c, string(AppUser))
	form.Set("username", c.Username)
	form.Set("password", password)
	if c.DeviceID != "" {
		form.Set("device", c.DeviceID)
	}
	for k, v := range c.DeviceInfo {
		form.Set("deviceinfo["+k+"]", v)
	}
	a, err := m.post(ctx, opToken, form)
	if err != nil {
		return nil, err
	}
	return m.tokenFrom(opToken, a, AppUser)
}
