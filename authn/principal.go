package authn

import (
	"context"
	"slices"
	"time"
)

// Method is how a caller authenticated.
type Method string

// The authentication methods.
const (
	MethodJWT           Method = "jwt"           // a JWT access token verified against the issuer's keys
	MethodIntrospection Method = "introspection" // an opaque token the issuer vouched for (RFC 7662)
	MethodMTLS          Method = "mtls"          // a client certificate
	MethodAPIKey        Method = "api-key"       // an API key
)

// Principal is who is calling, as established by the authenticator. The Authenticator
// puts it in the request context; read it with FromContext. A Principal may be shared
// between requests carrying the same token: treat it, and its slices, as read-only.
type Principal struct {
	// Subject is the token's sub: the user, or for a client-credentials token the client.
	Subject string
	// Issuer is the token's iss, exactly as configured.
	Issuer string
	// ClientID is the OAuth client that obtained the token (client_id, else azp).
	ClientID string
	// Audience is the token's aud.
	Audience []string
	// Scopes come from a space-separated "scope" string or an "scp" array.
	Scopes []string
	// Roles come from the issuer's roles claim ("roles" unless configured otherwise).
	Roles []string
	// Tenant is the organisation the caller belongs to in a multi-tenant deployment: the
	// issuer's TenantClaim (a string), or the API key record's Tenant; empty when none.
	Tenant string
	// PurposeOfUse holds the HL7 PurposeOfUse codes the issuer vouched for in the
	// "purpose_of_use" claim (IHE IUA), a string or an array; empty when absent.
	PurposeOfUse []string

	// Patient, Encounter and FHIRUser are the SMART on FHIR launch context: the patient
	// and encounter in context, and the user's FHIR resource ("Practitioner/123").
	Patient   string
	Encounter string
	FHIRUser  string

	// ACR, AMR and AuthTime describe how the user authenticated (OIDC acr, amr,
	// auth_time), for step-up requirements.
	ACR      string
	AMR      []string
	AuthTime time.Time

	// TokenID is the token's jti; ExpiresAt its exp.
	TokenID   string
	ExpiresAt time.Time

	// CertThumbprint is the base64url SHA-256 thumbprint of the client certificate the
	// caller presented (RFC 8705 x5t#S256), when it presented one.
	CertThumbprint string
	// KeyThumbprint is the RFC 7638 JWK thumbprint of the key that proved possession of a
	// DPoP-bound token (RFC 9449 jkt).
	KeyThumbprint string

	// Method is how the caller authenticated.
	Method Method
}

// HasScope reports whether p was granted scope s (an exact match).
func (p *Principal) HasScope(s string) bool { return slices.Contains(p.Scopes, s) }

type ctxKey struct{}

// NewContext returns a copy of ctx carrying p.
func NewContext(ctx context.Context, p *Principal) context.Context {
	return context.WithValue(ctx, ctxKey{}, p)
}

// FromContext returns the Principal the Authenticator put in ctx.
func FromContext(ctx context.Context) (*Principal, bool) {
	p, ok := ctx.Value(ctxKey{}).(*Principal)
	return p, ok
}
