package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/phikit/phikit/audit"
	"github.com/phikit/phikit/authn/authntest"
	"github.com/phikit/phikit/idempotency/pgstore"
	"github.com/phikit/phikit/internal/testserver"
)

func TestDemo(t *testing.T) {
	var out strings.Builder
	err := run(context.Background(), []string{"-demo"}, &out, &out, nil)
	require.NoError(t, err, out.String())
	assert.Regexp(t, `all \d+ steps behaved as expected`, out.String())
	assert.Contains(t, out.String(), "break-glass alerts fired: 1")
	assert.NotContains(t, out.String(), "eyJ", "the tour prints no token (a JWT starts eyJ)")
}

// TestDemoWithRedis runs the tour with the rate limits in a real Redis.
func TestDemoWithRedis(t *testing.T) {
	srv := testserver.Redis(t)
	var out strings.Builder
	err := run(context.Background(), []string{"-demo", "-redis", srv.Addr}, &out, &out, nil)
	require.NoError(t, err, out.String())
	assert.Regexp(t, `all \d+ steps behaved as expected`, out.String())

	client := redis.NewClient(&redis.Options{Addr: srv.Addr})
	defer client.Close()
	keys, err := client.Keys(context.Background(), "*").Result()
	require.NoError(t, err)
	assert.NotEmpty(t, keys, "the limits were kept in Redis")
	for _, k := range keys {
		assert.NotContains(t, k, "script-1", "Redis keys are hashed, never a subject")
		assert.NotContains(t, k, "127.0.0.1", "Redis keys are hashed, never an address")
	}
}

// TestDemoWithPostgres runs the tour with the idempotency records in a real PostgreSQL.
func TestDemoWithPostgres(t *testing.T) {
	db := testserver.Postgres(t)
	var out strings.Builder
	err := run(context.Background(), []string{"-demo", "-database-url", db.URL}, &out, &out, nil)
	require.NoError(t, err, out.String())
	assert.Regexp(t, `all \d+ steps behaved as expected`, out.String())

	pool, err := pgxpool.New(context.Background(), db.URL)
	require.NoError(t, err)
	defer pool.Close()
	var n int
	require.NoError(t, pool.QueryRow(context.Background(), "SELECT count(*) FROM "+pgstore.DefaultTable).Scan(&n))
	assert.Equal(t, 2, n, "one record per Idempotency-Key the tour used")
}

func TestSealingKey(t *testing.T) {
	k1, err := sealingKey("")
	require.NoError(t, err)
	k2, err := sealingKey("")
	require.NoError(t, err)
	assert.Len(t, k1, 32)
	assert.NotEqual(t, k1, k2, "a fresh random key each start")
	k, err := sealingKey(strings.Repeat("ab", 32))
	require.NoError(t, err)
	assert.Equal(t, byte(0xab), k[31])
	for _, bad := range []string{"ab", strings.Repeat("zz", 32), strings.Repeat("ab", 33)} {
		_, err := sealingKey(bad)
		assert.Error(t, err, "%d hex digits", len(bad))
	}
}

func TestRedisFlagUnreachable(t *testing.T) {
	var out strings.Builder
	err := run(context.Background(), []string{"-demo", "-redis", "127.0.0.1:1"}, &out, &out, nil)
	require.Error(t, err, "an unreachable -redis is an error at start, not a silent fallback")
	assert.Contains(t, err.Error(), "-redis")
}

// TestServeAuditsEveryRequest runs the program as an operator would and checks that every
// request leaves exactly one line in the audit file.
func TestServeAuditsEveryRequest(t *testing.T) {
	auditPath := filepath.Join(t.TempDir(), "audit.jsonl")
	var stderr lockedBuffer
	addr, stop := serveClinic(t, []string{"-addr", "127.0.0.1:0", "-audit-file", auditPath}, &stderr)
	base := "http://" + addr.String()
	tokens := map[string]string{}
	for _, line := range strings.Split(stderr.String(), "\n") {
		if name, tok, ok := strings.Cut(strings.TrimPrefix(line, "export "), "_TOKEN="); ok {
			tokens[name] = tok
		}
	}
	require.Len(t, tokens, 4, "the development issuer prints four tokens")

	requests := []struct {
		method, path, body string
		want               int
		header             map[string]string
	}{
		{"GET", "/healthz", "", 200, nil},
		{"GET", "/fhir/Patient/pat-2", "", 200, nil},
		{"GET", "/fhir/Patient/pat-3", "", 403, nil}, // off the clinician's care team
		{"GET", "/fhir/Patient/nobody", "", 403, nil},
		{"GET", "/fhir/Observation?patient=Patient/pat-2", "", 200, nil},
		{"PUT", "/fhir/Patient/pat-1", `{"resourceType":"Patient","id":"pat-1","gender":"female"}`, 200, map[string]string{"If-Match": `W/"1"`}},
		{"POST", "/fhir/Observation", `{"resourceType":"Observation","status":"final","code":{"coding":[{"system":"http://loinc.org","code":"8310-5"}]},"subject":{"reference":"Patient/pat-1"},"effectiveDateTime":"2026-11-26","valueQuantity":{"value":36.6,"unit":"Cel"}}`, 201,
			map[string]string{"Idempotency-Key": `"a1"`}},
		{"DELETE", "/fhir/Patient/pat-1", "", 403, nil}, // the clinician's scopes grant no d
	}
	var ids []string
	for _, rq := range requests {
		req, err := http.NewRequest(rq.method, base+rq.path, strings.NewReader(rq.body))
		require.NoError(t, err)
		req.Header.Set("Content-Type", "application/fhir+json")
		req.Header.Set("Authorization", "Bearer "+tokens["CLINICIAN"])
		for k, v := range rq.header {
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		_ = resp.Body.Close()
		assert.Equal(t, rq.want, resp.StatusCode, "%s %s", rq.method, rq.path)
		ids = append(ids, resp.Header.Get("X-Request-Id"))
	}
	require.NoError(t, stop())
	assert.Contains(t, stderr.String(), "DEVELOPMENT ISSUER")

	// The development issuer prints each token once, deliberately; neither the
	// operational log nor the audit trail may carry one again.
	trail, err := os.ReadFile(auditPath)
	require.NoError(t, err)
	for name, tok := range tokens {
		assert.Equal(t, 1, strings.Count(stderr.String(), tok), "%s token: times on stderr", name)
		assert.NotContains(t, string(trail), tok, "%s token in the audit trail", name)
	}

	f, err := os.Open(auditPath)
	require.NoError(t, err)
	defer f.Close()
	info, err := f.Stat()
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), info.Mode().Perm(), "audit file permissions")
	var events []audit.Event
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var e audit.Event
		require.NoError(t, json.Unmarshal(sc.Bytes(), &e))
		if e.Path != devIssuerPath+"jwks.json" { // the clinic fetching its own dev keys
			events = append(events, e)
		}
	}
	require.Len(t, events, len(requests))
	for i, e := range events {
		assert.Equal(t, ids[i], e.RequestID, "event %d", i)
		assert.Equal(t, requests[i].want, e.Status, "event %d", i)
		if requests[i].path != "/healthz" {
			assert.Equal(t, "practitioner-1", e.Agent.Subject, "event %d", i)
		}
	}
	assert.Equal(t, []audit.Entity{{Kind: audit.EntityPatient, ID: "nobody"}},
		events[3].Entities, "a refused request still records whom it was about")
	require.NotNil(t, events[3].Decision)
	assert.False(t, events[3].Decision.Allow)
}

