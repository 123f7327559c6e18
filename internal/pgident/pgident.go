// Package pgident checks and quotes the table names that phikit's PostgreSQL stores
// (idempotency/pgstore, authz/consent/pgconsent, authz/breakglass/pgbreakglass) put
// into their SQL. A name passes only if it is a plain lower-case identifier, so that it
// needs no escaping, means the same quoted and unquoted, and cannot carry SQL.
//
//	t, err := pgident.ParseTable(cfg.Table, "_until_idx")
//	if err != nil {
//		return nil, fmt.Errorf("pgstore: Config.Table: %v: %w", err, ErrInvalidConfig)
//	}
//	create := `CREATE TABLE IF NOT EXISTS ` + t.Quoted() + ` (…)`
//	index := `CREATE INDEX IF NOT EXISTS "` + t.Name + `_until_idx" ON ` + t.Quoted() + ` (…)`
//
// # Security considerations
//
// The checks are what stand between a configured table name and SQL text: the stores
// build their statements by concatenation, as PostgreSQL takes no parameters for
// identifiers. Errors never repeat the name, so a caller may log them as they are.
package pgident

import (
	"fmt"
	"strings"
)

// MaxLen is PostgreSQL's longest identifier, in bytes (NAMEDATALEN - 1): a longer one
// is silently truncated by the server.
const MaxLen = 63

// Table is a table name that ParseTable has checked.
type Table struct {
	// Schema is the schema, or "" for the connection's search_path.
	Schema string
	// Name is the table's name without its schema.
	Name string
}

// ParseTable splits table, "name" or "schema.name", and checks both parts: each must
// be a lower-case identifier (Valid), the schema of at most MaxLen bytes and the name
// of at most MaxLen-len(suffix) bytes, so that the name followed by suffix (the longest
// one the caller appends to name indexes) is still one. The error says which part is
// wrong and the limit; it does not repeat table and is for the caller to prefix.
func ParseTable(table, suffix string) (Table, error) {
	var t Table
	t.Name = table
	if i := strings.IndexByte(table, '.'); i >= 0 {
		t.Schema, t.Name = table[:i], table[i+1:]
		if !Valid(t.Schema, MaxLen) {
			return Table{}, fmt.Errorf("schema is not a lower-case identifier of at most %d bytes", MaxLen)
		}
	}
	if max := MaxLen - len(suffix); !Valid(t.Name, max) {
		return Table{}, fmt.Errorf("name is not a lower-case identifier of at most %d bytes", max)
	}
	return t, nil
}

// Quoted returns the table quoted for SQL: "name", or "schema"."name".
func (t Table) Quoted() string {
	if t.Schema == "" {
		return `"` + t.Name + `"`
	}
	return `"` + t.Schema + `"."` + t.Name + `"`
}

// Valid reports whether s is a lower-case identifier, [a-z_][a-z0-9_]*, of at most
// max bytes.
func Valid(s string, max int) bool {
	if s == "" || len(s) > max {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '_' && (c < 'a' || c > 'z') && (i == 0 || c < '0' || c > '9') {
			return false
		}
	}
	return true
}
