package apikey_test

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/phikit/phikit/authn/apikey"
)

// t0 is the fake clock's start.
var t0 = time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)

// testPepper is 32 bytes, the shortest accepted.
var testPepper = []byte("0123456789abcdef0123456789abcdef")

// clock is a fake clock; tests move it instead of sleeping.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: t0} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// countingStore wraps a Store, counts Get calls, and fails every call with fail when
// set.
type countingStore struct {
	apikey.Store
	gets atomic.Int64
	fail atomic.Pointer[error]
}

func newCountingStore() *countingStore { return &countingStore{Store: apikey.NewMemoryStore()} }

func (s *countingStore) Get(ctx context.Context, id string) (apikey.Record, error) {
	s.gets.Add(1)
	if err := s.fail.Load(); err != nil {
		return apikey.Record{}, *err
	}
	return s.Store.Get(ctx, id)
}

func (s *countingStore) Put(ctx context.Context, rec apikey.Record) error {
	if err := s.fail.Load(); err != nil {
		return *err
	}
	return s.Store.Put(ctx, rec)
}

func (s *countingStore) failWith(err error) { s.fail.Store(&err) }

// logBuffer collects a JSON slog handler's output, safely across goroutines.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func (l *logBuffer) logger() *slog.Logger {
	return slog.New(slog.NewJSONHandler(l, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// cidrs parses prefixes.
func cidrs(ss ...string) []netip.Prefix {
	out := make([]netip.Prefix, len(ss))
	for i, s := range ss {
		out[i] = netip.MustParsePrefix(s)
	}
	return out
}

// newKeys returns Keys for env on store with the fake clock c, or fails t.
func newKeys(t testing.TB, store apikey.Store, env string, c *clock, logger *slog.Logger) *apikey.Keys {
	t.Helper()
	k, err := apikey.New(apikey.Config{Store: store, Pepper: testPepper, Env: env, Now: c.Now, Logger: logger})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return k
}

// issue issues a key or fails t.
func issue(t testing.TB, k *apikey.Keys, req apikey.IssueRequest) (string, apikey.Record) {
	t.Helper()
	key, rec, err := k.Issue(context.Background(), req)
	if err != nil {
		t.Fatalf("Issue: %v", err)
	}
	return key, rec
}

// secretOf returns the secret part of key.
func secretOf(key string) string { return key[strings.LastIndexByte(key, '_')+1:] }

// request returns a request from remote carrying each of keys in an X-API-Key header.
func request(remote string, keys ...string) *http.Request {
	r := httptest.NewRequest(http.MethodGet, "/fhir/Observation", nil)
	r.RemoteAddr = remote
	for _, k := range keys {
		r.Header.Add("X-API-Key", k)
	}
	return r
}
