// Package authz will provide what the caller may do: SMART on FHIR scopes, roles, patient binding, consent, purpose of use and break-glass.
//
// It is not built yet and exports nothing; see the project's open issues.
package authz
