// Package authn will provide who is calling: JWT bearer, introspection, revocation, mTLS, DPoP, API keys and step-up.
//
// It is not built yet and exports nothing; see the project's open issues.
package authn
