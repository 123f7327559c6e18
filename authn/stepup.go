package authn

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// StepUp is a route's requirement on how the user authenticated (RFC 9470): how strongly
// (acr, amr) and how recently (auth_time).
type StepUp struct {
	// ACRValues lists acceptable acr values; the token's acr must be one of them. Nil
	// means any acr, or none.
	ACRValues []string
	// AMR lists authentication methods that must all appear in the token's amr ("mfa",
	// "otp", "hwk", …). Nil means no requirement.
	AMR []string
	// MaxAge is the longest time since the user last authenticated (auth_time); a token
	// without auth_time fails. Zero means no limit.
	MaxAge time.Duration
}

// ErrInsufficientAuthentication: the caller is authenticated, but not strongly or
// recently enough for this route (RFC 9470 insufficient_user_authentication).
var ErrInsufficientAuthentication = &Error{"step-up", "stronger or more recent authentication required", classInsufficientAuth}

// StepUpError is the error for a principal that does not meet a route's StepUp: it wraps
// ErrInsufficientAuthentication and carries the requirement, which the default
// ErrorHandler turns into the challenge's acr_values and max_age.
type StepUpError struct {
	Required StepUp
}

func (e *StepUpError) Error() string { return ErrInsufficientAuthentication.Error() }
func (e *StepUpError) Unwrap() error { return ErrInsufficientAuthentication }

// challengeParams returns the RFC 9470 challenge parameters for the requirement.
func (e *StepUpError) challengeParams() string {
	params := `error="insufficient_user_authentication"`
	if len(e.Required.ACRValues) > 0 {
		params += `, acr_values="` + strings.Join(e.Required.ACRValues, " ") + `"`
	}
	if e.Required.MaxAge > 0 {
		params += `, max_age="` + strconv.FormatInt(int64(e.Required.MaxAge/time.Second), 10) + `"`
	}
	return params
}

// RequireStepUp returns middleware that admits only principals meeting req. It must run
// inside the Authenticator's Handler; a request without a Principal is refused with
// ErrNoCredentials. Failures go to the ErrorHandler as a *StepUpError; the default
// answers 401 with
//
//	WWW-Authenticate: Bearer error="insufficient_user_authentication", acr_values="…", max_age="…"
//
// so that the client can send the user back to the authorization server. The audit event
// records "authn.step-up".
func (a *Authenticator) RequireStepUp(req StepUp) (func(http.Handler) http.Handler, error) {
	if req.MaxAge < 0 {
		return nil, errors.New("authn: StepUp.MaxAge is negative")
	}
	if len(req.ACRValues) == 0 && len(req.AMR) == 0 && req.MaxAge == 0 {
		return nil, errors.New("authn: StepUp requires nothing")
	}
	for _, v := range slices.Concat(req.ACRValues, req.AMR) {
		if v == "" || strings.ContainsFunc(v, func(r rune) bool { return r <= ' ' || r == '"' || r == '\\' || r >= 0x7f }) {
			return nil, fmt.Errorf("authn: StepUp value %q is empty or has spaces, quotes or control characters", v)
		}
	}
	req.ACRValues = slices.Clone(req.ACRValues)
	req.AMR = slices.Clone(req.AMR)
	return func(next http.Handler) http.Handler {
		if next == nil {
			panic("authn: RequireStepUp: next is nil")
		}
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			var err error = ErrNoCredentials
			if p, ok := FromContext(r.Context()); ok {
				err = nil
				if !req.met(p, a.now()) {
					err = &StepUpError{Required: req}
				}
			}
			if err != nil {
				a.reject(w, r, err)
				return
			}
			next.ServeHTTP(w, r)
		})
	}, nil
}

// met reports whether p meets the requirement at now.
func (s *StepUp) met(p *Principal, now time.Time) bool {
	if len(s.ACRValues) > 0 && !slices.Contains(s.ACRValues, p.ACR) {
		return false
	}
	for _, m := range s.AMR {
		if !slices.Contains(p.AMR, m) {
			return false
		}
	}
	return s.MaxAge == 0 || (!p.AuthTime.IsZero() && now.Sub(p.AuthTime) <= s.MaxAge)
}
