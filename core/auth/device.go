package auth

import (
	"context"
	"errors"
	"time"

	"golang.org/x/oauth2"

	"github.com/libsecucard/libsecucard/core/errs"
)

// Causes that end a device flow, told apart from the caller's own context.
var (
	errDeviceCanceled = errors.New("device authorization canceled")
	errDeviceDeadline = errors.New("device authorization deadline passed")
)

// device runs the two-step device grant (spec §2.2, §2.5): request codes,
// report them, poll until someone approves them, it is refused, the code
// expires, the deadline passes or the flow is canceled.
func (m *Manager) device(ctx context.Context, c *Credentials) (*oauth2.Token, error) {
	dctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	m.mu.Lock()
	m.deviceCancel = cancel
	m.mu.Unlock()
	defer func() {
		m.mu.Lock()
		m.deviceCancel = nil
		m.mu.Unlock()
	}()

	step1 := baseForm(c, string(Device))
	step1.Set("uuid", c.DeviceUUID)
	a, err := m.post(dctx, opDevice, step1)
	if err != nil {
		if dctx.Err() != nil {
			return nil, deviceEnd(ctx, dctx)
		}
		return nil, err
	}
	if a.status/100 != 2 {
		return nil, failure(opDevice, a)
	}
	codes := a.body
	verificationURL := codes.VerificationURL
	if verificationURL == "" {
		verificationURL = codes.VerificationURI
	}
	if !a.parsed || codes.DeviceCode == "" || codes.UserCode == "" || verificationURL == "" {
		// Java rejects such answers the same way (spec §2.3).
		return nil, errs.AuthError(opDevice, "", "the token endpoint gave no valid device code, user code or verification URL")
	}
	m.log.Redactor().Set("device_code", codes.DeviceCode)
	interval := int(codes.Interval)
	if interval <= 0 {
		interval = defaultInterval
	}
	window := m.cfg.WaitTimeout
	if codes.ExpiresIn > 0 {
		if exp := time.Duration(codes.ExpiresIn) * time.Second; exp < window {
			window = exp
		}
	}
	pctx, stop := context.WithTimeoutCause(dctx, window, errDeviceDeadline)
	defer stop()

	m.log.Infof("device code issued; waiting up to %s for approval at %s", window, verificationURL)
	progress := Event{Grant: Device, UserCode: codes.UserCode, VerificationURL: verificationURL, ExpiresIn: int(codes.ExpiresIn), Interval: interval}
	ev := progress
	ev.State = StateDeviceCode
	m.emit(ev)

	// Step 2 sends the device code and no uuid (Java clears it, spec §2.2).
	step2 := baseForm(c, string(Device))
	step2.Set("code", codes.DeviceCode)
	for {
		if err := m.cfg.Sleep(pctx, time.Duration(interval)*m.cfg.TimeUnit); err != nil {
			return nil, deviceEnd(ctx, pctx)
		}
		a, err := m.post(pctx, opDevice, step2)
		if err != nil {
			if pctx.Err() != nil {
				return nil, deviceEnd(ctx, pctx)
			}
			if errs.As(err).Retryable {
				// A flaky network must not end an approval the cashier is
				// typing in; the deadline still bounds the flow.
				m.log.Warnf("device poll failed, polling on: %v", err)
				continue
			}
			return nil, err
		}
		if a.status/100 == 2 {
			return m.tokenFrom(opDevice, a, Device)
		}
		switch {
		case a.body.Error == "slow_down":
			// No SDK handles slow_down and whether the server sends it is
			// unknown (spec §2.4); RFC 8628 §3.5 says add 5 seconds.
			interval += slowDownStep
			m.log.Debugf("the server asked to slow down; polling every %d s", interval)
		case a.body.Error == "authorization_pending" || (a.status == 401 && a.body.Error == ""):
			// The server sends authorization_pending with 401 (spec §2.4), RFC
			// 8628 with 400: the code alone decides. A bare 401 is pending as
			// in Java; a 401 naming another error ends the flow below.
		default:
			return nil, failure(opDevice, a)
		}
		ev := progress
		ev.State, ev.Interval = StatePending, interval
		m.emit(ev)
	}
}

// deviceEnd names why a device flow stopped early: canceled by CancelDevice
// or the caller, or out of time (the code's lifetime, WaitTimeout, or the
// caller's deadline).
func deviceEnd(parent, flow context.Context) *errs.Error {
	switch {
	case errors.Is(context.Cause(flow), errDeviceCanceled):
		return errs.AuthError(opDevice, errs.ReasonCanceled, "the device authorization was canceled")
	case errors.Is(parent.Err(), context.Canceled):
		return errs.AuthError(opDevice, errs.ReasonCanceled, "the caller canceled the device authorization")
	}
	return errs.AuthError(opDevice, errs.ReasonTimeout, "nobody approved the device code in time")
}
