package authn

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/phikit/phikit/internal/jose"
)

// IntrospectionConfig lets the Authenticator accept opaque access tokens by asking the
// issuer about them (RFC 7662 token introspection).
type IntrospectionConfig struct {
	// Endpoint is the issuer's introspection endpoint. Required; https unless
	// InsecureAllowHTTP.
	Endpoint string
	// ClientID and ClientSecret authenticate this service to the endpoint with HTTP
	// Basic (client_secret_basic). Empty ClientID sends no credentials, for endpoints
	// protected otherwise (a private network, mTLS in HTTPClient).
	ClientID, ClientSecret string
	// Issuer is the issuer the endpoint speaks for. Required. A response that names
	// another iss is refused; the Principal's Issuer is this value.
	Issuer string
	// Audiences lists the audiences this service answers to; an active response must
	// name one of them in aud. Required.
	Audiences []string
	// MaxCacheTTL bounds how long an active result is reused without asking again: a
	// token revoked at the issuer is refused at most this long after. It never exceeds
	// the token's exp. Zero means 30 seconds; a negative value asks every time.
	MaxCacheTTL time.Duration
	// InactiveCacheTTL is how long an inactive (unknown, expired, revoked) result is
	// remembered, so that a flood of bad tokens does not reach the endpoint. Zero means
	// 10 seconds.
	InactiveCacheTTL time.Duration
	// InsecureAllowHTTP lets Endpoint use plain http, for a development issuer on
	// loopback. Never in production: the token and the answer cross the network in clear.
	InsecureAllowHTTP bool
}

// ErrTokenInactive: the issuer says the token is not active (unknown, expired or revoked).
var ErrTokenInactive = &Error{"inactive", "token not active", classInvalidToken}

// ErrIntrospectionUnavailable: the introspection endpoint could not be asked, or gave an
// answer that could not be read. Requests fail closed with 503.
var ErrIntrospectionUnavailable = &Error{"introspection-unavailable", "introspection endpoint unavailable", classUnavailable}

const maxIntrospectionBytes = 64 << 10

type introspector struct {
	endpoint       string
	clientID       string
	secret         string
	issuer         string
	audiences      []string
	maxTTL         time.Duration // negative: never reuse an active result
	inactiveTTL    time.Duration
	client         *http.Client
	responseFields []string // for the strict-JSON check
}

func newIntrospector(c IntrospectionConfig, client *http.Client) (*introspector, error) {
	if err := checkURL(c.Endpoint, c.InsecureAllowHTTP); err != nil {
		return nil, fmt.Errorf("authn: introspection endpoint: %w", err)
	}
	if c.Issuer == "" {
		return nil, errors.New("authn: introspection needs the Issuer it speaks for")
	}
	if len(c.Audiences) == 0 || slices.Contains(c.Audiences, "") {
		return nil, errors.New("authn: introspection needs non-empty Audiences")
	}
	if c.InactiveCacheTTL < 0 {
		return nil, errors.New("authn: negative InactiveCacheTTL")
	}
	return &introspector{
		endpoint:    c.Endpoint,
		clientID:    c.ClientID,
		secret:      c.ClientSecret,
		issuer:      c.Issuer,
		audiences:   slices.Clone(c.Audiences),
		maxTTL:      orDefault(c.MaxCacheTTL, 30*time.Second),
		inactiveTTL: orDefault(c.InactiveCacheTTL, 10*time.Second),
		client:      client,
		responseFields: []string{"active", "scope", "client_id", "username", "token_type", "exp", "iat", "nbf",
			"sub", "aud", "iss", "jti", "token_use", "patient", "encounter", "fhirUser", "roles", "acr", "amr", "auth_time", "cnf"},
	}, nil
}

// introspectionResponse is RFC 7662 §2.2, plus the SMART and OIDC members phikit reads.
type introspectionResponse struct {
	Active    *bool             `json:"active"`
	Scope     string            `json:"scope"`
	ClientID  string            `json:"client_id"`
	TokenType string            `json:"token_type"`
	TokenUse  string            `json:"token_use"`
	Exp       *jose.NumericDate `json:"exp"`
	Nbf       *jose.NumericDate `json:"nbf"`
	Sub       string            `json:"sub"`
	Aud       stringList        `json:"aud"`
	Iss       string            `json:"iss"`
	Jti       string            `json:"jti"`
	Patient   string            `json:"patient"`
	Encounter string            `json:"encounter"`
	FHIRUser  string            `json:"fhirUser"`
	Roles     []string          `json:"roles"`
	ACR       string            `json:"acr"`
	AMR       []string          `json:"amr"`
	AuthTime  *jose.NumericDate `json:"auth_time"`
	Cnf       *confirmation     `json:"cnf"`
}

