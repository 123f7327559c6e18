// Package ratelimit will provide how much a caller may do: GCRA rate limits in memory and Redis, quotas and adaptive concurrency limits.
//
// It is not built yet and exports nothing; see the project's open issues.
package ratelimit
