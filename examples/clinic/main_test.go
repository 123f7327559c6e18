package main

import (
	"bufio"
	"context"
	"encoding/json"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/phikit/phikit/audit"
)

func TestDemo(t *testing.T) {
	var out strings.Builder
	err := run(context.Background(), []string{"-demo"}, &out, &out, nil)
	require.NoError(t, err, out.String())
	assert.Contains(t, out.String(), "all 16 steps behaved as expected")
	assert.Contains(t, out.String(), "UNAUTHENTICATED")
}

// TestServeAuditsEveryRequest runs the program as an operator would and checks that every
// request leaves exactly one line in the audit file.
func TestServeAuditsEveryRequest(t *testing.T) {
	auditPath := filepath.Join(t.TempDir(), "audit.jsonl")
	ctx, cancel := context.WithCancel(context.Background())
	addrc := make(chan net.Addr, 1)
	var stderr strings.Builder
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"-addr", "127.0.0.1:0", "-audit-file", auditPath}, os.Stdout, &stderr,
			func(a net.Addr) { addrc <- a })
	}()
	var addr net.Addr
	select {
	case addr = <-addrc:
	case err := <-done:
		t.Fatalf("run ended before listening: %v", err)
	}
	base := "http://" + addr.String()

	requests := []struct {
		method, path, body string
		want               int
	}{
		{"GET", "/healthz", "", 200},
		{"GET", "/fhir/Patient/pat-3", "", 200},
		{"GET", "/fhir/Patient/nobody", "", 404},
		{"GET", "/fhir/Observation?patient=Patient/pat-2", "", 200},
		{"PUT", "/fhir/Patient/pat-1", `{"resourceType":"Patient","id":"pat-1","gender":"female"}`, 200},
		{"POST", "/fhir/Observation", `{"resourceType":"Observation","status":"final","code":{"coding":[{"system":"http://loinc.org","code":"8310-5"}]},"subject":{"reference":"Patient/pat-9"}}`, 400},
		{"DELETE", "/fhir/Patient/pat-1", "", 404}, // no such route: a not-found problem
	}
	var ids []string
	for _, rq := range requests {
		req, err := http.NewRequest(rq.method, base+rq.path, strings.NewReader(rq.body))
		require.NoError(t, err)
		req.Header.Set("Content-Type", "application/fhir+json")
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		_ = resp.Body.Close()
		assert.Equal(t, rq.want, resp.StatusCode, "%s %s", rq.method, rq.path)
		ids = append(ids, resp.Header.Get("X-Request-Id"))
	}
	cancel()
	require.NoError(t, <-done)
	assert.Contains(t, stderr.String(), "UNAUTHENTICATED")

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
		events = append(events, e)
	}
	require.Len(t, events, len(requests))
	for i, e := range events {
		assert.Equal(t, ids[i], e.RequestID, "event %d", i)
		assert.Equal(t, requests[i].want, e.Status, "event %d", i)
	}
	assert.Equal(t, []audit.Entity{{Kind: audit.EntityPatient, ID: "nobody"}, {Kind: audit.EntityResource, Type: "Patient", ID: "nobody"}},
		events[2].Entities, "a failed lookup still records whom it was about")
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
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out strings.Builder
			err := run(context.Background(), tt.args, &out, &out, nil)
			assert.Error(t, err)
		})
	}
}
