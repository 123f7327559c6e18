package apikey

import (
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Record is what the store keeps about a key: its metadata and the HMAC of the key under
// the server's pepper — never the key. Records print (fmt, including %+v and %#v) and log
// (slog) with Hash redacted.
type Record struct {
	// ID is the key's public id (the third part of the key), unique in the store.
	ID string
	// Name is a human label ("lab results feed, Quest"), for operators.
	Name string
	// Env is the environment the key was issued for ("live", "test").
	Env string
	// Scopes are the scopes a caller holding the key is granted, in Principal.Scopes.
	Scopes []string
	// AllowedCIDRs are the address ranges a caller holding the key may call from. Never
	// empty for an issued key; a record without any is refused.
	AllowedCIDRs []netip.Prefix
	// Subject is the service identity the key stands for, in Principal.Subject. Several
	// keys may share a subject (rotation).
	Subject string
	// Tenant is the organisation the key belongs to, in Principal.Tenant; empty when none.
	Tenant string
	// CreatedAt is when the key was issued; ExpiresAt when it stops working (never zero).
	CreatedAt, ExpiresAt time.Time
	// RevokedAt is when the key was revoked; zero while it is not.
	RevokedAt time.Time
	// Hash is HMAC-SHA-256 of the whole key under Config.Pepper.
	Hash []byte
}

// Revoked reports whether r is revoked at t.
func (r Record) Revoked(t time.Time) bool { return !r.RevokedAt.IsZero() && !t.Before(r.RevokedAt) }

// Expired reports whether r has expired at t.
func (r Record) Expired(t time.Time) bool { return !t.Before(r.ExpiresAt) }

// Active reports whether r would authenticate a caller at t: neither revoked nor
// expired. It says nothing about the caller's address.
func (r Record) Active(t time.Time) bool { return !r.Revoked(t) && !r.Expired(t) }

// Clone returns a copy of r that shares no slice with it. Stores use it to keep and hand
// out records that callers may modify.
func (r Record) Clone() Record {
	r.Scopes = slices.Clone(r.Scopes)
	r.AllowedCIDRs = slices.Clone(r.AllowedCIDRs)
	r.Hash = slices.Clone(r.Hash)
	return r
}

const redacted = "[redacted]"

// String returns r with Hash redacted.
func (r Record) String() string {
	var b strings.Builder
	b.WriteString("apikey.Record{ID:")
	b.WriteString(r.ID)
	b.WriteString(" Name:")
	b.WriteString(strconv.Quote(r.Name))
	b.WriteString(" Env:")
	b.WriteString(r.Env)
	b.WriteString(" Subject:")
	b.WriteString(strconv.Quote(r.Subject))
	fmt.Fprintf(&b, " Scopes:%q AllowedCIDRs:%v", r.Scopes, r.AllowedCIDRs)
	b.WriteString(" CreatedAt:")
	b.WriteString(r.CreatedAt.Format(time.RFC3339Nano))
	b.WriteString(" ExpiresAt:")
	b.WriteString(r.ExpiresAt.Format(time.RFC3339Nano))
	if !r.RevokedAt.IsZero() {
		b.WriteString(" RevokedAt:")
		b.WriteString(r.RevokedAt.Format(time.RFC3339Nano))
	}
	b.WriteString(" Hash:" + redacted + "}")
	return b.String()
}

// Format writes String for every verb, so that %v, %+v, %#v and %s all redact Hash.
func (r Record) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(r.String())) }

// LogValue returns r as a slog group with Hash redacted.
func (r Record) LogValue() slog.Value {
	cidrs := make([]string, len(r.AllowedCIDRs))
	for i, p := range r.AllowedCIDRs {
		cidrs[i] = p.String()
	}
	attrs := []slog.Attr{
		slog.String("id", r.ID),
		slog.String("name", r.Name),
		slog.String("env", r.Env),
		slog.String("subject", r.Subject),
		slog.Any("scopes", r.Scopes),
		slog.Any("allowed_cidrs", cidrs),
		slog.Time("created_at", r.CreatedAt),
		slog.Time("expires_at", r.ExpiresAt),
	}
	if !r.RevokedAt.IsZero() {
		attrs = append(attrs, slog.Time("revoked_at", r.RevokedAt))
	}
	attrs = append(attrs, slog.String("hash", redacted))
	return slog.GroupValue(attrs...)
}
