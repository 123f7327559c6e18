package pgconsent

import "errors"

// ErrDatabase is a database request that failed or whose answer could not be used: the
// database is unreachable or too slow for the context, the pool is closed, the table is
// missing or holds what this package did not write. The answer is unknown; callers deny.
// Errors of Store wrap it and the underlying error, and never contain a value of a query
// or rule.
var ErrDatabase = errors.New("pgconsent: database request failed")
