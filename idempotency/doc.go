// Package idempotency will provide safe retries and safe overwrites: Idempotency-Key and If-Match preconditions.
//
// It is not built yet and exports nothing; see the project's open issues.
package idempotency
