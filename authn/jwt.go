package authn

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"time"

	"github.com/phikit/phikit/internal/jose"
)

// maxClaims bounds the members of a claims object (and an introspection answer): the
// strict-JSON check is quadratic in them, so an unbounded count would let a token buy
// CPU before any key is consulted.
const maxClaims = 128

// headerNames are the JOSE header parameters read; a name matching one of them but for
// case is refused (see jose.CheckObject).
var headerNames = []string{"alg", "kid", "typ", "cty", "crit", "jwk", "jku", "x5u", "b64", "zip", "enc"}

type joseHeader struct {
	Alg  string          `json:"alg"`
	Kid  string          `json:"kid"`
	Typ  string          `json:"typ"`
	Cty  string          `json:"cty"`
	Crit json.RawMessage `json:"crit"`
	JWK  json.RawMessage `json:"jwk"`
	JKU  json.RawMessage `json:"jku"`
	X5U  json.RawMessage `json:"x5u"`
	B64  json.RawMessage `json:"b64"`
	Zip  json.RawMessage `json:"zip"`
	Enc  json.RawMessage `json:"enc"`
}

// claimNames are the claims read (the issuer's roles claim is added per issuer).
var claimNames = []string{"iss", "sub", "aud", "exp", "nbf", "iat", "jti", "client_id", "azp", "scope", "scp",
	"patient", "encounter", "fhirUser", "acr", "amr", "auth_time", "roles", "purpose_of_use", "nonce", "at_hash", "c_hash", "cnf"}

type tokenClaims struct {
	Iss          string            `json:"iss"`
	Sub          string            `json:"sub"`
	Aud          stringList        `json:"aud"`
	Exp          *jose.NumericDate `json:"exp"`
	Nbf          *jose.NumericDate `json:"nbf"`
	Iat          *jose.NumericDate `json:"iat"`
	Jti          string            `json:"jti"`
	ClientID     string            `json:"client_id"`
	Azp          string            `json:"azp"`
	Scope        string            `json:"scope"`
	Scp          stringList        `json:"scp"`
	Patient      string            `json:"patient"`
	Encounter    string            `json:"encounter"`
	FHIRUser     string            `json:"fhirUser"`
	ACR          string            `json:"acr"`
	AMR          []string          `json:"amr"`
	AuthTime     *jose.NumericDate `json:"auth_time"`
	Roles        []string          `json:"roles"`
	PurposeOfUse stringList        `json:"purpose_of_use"`
	Nonce        json.RawMessage   `json:"nonce"`
	AtHash       json.RawMessage   `json:"at_hash"`
	CHash        json.RawMessage   `json:"c_hash"`
	Cnf          *confirmation     `json:"cnf"`
}

// confirmation is the RFC 7800 cnf claim: the token is bound to a client certificate
// (RFC 8705 x5t#S256) or to a DPoP key (RFC 9449 jkt).
type confirmation struct {
	X5tS256 string `json:"x5t#S256"`
	JKT     string `json:"jkt"`
}

// bind copies the key the token is bound to into p, for the checks Authenticate makes on
// every request. A nil c binds nothing; a cnf that names neither a certificate nor a
// DPoP key is bound to something phikit cannot check, and refuses the token with
// ErrUnsupportedToken.
func (c *confirmation) bind(p *Principal) error {
	if c == nil {
		return nil
	}
	if c.X5tS256 == "" && c.JKT == "" {
		return ErrUnsupportedToken
	}
	p.CertThumbprint, p.KeyThumbprint = c.X5tS256, c.JKT
	return nil
}

// stringList is a string or an array of strings (aud), or a space-separated string (scp).
type stringList []string

func (l *stringList) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*l = strings.Fields(s)
		return nil
	}
	var ss []string
	if err := json.Unmarshal(b, &ss); err != nil {
		return err
	}
	*l = ss
	return nil
}