// serveClinic runs the program with args, its stdout discarded, and returns the address
// it listens on and stop, which ends it and returns run's error. The test's cleanup
// stops it too.
func serveClinic(t *testing.T, args []string, stderr io.Writer) (net.Addr, func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	addrc := make(chan net.Addr, 1)
	done := make(chan error, 1)
	go func() { done <- run(ctx, args, io.Discard, stderr, func(a net.Addr) { addrc <- a }) }()
	stop := sync.OnceValue(func() error { cancel(); return <-done })
	t.Cleanup(func() { _ = stop() })
	select {
	case addr := <-addrc:
		return addr, stop
	case err := <-done:
		done <- err // for stop, in the cleanup
		t.Fatalf("run ended before listening: %v", err)
		return nil, nil
	}
}

func TestRunRejectsBadFlags(t *testing.T) {
	tests := []struct {
		name string
		args []string
	}{
		{name: "unknown flag", args: []string{"-nope"}},
		{name: "stray argument", args: []string{"serve"}},
		{name: "unusable audit file", args: []string{"-audit-file", filepath.Join(t.TempDir(), "missing", "a.jsonl")}},
		{name: "bad address", args: []string{"-addr", "256.0.0.1:99999", "-audit-file", filepath.Join(t.TempDir(), "a.jsonl")}},
		{name: "jwks-url without issuer", args: []string{"-jwks-url", "https://idp.example/jwks"}},
		{name: "an issuer the demo would ignore", args: []string{"-demo", "-issuer", "https://idp.example/"}},
		{name: "a limit the demo would ignore", args: []string{"-demo", "-rate-burst", "5"}},
		{name: "an audit file the demo would ignore", args: []string{"-demo", "-audit-file", filepath.Join(t.TempDir(), "a.jsonl")}},
		{name: "plain http issuer off this machine", args: []string{"-addr", "127.0.0.1:0", "-audit-file", filepath.Join(t.TempDir(), "a.jsonl"), "-issuer", "http://idp.example/"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out strings.Builder
			err := run(context.Background(), tt.args, &out, &out, nil)
			assert.Error(t, err)
		})
	}
}

// TestExternalIssuer runs the clinic trusting another issuer, as -issuer does in
// production, and checks its tokens are accepted and the development issuer is gone.
func TestExternalIssuer(t *testing.T) {
	mux := http.NewServeMux()
	idp := httptest.NewServer(mux)
	defer idp.Close()
	iss, err := authntest.NewIssuer(idp.URL + "/")
	require.NoError(t, err)
	mux.Handle("GET /jwks", iss.JWKSHandler())

	var stderr lockedBuffer
	addr, _ := serveClinic(t, []string{"-addr", "127.0.0.1:0", "-audit-file", filepath.Join(t.TempDir(), "a.jsonl"),
		"-issuer", iss.URL(), "-jwks-url", idp.URL + "/jwks", "-audience", "https://clinic.example"}, &stderr)
	assert.NotContains(t, stderr.String(), "DEVELOPMENT ISSUER")

	get := func(path, token string) int {
		req, err := http.NewRequest(http.MethodGet, "http://"+addr.String()+path, nil)
		require.NoError(t, err)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		_ = resp.Body.Close()
		return resp.StatusCode
	}
	good, err := iss.Mint(map[string]any{"sub": "dr-1", "aud": "https://clinic.example",
		"fhirUser": "Practitioner/prac-1", "roles": []string{"physician"}, "scope": "user/Patient.r", "purpose_of_use": "TREAT"})
	require.NoError(t, err)
	wrongAud, err := iss.Mint(map[string]any{"sub": "dr-1", "aud": "phikit-clinic"})
	require.NoError(t, err)
	assert.Equal(t, 200, get("/fhir/Patient/pat-1", good))
	assert.Equal(t, 401, get("/fhir/Patient/pat-1", wrongAud))
	assert.Equal(t, 404, get("/dev-issuer/jwks.json", good), "no development issuer with -issuer")
}
