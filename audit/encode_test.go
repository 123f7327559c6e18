package audit_test

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/phikit/phikit/audit"
)

// stdJSON is what encoding/json writes for e, without HTML escaping and without the
// encoder's trailing newline.
func stdJSON(t testing.TB, e *audit.Event) []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	require.NoError(t, enc.Encode(e))
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
}

func fullEvent() audit.Event {
	return audit.Event{
		Time:       time.Date(2026, 11, 26, 9, 30, 0, 123456789, time.UTC),
		RequestID:  "4bf92f3577b34da6a3ce929d0e0e4736-53995c3f42cd8ad8",
		TraceID:    "4bf92f3577b34da6a3ce929d0e0e4736",
		SpanID:     "53995c3f42cd8ad8",
		Type:       "DCM#110127",
		Action:     audit.ActionRead,
		Outcome:    audit.OutcomeSuccess,
		Method:     "GET",
		Path:       "/fhir/Patient/pat-1",
		Route:      "GET /fhir/Patient/{id}",
		Status:     200,
		Bytes:      512,
		Latency:    1500 * time.Microsecond,
		ClientGone: true,
		Agent: audit.Agent{Subject: "dr-who", Issuer: "https://idp.example", Client: "smart-app",
			Roles: []string{"physician", "admin"}, AuthMethod: "jwt", Address: "2001:db8::1"},
		Source:       audit.Source{Service: "clinic"},
		Entities:     []audit.Entity{{Kind: audit.EntityPatient, ID: "pat-1"}, {Kind: audit.EntityQuery, Type: "Observation", Query: "patient=pat-1&code=1234-5"}},
		PurposeOfUse: []string{"TREAT"},
		Decision:     &audit.Decision{Allow: false, Reasons: []string{"no consent"}},
		Rejection:    "authz.denied",
		Notes:        []string{"ratelimit.fallback"},
	}
}

func TestAppendJSONMatchesEncodingJSON(t *testing.T) {
	tests := []struct {
		name string
		ev   audit.Event
	}{
		{name: "zero", ev: audit.Event{}},
		{name: "full", ev: fullEvent()},
		{name: "only some agent fields", ev: audit.Event{Agent: audit.Agent{AuthMethod: "mtls"}, Decision: &audit.Decision{Allow: true}}},
		{name: "escapes", ev: audit.Event{
			Path:      "/a\"b\\c\n\r\t\b\f\x00\x1f\x7f<>&\u2028\u2029é😀",
			RequestID: "bad utf8 \xff\xfe end \xed\xa0\x80",
			Agent:     audit.Agent{Roles: []string{"", "\"quoted\""}},
		}},
		{name: "non-UTC time keeps its offset", ev: audit.Event{Time: time.Date(2026, 1, 2, 3, 4, 5, 0, time.FixedZone("x", -5*3600))}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.ev.AppendJSON(nil)
			assert.Equal(t, string(stdJSON(t, &tt.ev)), string(got))
			assert.True(t, json.Valid(got))
		})
	}
}

func TestAppendJSONAppends(t *testing.T) {
	e := audit.Event{Method: "GET"}
	got := e.AppendJSON([]byte("prefix:"))
	assert.Equal(t, "prefix:"+string(e.AppendJSON(nil)), string(got))
}

func FuzzAppendJSON(f *testing.F) {
	for _, s := range []string{"", "plain", "\"\\\n\x00", "\xff", "\u2028", "😀", "<script>"} {
		f.Add(s, s, int64(len(s)))
	}
	f.Fuzz(func(t *testing.T, a, b string, n int64) {
		e := fullEvent()
		e.Path, e.Agent.Subject, e.Entities[1].Query, e.Bytes = a, b, a+b, n
		e.Agent.Roles = []string{a, b}
		got := e.AppendJSON(nil)
		if !json.Valid(got) {
			t.Fatalf("invalid JSON: %q", got)
		}
		if want := stdJSON(t, &e); !bytes.Equal(got, want) {
			t.Fatalf("got %q, want %q", got, want)
		}
		var back audit.Event
		if err := json.Unmarshal(got, &back); err != nil {
			t.Fatal(err)
		}
		if utf8.ValidString(a) && back.Path != a {
			t.Fatalf("round trip: got %q, want %q", back.Path, a)
		}
	})
}
