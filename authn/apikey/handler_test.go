package apikey_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/phikit/phikit/audit"
	"github.com/phikit/phikit/authn"
	"github.com/phikit/phikit/authn/apikey"
)

// auditTrail collects the events of an audit middleware, with their JSON form.
type auditTrail struct {
	mu     sync.Mutex
	events []audit.Event
	json   []string
}

func (a *auditTrail) Write(_ context.Context, e *audit.Event) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	ev := *e
	ev.Agent.Roles = append([]string(nil), e.Agent.Roles...)
	a.events = append(a.events, ev)
	a.json = append(a.json, string(e.AppendJSON(nil)))
	return nil
}

func (a *auditTrail) last(t *testing.T) audit.Event {
	t.Helper()
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.events) == 0 {
		t.Fatal("no audit event")
	}
	return a.events[len(a.events)-1]
}

// serve runs r through audit, then keys.Handler, then a handler that reports the
// Principal it got.
func serve(t *testing.T, trail *auditTrail, keys *apikey.Keys, r *http.Request) *httptest.ResponseRecorder {
	t.Helper()
	aud, err := audit.New(audit.Config{Sink: trail})
	if err != nil {
		t.Fatal(err)
	}
	h := aud.Handler(keys.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, ok := authn.FromContext(r.Context())
		if !ok {
			t.Error("handler reached without a Principal")
			return
		}
		fmt.Fprintf(w, "%s %s %s %v", p.Method, p.Subject, p.ClientID, p.Scopes)
	})))
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

func TestHandler(t *testing.T) {
	f := newFixture(t)
	trail := &auditTrail{}
	revokedID, _ := apikey.IDOf(f.revoked)
	tests := []struct {
		name          string
		r             *http.Request
		wantStatus    int
		wantBody      string // a substring
		wantRejection string
		wantClient    string // Agent.Client
		wantSubject   string
		wantMethod    string
	}{
		{"valid", request("192.0.2.10:1", f.good), 200, "api-key svc:lab " + f.goodRec.ID + " [system/Observation.c]", "", f.goodRec.ID, "svc:lab", "api-key"},
		{"revoked: the id is recorded", request("192.0.2.10:1", f.revoked), 401, `"type":"https://phikit.github.io/problems/unauthenticated"`, "apikey.revoked", revokedID, "", ""},
		{"address not allowed: the id is recorded", request("198.51.100.1:1", f.good), 401, "unauthenticated", "apikey.address-not-allowed", f.goodRec.ID, "", ""},
		{"tampered secret: no id", request("192.0.2.10:1", f.tamperedSecret), 401, "unauthenticated", "apikey.unknown", "", "", ""},
		{"wrong env", request("192.0.2.10:1", f.testEnv), 401, "unauthenticated", "apikey.wrong-environment", "", "", ""},
		{"malformed", request("192.0.2.10:1", "phk_live_x"), 401, "unauthenticated", "apikey.malformed", "", "", ""},
		{"two headers", request("192.0.2.10:1", f.good, f.good), 401, "unauthenticated", "apikey.multiple-keys", "", "", ""},
		{"missing", request("192.0.2.10:1"), 401, "unauthenticated", "apikey.missing", "", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := serve(t, trail, f.keys, tt.r)
			if w.Code != tt.wantStatus {
				t.Fatalf("status: got %d, want %d", w.Code, tt.wantStatus)
			}
			if !strings.Contains(w.Body.String(), tt.wantBody) {
				t.Errorf("body: got %s, want it to contain %s", w.Body, tt.wantBody)
			}
			if tt.wantStatus == 401 {
				if got, want := w.Header().Get("WWW-Authenticate"), `ApiKey header="X-API-Key"`; got != want {
					t.Errorf("WWW-Authenticate: got %q, want %q", got, want)
				}
				if got := w.Header().Get("Content-Type"); got != "application/problem+json" {
					t.Errorf("Content-Type: got %q, want application/problem+json", got)
				}
			}
			ev := trail.last(t)
			if ev.Rejection != tt.wantRejection || ev.Agent.Client != tt.wantClient ||
				ev.Agent.Subject != tt.wantSubject || ev.Agent.AuthMethod != tt.wantMethod {
				t.Errorf("audit: got rejection %q, agent %+v; want rejection %q, client %q, subject %q, method %q",
					ev.Rejection, ev.Agent, tt.wantRejection, tt.wantClient, tt.wantSubject, tt.wantMethod)
			}
		})
	}
	// Every refusal looks the same to the client, apart from the request id.
	bodies := map[string]bool{}
	for _, key := range []string{f.revoked, f.tamperedSecret, f.testEnv, "garbage", f.unknownID} {
		w := serve(t, trail, f.keys, request("192.0.2.10:1", key))
		var p map[string]any
		if err := json.Unmarshal(w.Body.Bytes(), &p); err != nil {
			t.Fatal(err)
		}
		delete(p, "request_id")
		delete(p, "instance")
		b, _ := json.Marshal(p)
		bodies[fmt.Sprint(w.Code, w.Header().Get("WWW-Authenticate"), string(b))] = true
	}
	if len(bodies) != 1 {
		t.Errorf("refusals differ: got %d distinct answers, want 1: %v", len(bodies), bodies)
	}
}