// introspect asks the endpoint about token. It returns the principal and how long the
// answer may be reused, or ErrTokenInactive (with how long that may be remembered).
func (in *introspector) introspect(ctx context.Context, token string, now time.Time) (*Principal, time.Time, error) {
	form := url.Values{"token": {token}, "token_type_hint": {"access_token"}}
	// Bounded whatever HTTPClient says: a hung endpoint must not hold every opaque-token
	// request open.
	ctx, cancel := context.WithTimeout(ctx, fetchTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, in.endpoint, strings.NewReader(form.Encode()))
	if err != nil {
		return nil, time.Time{}, ErrIntrospectionUnavailable
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	if in.clientID != "" { // RFC 6749 §2.3.1: form-encode, then Basic
		req.SetBasicAuth(url.QueryEscape(in.clientID), url.QueryEscape(in.secret))
	}
	resp, err := in.client.Do(req)
	if err != nil {
		return nil, time.Time{}, ErrIntrospectionUnavailable
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxIntrospectionBytes+1))
	if err != nil || resp.StatusCode != http.StatusOK || len(body) > maxIntrospectionBytes {
		return nil, time.Time{}, ErrIntrospectionUnavailable
	}
	var r introspectionResponse
	if json.Unmarshal(body, &r) != nil || jose.CheckObject(body, in.responseFields, maxClaims) != nil || r.Active == nil {
		return nil, time.Time{}, ErrIntrospectionUnavailable
	}
	inactiveUntil := now.Add(in.inactiveTTL)
	switch {
	case !*r.Active:
		return nil, inactiveUntil, ErrTokenInactive
	case r.Iss != "" && r.Iss != in.issuer:
		return nil, inactiveUntil, ErrUnknownIssuer
	case r.Exp == nil:
		return nil, inactiveUntil, ErrMissingClaim // the answer could otherwise be cached forever
	case !now.Before(r.Exp.Time):
		return nil, inactiveUntil, ErrTokenExpired
	case r.Nbf != nil && r.Nbf.After(now):
		return nil, inactiveUntil, ErrTokenNotYetValid
	case r.TokenUse != "" && r.TokenUse != "access_token":
		return nil, inactiveUntil, ErrWrongType // a refresh token is not an access token
	case r.TokenType != "" && !strings.EqualFold(r.TokenType, "Bearer") &&
		!(strings.EqualFold(r.TokenType, "DPoP") && r.Cnf != nil && r.Cnf.JKT != ""):
		return nil, inactiveUntil, ErrWrongType // RFC 9449 §6.2: a DPoP token names its key
	case !audienceIn(r.Aud, in.audiences):
		return nil, inactiveUntil, ErrAudience
	}
	p := &Principal{
		Subject:   r.Sub,
		Issuer:    in.issuer,
		ClientID:  r.ClientID,
		Audience:  r.Aud,
		Scopes:    strings.Fields(r.Scope),
		Roles:     r.Roles,
		Patient:   r.Patient,
		Encounter: r.Encounter,
		FHIRUser:  r.FHIRUser,
		ACR:       r.ACR,
		AMR:       r.AMR,
		TokenID:   r.Jti,
		ExpiresAt: r.Exp.Time,
		Method:    MethodIntrospection,
	}
	if r.AuthTime != nil {
		p.AuthTime = r.AuthTime.Time
	}
	if err := r.Cnf.bind(p); err != nil {
		return nil, inactiveUntil, err
	}
	if p.Subject == "" {
		p.Subject = r.ClientID
	}
	until := r.Exp.Time
	if in.maxTTL < 0 {
		until = now // not reused
	} else if limit := now.Add(in.maxTTL); limit.Before(until) {
		until = limit
	}
	return p, until, nil
}

func audienceIn(aud, want []string) bool {
	for _, a := range aud {
		if slices.Contains(want, a) {
			return true
		}
	}
	return false
}