// verifyJWT checks a compact JWS access token completely and returns its principal.
// Cheap checks (form, header, issuer, times, audience) come before the signature, so a
// flood of bad tokens costs no public-key operations.
func (a *Authenticator) verifyJWT(ctx context.Context, token string) (*Principal, time.Time, error) {
	if strings.HasPrefix(token, "{") {
		return nil, time.Time{}, ErrUnsupportedToken // JWS JSON serialization
	}
	dot1 := strings.IndexByte(token, '.')
	dot2 := strings.LastIndexByte(token, '.')
	switch dots := strings.Count(token, "."); {
	case dots == 4:
		return nil, time.Time{}, ErrUnsupportedToken // JWE compact serialization
	case dots != 2 || dot1 == 0 || dot2 == len(token)-1 || dot2-dot1 == 1:
		return nil, time.Time{}, ErrMalformedToken
	}

	var hdr joseHeader
	headerJSON, err := jose.DecodeSegment(token[:dot1])
	if err != nil || json.Unmarshal(headerJSON, &hdr) != nil || jose.CheckObject(headerJSON, headerNames, 32) != nil {
		return nil, time.Time{}, ErrMalformedToken
	}
	switch {
	case hdr.Enc != nil || hdr.B64 != nil || hdr.Zip != nil || strings.EqualFold(hdr.Cty, "JWT"):
		return nil, time.Time{}, ErrUnsupportedToken
	case hdr.Crit != nil:
		return nil, time.Time{}, ErrCriticalHeader
	case hdr.JWK != nil || hdr.JKU != nil || hdr.X5U != nil:
		return nil, time.Time{}, ErrEmbeddedKey
	}
	typ := strings.ToLower(strings.TrimPrefix(strings.ToLower(hdr.Typ), "application/"))
	if typ != "at+jwt" && (typ != "" && typ != "jwt") {
		return nil, time.Time{}, ErrWrongType
	}

	var c tokenClaims
	payload, err := jose.DecodeSegment(token[dot1+1 : dot2])
	if err != nil {
		return nil, time.Time{}, ErrMalformedToken
	}
	if err := json.Unmarshal(payload, &c); err != nil {
		if errors.Is(err, jose.ErrNumericDate) {
			return nil, time.Time{}, ErrMissingClaim
		}
		return nil, time.Time{}, ErrMalformedToken
	}
	// The issuer is read before the signature is checked, only to pick the issuer's own
	// configuration and keys; nothing else in the claims is trusted until then.
	is, ok := a.issuers[c.Iss]
	if !ok {
		return nil, time.Time{}, ErrUnknownIssuer
	}
	if jose.CheckObject(payload, is.claimNames, maxClaims) != nil {
		return nil, time.Time{}, ErrMalformedToken
	}
	alg, ok := is.algorithms[hdr.Alg]
	if !ok {
		return nil, time.Time{}, ErrAlgorithm
	}
	if is.requireATJ && typ != "at+jwt" {
		return nil, time.Time{}, ErrWrongType
	}
	if c.Nonce != nil || c.AtHash != nil || c.CHash != nil {
		return nil, time.Time{}, ErrIDTokenNotAccepted
	}
	if err := is.checkTimes(&c, a.now()); err != nil {
		return nil, time.Time{}, err
	}
	if !audienceIn(c.Aud, is.audiences) {
		return nil, time.Time{}, ErrAudience
	}
	if c.Sub == "" {
		return nil, time.Time{}, ErrMissingClaim
	}

	sig, err := jose.DecodeSegment(token[dot2+1:])
	if err != nil {
		return nil, time.Time{}, ErrMalformedToken
	}
	keys, err := is.keys.lookup(ctx, hdr.Kid, alg)
	if err != nil {
		return nil, time.Time{}, err
	}
	signingInput := []byte(token[:dot2])
	verified := false
	for _, k := range keys {
		if alg.Verify(k.pub, signingInput, sig) {
			verified = true
			break
		}
	}
	if !verified {
		return nil, time.Time{}, ErrSignature
	}

	p := &Principal{
		Subject:   c.Sub,
		Issuer:    c.Iss,
		ClientID:  c.ClientID,
		Audience:  c.Aud,
		Patient:   c.Patient,
		Encounter: c.Encounter,
		FHIRUser:  c.FHIRUser,
		ACR:       c.ACR,
		AMR:       c.AMR,
		TokenID:   c.Jti,
		ExpiresAt: c.Exp.Time,
		Method:    MethodJWT,
	}
	if err := c.Cnf.bind(p); err != nil {
		return nil, time.Time{}, err
	}
	if p.ClientID == "" {
		p.ClientID = c.Azp
	}
	if c.AuthTime != nil {
		p.AuthTime = c.AuthTime.Time
	}
	p.Scopes = strings.Fields(c.Scope)
	if len(p.Scopes) == 0 {
		p.Scopes = c.Scp
	}
	p.Roles = c.Roles
	p.PurposeOfUse = c.PurposeOfUse
	if is.rolesClaim != "roles" || is.tenantClaim != "" {
		if err = is.customClaims(payload, p); err != nil {
			return nil, time.Time{}, ErrMalformedToken
		}
	}
	return p, c.Exp.Time, nil
}

func (is *issuer) checkTimes(c *tokenClaims, now time.Time) error {
	if c.Exp == nil {
		return ErrMissingClaim
	}
	if !now.Before(c.Exp.Add(is.leeway)) { // RFC 7519: now must be before exp
		return ErrTokenExpired
	}
	if c.Nbf != nil && c.Nbf.After(now.Add(is.leeway)) {
		return ErrTokenNotYetValid
	}
	start := now
	if c.Iat != nil {
		if c.Iat.After(now.Add(is.leeway)) {
			return ErrIssuedInFuture
		}
		start = c.Iat.Time
	}
	if c.Exp.Sub(start) > is.maxLifetime {
		return ErrLifetimeTooLong
	}
	return nil
}

// customClaims reads the issuer's custom roles claim (an array of strings, or absent)
// and tenant claim (a string, or absent) into p, in one pass over the payload.
func (is *issuer) customClaims(payload []byte, p *Principal) error {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(payload, &m); err != nil {
		return err
	}
	if is.rolesClaim != "roles" {
		p.Roles = nil
		if raw, ok := m[is.rolesClaim]; ok {
			if err := json.Unmarshal(raw, &p.Roles); err != nil {
				return err
			}
		}
	}
	if raw, ok := m[is.tenantClaim]; ok && is.tenantClaim != "" {
		var tenant *string
		if err := json.Unmarshal(raw, &tenant); err != nil || tenant == nil {
			return errors.New("authn: tenant claim is not a string")
		}
		p.Tenant = *tenant
	}
	return nil
}
