// Package crypto will provide envelope encryption under a KMS key, key rotation, crypto-shredding and TLS configuration.
//
// It is not built yet and exports nothing; see the project's open issues.
package crypto