// A failing store: 503 (fail closed), logged without the key, recorded in the audit event.
func TestHandlerStoreFailure(t *testing.T) {
	f := newFixture(t)
	var logs logBuffer
	keys := newKeys(t, f.store, "live", f.clock, logs.logger())
	f.store.failWith(errors.New("pq: connection refused"))
	trail := &auditTrail{}
	w := serve(t, trail, keys, request("192.0.2.10:1", f.good))
	if w.Code != http.StatusServiceUnavailable || w.Header().Get("Retry-After") == "" {
		t.Errorf("got status %d, Retry-After %q; want 503 with Retry-After", w.Code, w.Header().Get("Retry-After"))
	}
	if ev := trail.last(t); ev.Rejection != "apikey.store-unavailable" {
		t.Errorf("audit rejection: got %q, want apikey.store-unavailable", ev.Rejection)
	}
	if out := logs.String(); !strings.Contains(out, "key store failed") || strings.Contains(out, "connection refused") {
		t.Errorf("log: got %q, want the store failure by kind, without its text", out)
	}
	if strings.Contains(logs.String(), secretOf(f.good)) || strings.Contains(w.Body.String(), "connection refused") {
		t.Error("the key reached the log, or the store error reached the client")
	}
}

// Config.ErrorHandler replaces the default answer and gets the reason.
func TestErrorHandler(t *testing.T) {
	f := newFixture(t)
	var got error
	keys, err := apikey.New(apikey.Config{
		Store: f.store, Pepper: testPepper, Env: "live", Now: f.clock.Now,
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			got = err
			http.Error(w, "no", http.StatusTeapot)
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	w := serve(t, &auditTrail{}, keys, request("192.0.2.10:1", f.revoked))
	if w.Code != http.StatusTeapot || !errors.Is(got, apikey.ErrKeyRevoked) {
		t.Errorf("got status %d, error %v; want 418 and ErrKeyRevoked", w.Code, got)
	}
}

// Without an audit middleware, Handler still works: Annotate is a no-op.
func TestHandlerWithoutAudit(t *testing.T) {
	f := newFixture(t)
	h := f.keys.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) }))
	for _, tt := range []struct {
		key  string
		want int
	}{{f.good, 204}, {f.revoked, 401}} {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, request("192.0.2.10:1", tt.key))
		if w.Code != tt.want {
			t.Errorf("status: got %d, want %d", w.Code, tt.want)
		}
	}
}

func TestHandlerNilPanics(t *testing.T) {
	f := newFixture(t)
	defer func() {
		if recover() == nil {
			t.Error("Handler(nil) did not panic")
		}
	}()
	f.keys.Handler(nil)
}
