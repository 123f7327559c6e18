package idempotency_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/phikit/phikit/audit"
	"github.com/phikit/phikit/idempotency"
	"github.com/phikit/phikit/problem"
)

// ---- entity-tags ----

func TestParseETag(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    idempotency.ETag
		wantErr bool
	}{
		{name: "strong", in: `"xyzzy"`, want: idempotency.ETag{Opaque: "xyzzy"}},
		{name: "weak", in: `W/"3"`, want: idempotency.ETag{Weak: true, Opaque: "3"}},
		{name: "empty opaque", in: `""`, want: idempotency.ETag{}},
		{name: "weak empty opaque", in: `W/""`, want: idempotency.ETag{Weak: true}},
		{name: "all etagc", in: "\"!#~\x80\xff\"", want: idempotency.ETag{Opaque: "!#~\x80\xff"}},
		{name: "unquoted", in: `xyzzy`, wantErr: true},
		{name: "lower-case weak prefix", in: `w/"3"`, wantErr: true},
		{name: "space before W/", in: ` W/"3"`, wantErr: true},
		{name: "space after tag", in: `"3" `, wantErr: true},
		{name: "space inside", in: `"a b"`, wantErr: true},
		{name: "quote inside", in: `"a"b"`, wantErr: true},
		{name: "control char", in: "\"a\x01\"", wantErr: true},
		{name: "DEL", in: "\"a\x7f\"", wantErr: true},
		{name: "unterminated", in: `"abc`, wantErr: true},
		{name: "W/ alone", in: `W/`, wantErr: true},
		{name: "empty", in: ``, wantErr: true},
		{name: "star", in: `*`, wantErr: true},
		{name: "two tags", in: `"a","b"`, wantErr: true},
		{name: "too long", in: `"` + strings.Repeat("a", idempotency.MaxPreconditionFieldBytes) + `"`, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := idempotency.ParseETag(tt.in)
			if tt.wantErr {
				if !errors.Is(err, idempotency.ErrInvalidETag) {
					t.Fatalf("got err %v, want ErrInvalidETag", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("got err %v, want nil", err)
			}
			if got != tt.want {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
			if s := got.String(); s != tt.in {
				t.Errorf("String: got %q, want %q", s, tt.in)
			}
		})
	}
}

func TestParseETagList(t *testing.T) {
	strong := func(s string) idempotency.ETag { return idempotency.ETag{Opaque: s} }
	weak := func(s string) idempotency.ETag { return idempotency.ETag{Weak: true, Opaque: s} }
	tests := []struct {
		name    string
		in      []string
		want    idempotency.ETagList
		wantErr bool
	}{
		{name: "star", in: []string{"*"}, want: idempotency.ETagList{Any: true}},
		{name: "star with OWS", in: []string{" \t* "}, want: idempotency.ETagList{Any: true}},
		{name: "star twice", in: []string{"*, *"}, wantErr: true},
		{name: "star on two lines", in: []string{"*", "*"}, wantErr: true},
		{name: "star and a tag", in: []string{`*, "a"`}, wantErr: true},
		{name: "star and a tag on two lines", in: []string{`"a"`, `*`}, wantErr: true},
		{name: "one strong", in: []string{`"a"`}, want: idempotency.ETagList{Tags: []idempotency.ETag{strong("a")}}},
		{name: "list", in: []string{`"a", W/"b",W/"c"`}, want: idempotency.ETagList{Tags: []idempotency.ETag{strong("a"), weak("b"), weak("c")}}},
		{name: "two lines", in: []string{`"a"`, `W/"b"`}, want: idempotency.ETagList{Tags: []idempotency.ETag{strong("a"), weak("b")}}},
		{name: "empty elements", in: []string{`, "a" ,, "b",`}, want: idempotency.ETagList{Tags: []idempotency.ETag{strong("a"), strong("b")}}},
		{name: "comma inside a tag", in: []string{`"a,b"`}, want: idempotency.ETagList{Tags: []idempotency.ETag{strong("a,b")}}},
		{name: "duplicates kept", in: []string{`"a", "a"`}, want: idempotency.ETagList{Tags: []idempotency.ETag{strong("a"), strong("a")}}},
		{name: "empty field", in: []string{""}, wantErr: true},
		{name: "only commas", in: []string{" , ,"}, wantErr: true},
		{name: "no lines", in: nil, wantErr: true},
		{name: "unquoted", in: []string{`a`}, wantErr: true},
		{name: "unquoted in list", in: []string{`"a", b`}, wantErr: true},
		{name: "missing comma", in: []string{`"a" "b"`}, wantErr: true},
		{name: "no space needed but no glue", in: []string{`"a""b"`}, wantErr: true},
		{name: "lower-case weak", in: []string{`w/"a"`}, wantErr: true},
		{name: "space in W/ prefix", in: []string{`W/ "a"`}, wantErr: true},
		{name: "semicolon separator", in: []string{`"a"; "b"`}, wantErr: true},
		{name: "control char", in: []string{"\"a\x00\""}, wantErr: true},
		{name: "malformed second line", in: []string{`"a"`, `b`}, wantErr: true},
		{name: "at the cap", in: []string{`"` + strings.Repeat("a", idempotency.MaxPreconditionFieldBytes-2) + `"`}, want: idempotency.ETagList{Tags: []idempotency.ETag{strong(strings.Repeat("a", idempotency.MaxPreconditionFieldBytes-2))}}},
		{name: "over the cap", in: []string{`"` + strings.Repeat("a", idempotency.MaxPreconditionFieldBytes-1) + `"`}, wantErr: true},
		{name: "over the cap across lines", in: []string{`"` + strings.Repeat("a", 3000) + `"`, `"` + strings.Repeat("b", 3000) + `"`}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := idempotency.ParseETagList(tt.in...)
			if tt.wantErr {
				if !errors.Is(err, idempotency.ErrInvalidETag) {
					t.Fatalf("got err %v, want ErrInvalidETag", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("got err %v, want nil", err)
			}
			if got.Any != tt.want.Any || len(got.Tags) != len(tt.want.Tags) {
				t.Fatalf("got %+v, want %+v", got, tt.want)
			}
			for i := range got.Tags {
				if got.Tags[i] != tt.want.Tags[i] {
					t.Errorf("tag %d: got %+v, want %+v", i, got.Tags[i], tt.want.Tags[i])
				}
			}
		})
	}
}

// TestETagComparison is the table of RFC 9110 §8.8.3.2.
func TestETagComparison(t *testing.T) {
	tests := []struct {
		a, b       string
		strong     bool
		weakResult bool
	}{
		{`W/"1"`, `W/"1"`, false, true},
		{`W/"1"`, `W/"2"`, false, false},
		{`W/"1"`, `"1"`, false, true},
		{`"1"`, `"1"`, true, true},
		{`"1"`, `"2"`, false, false},
	}
	for _, tt := range tests {
		a, _ := idempotency.ParseETag(tt.a)
		b, _ := idempotency.ParseETag(tt.b)
		if got := a.StrongMatch(b); got != tt.strong {
			t.Errorf("%s strong %s: got %v, want %v", tt.a, tt.b, got, tt.strong)
		}
		if got := b.StrongMatch(a); got != tt.strong {
			t.Errorf("%s strong %s: got %v, want %v", tt.b, tt.a, got, tt.strong)
		}
		if got := a.WeakMatch(b); got != tt.weakResult {
			t.Errorf("%s weak %s: got %v, want %v", tt.a, tt.b, got, tt.weakResult)
		}
	}
}

func TestStrongETag(t *testing.T) {
	a := idempotency.StrongETag([]byte(`{"resourceType":"Patient","id":"p1"}`))
	b := idempotency.StrongETag([]byte(`{"resourceType":"Patient","id":"p2"}`))
	if a == b {
		t.Errorf("got the same tag %s for different bodies, want different", a)
	}
	if again := idempotency.StrongETag([]byte(`{"resourceType":"Patient","id":"p1"}`)); again != a {
		t.Errorf("got %s then %s for the same body, want equal", a, again)
	}
	if len(a) != 24 {
		t.Errorf("got length %d, want 24", len(a))
	}
	tag, err := idempotency.ParseETag(a)
	if err != nil || tag.Weak {
		t.Errorf("got %+v, %v, want a strong tag", tag, err)
	}
	if empty := idempotency.StrongETag(nil); empty != `"47DEQpj8HBSa-_TImW-5JA"` {
		t.Errorf("got %s for no bytes, want the SHA-256 prefix of the empty string", empty)
	}
}

func TestETagFromVersion(t *testing.T) {
	tests := []struct {
		name    string
		version string
		weak    bool
		want    string
		wantErr bool
	}{
		{name: "strong counter", version: "42", want: `"42"`},
		{name: "weak counter", version: "42", weak: true, want: `W/"42"`},
		{name: "uuid", version: "9b2c6a34-1f0e-4f5a-b0d4-7f1e2a3b4c5d", want: `"9b2c6a34-1f0e-4f5a-b0d4-7f1e2a3b4c5d"`},
		{name: "max length", version: strings.Repeat("v", 256), want: `"` + strings.Repeat("v", 256) + `"`},
		{name: "empty", version: "", wantErr: true},
		{name: "too long", version: strings.Repeat("v", 257), wantErr: true},
		{name: "quote", version: `4"2`, wantErr: true},
		{name: "space", version: "4 2", wantErr: true},
		{name: "newline (header injection)", version: "42\r\nSet-Cookie: a=b", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := idempotency.ETagFromVersion(tt.version, tt.weak)
			if tt.wantErr {
				if !errors.Is(err, idempotency.ErrInvalidETag) || got != "" {
					t.Fatalf("got %q, %v, want ErrInvalidETag", got, err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("got %q, %v, want %q", got, err, tt.want)
			}
		})
	}
}

func TestFHIRVersionETag(t *testing.T) {
	tests := []struct {
		name    string
		id      string
		want    string
		wantErr bool
	}{
		{name: "counter", id: "3", want: `W/"3"`},
		{name: "id chars", id: "a-B.9", want: `W/"a-B.9"`},
		{name: "64 chars", id: strings.Repeat("1", 64), want: `W/"` + strings.Repeat("1", 64) + `"`},
		{name: "empty", id: "", wantErr: true},
		{name: "65 chars", id: strings.Repeat("1", 65), wantErr: true},
		{name: "underscore", id: "a_b", wantErr: true},
		{name: "quote", id: `3"`, wantErr: true},
		{name: "already a tag", id: `W/"3"`, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := idempotency.FHIRVersionETag(tt.id)
			if tt.wantErr {
				if !errors.Is(err, idempotency.ErrInvalidETag) {
					t.Fatalf("got %q, %v, want ErrInvalidETag", got, err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("got %q, %v, want %q", got, err, tt.want)
			}
		})
	}
}

// FuzzParseETagList checks the list parser on two field lines: it never panics, accepts
// only what it can write back and parse again to the same list, and agrees with ParseETag
// on a single tag.
func FuzzParseETagList(f *testing.F) {
	for _, s := range [][2]string{
		{`"a"`, ""}, {`W/"3"`, `"4"`}, {`*`, ""}, {`*`, `*`}, {`"a", W/"b", ,`, `"c"`},
		{`w/"a"`, ""}, {`"a" "b"`, ""}, {`"a,b"`, ""}, {"\"\x80\xff\"", ""}, {"\"\x00\"", ""},
		{`, ,`, ""}, {`""`, `W/""`}, {`*, "a"`, ""}, {`W/`, ""}, {"\t\"a\"\t,\t\"b\"", ""},
	} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		lines := []string{a, b}
		if b == "" {
			lines = lines[:1]
		}
		l, err := idempotency.ParseETagList(lines...)
		if err != nil {
			if !errors.Is(err, idempotency.ErrInvalidETag) {
				t.Fatalf("got err %v, want ErrInvalidETag", err)
			}
			return
		}
		if l.Any == (len(l.Tags) > 0) {
			t.Fatalf("got Any %v with %d tags, want exactly one of them", l.Any, len(l.Tags))
		}
		if len(a)+len(b) > idempotency.MaxPreconditionFieldBytes {
			t.Fatalf("accepted %d bytes, want at most %d", len(a)+len(b), idempotency.MaxPreconditionFieldBytes)
		}
		if l.Any {
			return
		}
		parts := make([]string, len(l.Tags))
		for i, tag := range l.Tags {
			if _, err := idempotency.ParseETag(tag.String()); err != nil {
				t.Fatalf("tag %d: ParseETag(String()) failed: %v", i, err)
			}
			parts[i] = tag.String()
		}
		again, err := idempotency.ParseETagList(strings.Join(parts, ", "))
		if err != nil && len(strings.Join(parts, ", ")) <= idempotency.MaxPreconditionFieldBytes {
			t.Fatalf("written back, got err %v, want nil", err)
		}
		if err == nil {
			if len(again.Tags) != len(l.Tags) {
				t.Fatalf("written back, got %d tags, want %d", len(again.Tags), len(l.Tags))
			}
			for i := range again.Tags {
				if again.Tags[i] != l.Tags[i] {
					t.Fatalf("written back, tag %d: got %+v, want %+v", i, again.Tags[i], l.Tags[i])
				}
			}
		}
		if b == "" && len(l.Tags) == 1 && a == l.Tags[0].String() {
			if tag, err := idempotency.ParseETag(a); err != nil || tag != l.Tags[0] {
				t.Fatalf("ParseETag: got %+v, %v, want %+v", tag, err, l.Tags[0])
			}
		}
	})
}

// FuzzParseETag checks that ParseETag never panics and accepts only what String writes
// back byte for byte.
func FuzzParseETag(f *testing.F) {
	for _, s := range []string{`"a"`, `W/"3"`, `""`, `W/""`, `w/"a"`, `"a`, `*`, "\"\x80\"", "\"\x7f\"", ` "a"`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		tag, err := idempotency.ParseETag(s)
		if err != nil {
			if !errors.Is(err, idempotency.ErrInvalidETag) {
				t.Fatalf("got err %v, want ErrInvalidETag", err)
			}
			return
		}
		if got := tag.String(); got != s {
			t.Fatalf("String: got %q, want %q", got, s)
		}
	})
}

// ---- the middleware ----

// preconditionTrail collects audit events.
type preconditionTrail struct {
	mu     sync.Mutex
	events []audit.Event
}

func (a *preconditionTrail) Write(_ context.Context, e *audit.Event) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.events = append(a.events, *e)
	return nil
}

func (a *preconditionTrail) last(t *testing.T) audit.Event {
	t.Helper()
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.events) == 0 {
		t.Fatal("no audit event")
	}
	return a.events[len(a.events)-1]
}

// fakeVersioner answers with fixed values and counts its calls.
type fakeVersioner struct {
	etag   string
	exists bool
	err    error
	calls  atomic.Int64
}

func (v *fakeVersioner) CurrentETag(*http.Request) (string, bool, error) {
	v.calls.Add(1)
	return v.etag, v.exists, v.err
}

var errDatabaseDown = errors.New("db: patient pat-123 row lock timeout")

func TestPreconditionsHandler(t *testing.T) {
	type current struct {
		etag   string
		exists bool
		err    error
	}
	v2 := current{etag: `"v2"`, exists: true}
	fhir3 := current{etag: `W/"3"`, exists: true}
	absent := current{}
	tests := []struct {
		name          string
		method        string
		ifMatch       []string // one entry per field line
		ifNoneMatch   []string
		cur           current
		fhir          bool
		unconditional bool // InsecureAllowUnconditional
		wantStatus    int  // 200: the handler ran
		wantRejection string
		wantAsked     bool // the Versioner was called
		wantChecked   *idempotency.Checked
	}{
		// If-Match, strong comparison.
		{name: "PUT matching", method: "PUT", ifMatch: []string{`"v2"`}, cur: v2, wantStatus: 200, wantAsked: true,
			wantChecked: &idempotency.Checked{ETag: idempotency.ETag{Opaque: "v2"}, Exists: true}},
		{name: "PUT stale", method: "PUT", ifMatch: []string{`"v1"`}, cur: v2, wantStatus: 412, wantRejection: idempotency.RejectionPreconditionFailed, wantAsked: true},
		{name: "PUT weak tag never matches strongly", method: "PUT", ifMatch: []string{`W/"v2"`}, cur: v2, wantStatus: 412, wantRejection: idempotency.RejectionPreconditionFailed, wantAsked: true},
		{name: "PUT strong tag vs weak current", method: "PUT", ifMatch: []string{`"3"`}, cur: fhir3, wantStatus: 412, wantRejection: idempotency.RejectionPreconditionFailed, wantAsked: true},
		{name: "PUT FHIR tag without FHIR mode", method: "PUT", ifMatch: []string{`W/"3"`}, cur: fhir3, wantStatus: 412, wantRejection: idempotency.RejectionPreconditionFailed, wantAsked: true},
		{name: "PUT list with the current", method: "PUT", ifMatch: []string{`"v1", "v2"`}, cur: v2, wantStatus: 200, wantAsked: true,
			wantChecked: &idempotency.Checked{ETag: idempotency.ETag{Opaque: "v2"}, Exists: true}},
		{name: "PUT list without the current", method: "PUT", ifMatch: []string{`"v1", "v3", W/"v2"`}, cur: v2, wantStatus: 412, wantRejection: idempotency.RejectionPreconditionFailed, wantAsked: true},
		{name: "PUT two lines, one current", method: "PUT", ifMatch: []string{`"v1"`, `"v2"`}, cur: v2, wantStatus: 200, wantAsked: true,
			wantChecked: &idempotency.Checked{ETag: idempotency.ETag{Opaque: "v2"}, Exists: true}},
		{name: "PUT two lines, none current", method: "PUT", ifMatch: []string{`"v1"`, `"v3"`}, cur: v2, wantStatus: 412, wantRejection: idempotency.RejectionPreconditionFailed, wantAsked: true},
		{name: "PUT prefix of the current", method: "PUT", ifMatch: []string{`"v"`}, cur: v2, wantStatus: 412, wantRejection: idempotency.RejectionPreconditionFailed, wantAsked: true},
		{name: "PUT star, exists", method: "PUT", ifMatch: []string{`*`}, cur: v2, wantStatus: 200, wantAsked: true,
			wantChecked: &idempotency.Checked{ETag: idempotency.ETag{Opaque: "v2"}, Exists: true}},
		{name: "PUT star, absent", method: "PUT", ifMatch: []string{`*`}, cur: absent, wantStatus: 412, wantRejection: idempotency.RejectionPreconditionFailed, wantAsked: true},
		{name: "PUT tag, absent", method: "PUT", ifMatch: []string{`"v2"`}, cur: absent, wantStatus: 412, wantRejection: idempotency.RejectionPreconditionFailed, wantAsked: true},
		{name: "PATCH matching", method: "PATCH", ifMatch: []string{`"v2"`}, cur: v2, wantStatus: 200, wantAsked: true,
			wantChecked: &idempotency.Checked{ETag: idempotency.ETag{Opaque: "v2"}, Exists: true}},
		{name: "PATCH stale", method: "PATCH", ifMatch: []string{`"v1"`}, cur: v2, wantStatus: 412, wantRejection: idempotency.RejectionPreconditionFailed, wantAsked: true},
		{name: "DELETE matching", method: "DELETE", ifMatch: []string{`"v2"`}, cur: v2, wantStatus: 200, wantAsked: true,
			wantChecked: &idempotency.Checked{ETag: idempotency.ETag{Opaque: "v2"}, Exists: true}},
		{name: "DELETE stale", method: "DELETE", ifMatch: []string{`"v1"`}, cur: v2, wantStatus: 412, wantRejection: idempotency.RejectionPreconditionFailed, wantAsked: true},
		{name: "DELETE absent", method: "DELETE", ifMatch: []string{`"v1"`}, cur: absent, wantStatus: 412, wantRejection: idempotency.RejectionPreconditionFailed, wantAsked: true},

		// Missing conditions: 428 before the Versioner is asked.
		{name: "PUT without If-Match", method: "PUT", cur: v2, wantStatus: 428, wantRejection: idempotency.RejectionPreconditionRequired},
		{name: "PATCH without If-Match", method: "PATCH", cur: v2, wantStatus: 428, wantRejection: idempotency.RejectionPreconditionRequired},
		{name: "DELETE without If-Match", method: "DELETE", cur: v2, wantStatus: 428, wantRejection: idempotency.RejectionPreconditionRequired},
		{name: "DELETE without If-Match, absent", method: "DELETE", cur: absent, wantStatus: 428, wantRejection: idempotency.RejectionPreconditionRequired},
		{name: "PUT without If-Match, Versioner down", method: "PUT", cur: current{err: errDatabaseDown}, wantStatus: 428, wantRejection: idempotency.RejectionPreconditionRequired},
		{name: "PUT with an If-None-Match list only", method: "PUT", ifNoneMatch: []string{`"v1"`}, cur: v2, wantStatus: 428, wantRejection: idempotency.RejectionPreconditionRequired},
		{name: "PUT unconditional, insecurely allowed", method: "PUT", cur: v2, unconditional: true, wantStatus: 200},
		{name: "DELETE unconditional, insecurely allowed", method: "DELETE", cur: v2, unconditional: true, wantStatus: 200},
		{name: "PUT stale, unconditional allowed", method: "PUT", ifMatch: []string{`"v1"`}, cur: v2, unconditional: true, wantStatus: 412, wantRejection: idempotency.RejectionPreconditionFailed, wantAsked: true},

		// If-None-Match.
		{name: "PUT create if absent", method: "PUT", ifNoneMatch: []string{`*`}, cur: absent, wantStatus: 200, wantAsked: true,
			wantChecked: &idempotency.Checked{}},
		{name: "PUT create if absent, exists", method: "PUT", ifNoneMatch: []string{`*`}, cur: v2, wantStatus: 412, wantRejection: idempotency.RejectionPreconditionFailed, wantAsked: true},
		{name: "PUT If-None-Match list, no match (allowed unconditional)", method: "PUT", ifNoneMatch: []string{`"v1"`}, cur: v2, unconditional: true, wantStatus: 200, wantAsked: true,
			wantChecked: &idempotency.Checked{ETag: idempotency.ETag{Opaque: "v2"}, Exists: true}},
		{name: "PUT If-None-Match list, weak match", method: "PUT", ifNoneMatch: []string{`W/"v2"`}, cur: v2, unconditional: true, wantStatus: 412, wantRejection: idempotency.RejectionPreconditionFailed, wantAsked: true},
		{name: "PUT If-Match and If-None-Match *, exists", method: "PUT", ifMatch: []string{`"v2"`}, ifNoneMatch: []string{`*`}, cur: v2, wantStatus: 412, wantRejection: idempotency.RejectionPreconditionFailed, wantAsked: true},
		{name: "PUT If-Match and If-None-Match other", method: "PUT", ifMatch: []string{`"v2"`}, ifNoneMatch: []string{`"v1"`}, cur: v2, wantStatus: 200, wantAsked: true,
			wantChecked: &idempotency.Checked{ETag: idempotency.ETag{Opaque: "v2"}, Exists: true}},
		{name: "DELETE If-None-Match *, absent", method: "DELETE", ifNoneMatch: []string{`*`}, cur: absent, wantStatus: 200, wantAsked: true,
			wantChecked: &idempotency.Checked{}},

		// Malformed fields: 400, never treated as absent, Versioner not asked.
		{name: "PUT unquoted If-Match", method: "PUT", ifMatch: []string{`v2`}, cur: v2, wantStatus: 400, wantRejection: idempotency.RejectionPreconditionMalformed},
		{name: "PUT lower-case weak", method: "PUT", ifMatch: []string{`w/"v2"`}, cur: v2, wantStatus: 400, wantRejection: idempotency.RejectionPreconditionMalformed},
		{name: "PUT star and tag", method: "PUT", ifMatch: []string{`*, "v2"`}, cur: v2, wantStatus: 400, wantRejection: idempotency.RejectionPreconditionMalformed},
		{name: "PUT star on two lines", method: "PUT", ifMatch: []string{`*`, `*`}, cur: v2, wantStatus: 400, wantRejection: idempotency.RejectionPreconditionMalformed},
		{name: "PUT empty If-Match", method: "PUT", ifMatch: []string{``}, cur: v2, wantStatus: 400, wantRejection: idempotency.RejectionPreconditionMalformed},
		{name: "PUT good line and bad line", method: "PUT", ifMatch: []string{`"v2"`, `v3`}, cur: v2, wantStatus: 400, wantRejection: idempotency.RejectionPreconditionMalformed},
		{name: "PUT oversized If-Match", method: "PUT", ifMatch: []string{`"v2", "` + strings.Repeat("x", idempotency.MaxPreconditionFieldBytes) + `"`}, cur: v2, wantStatus: 400, wantRejection: idempotency.RejectionPreconditionMalformed},
		{name: "PUT malformed If-None-Match beside a matching If-Match", method: "PUT", ifMatch: []string{`"v2"`}, ifNoneMatch: []string{`v1`}, cur: v2, wantStatus: 400, wantRejection: idempotency.RejectionPreconditionMalformed},
		{name: "PUT malformed, unconditional allowed", method: "PUT", ifMatch: []string{`v2`}, cur: v2, unconditional: true, wantStatus: 400, wantRejection: idempotency.RejectionPreconditionMalformed},
		{name: "PUT malformed, Versioner down", method: "PUT", ifMatch: []string{`v2`}, cur: current{err: errDatabaseDown}, wantStatus: 400, wantRejection: idempotency.RejectionPreconditionMalformed},

		// The Versioner fails: closed, the handler never runs.
		{name: "PUT, Versioner down", method: "PUT", ifMatch: []string{`"v2"`}, cur: current{err: errDatabaseDown}, wantStatus: 503, wantRejection: idempotency.RejectionVersionUnavailable, wantAsked: true},
		{name: "PUT create if absent, Versioner down", method: "PUT", ifNoneMatch: []string{`*`}, cur: current{err: errDatabaseDown}, wantStatus: 503, wantRejection: idempotency.RejectionVersionUnavailable, wantAsked: true},
		{name: "PUT, Versioner answers an invalid tag", method: "PUT", ifMatch: []string{`"v2"`}, cur: current{etag: `v2`, exists: true}, wantStatus: 500, wantRejection: idempotency.RejectionVersionUnavailable, wantAsked: true},
		{name: "PUT, Versioner answers an empty tag", method: "PUT", ifMatch: []string{`*`}, cur: current{exists: true}, wantStatus: 500, wantRejection: idempotency.RejectionVersionUnavailable, wantAsked: true},
		{name: "PUT absent, Versioner's tag ignored", method: "PUT", ifNoneMatch: []string{`*`}, cur: current{etag: `junk`}, wantStatus: 200, wantAsked: true,
			wantChecked: &idempotency.Checked{}},

		// FHIR mode.
		{name: "FHIR weak matching", method: "PUT", ifMatch: []string{`W/"3"`}, cur: fhir3, fhir: true, wantStatus: 200, wantAsked: true,
			wantChecked: &idempotency.Checked{ETag: idempotency.ETag{Weak: true, Opaque: "3"}, Exists: true}},
		{name: "FHIR strong tag, same version", method: "PUT", ifMatch: []string{`"3"`}, cur: fhir3, fhir: true, wantStatus: 200, wantAsked: true,
			wantChecked: &idempotency.Checked{ETag: idempotency.ETag{Weak: true, Opaque: "3"}, Exists: true}},
		{name: "FHIR weak tag vs strong current", method: "PUT", ifMatch: []string{`W/"3"`}, cur: current{etag: `"3"`, exists: true}, fhir: true, wantStatus: 200, wantAsked: true,
			wantChecked: &idempotency.Checked{ETag: idempotency.ETag{Opaque: "3"}, Exists: true}},
		{name: "FHIR stale", method: "PUT", ifMatch: []string{`W/"2"`}, cur: fhir3, fhir: true, wantStatus: 412, wantRejection: idempotency.RejectionPreconditionFailed, wantAsked: true},
		{name: "FHIR longer version", method: "PUT", ifMatch: []string{`W/"33"`}, cur: fhir3, fhir: true, wantStatus: 412, wantRejection: idempotency.RejectionPreconditionFailed, wantAsked: true},
		{name: "FHIR bare versionId is malformed", method: "PUT", ifMatch: []string{`3`}, cur: fhir3, fhir: true, wantStatus: 400, wantRejection: idempotency.RejectionPreconditionMalformed},
		{name: "FHIR missing", method: "PUT", cur: fhir3, fhir: true, wantStatus: 428, wantRejection: idempotency.RejectionPreconditionRequired},
		{name: "FHIR absent", method: "PUT", ifMatch: []string{`W/"3"`}, cur: absent, fhir: true, wantStatus: 412, wantRejection: idempotency.RejectionPreconditionFailed, wantAsked: true},
		{name: "FHIR create if absent, exists", method: "PUT", ifNoneMatch: []string{`*`}, cur: fhir3, fhir: true, wantStatus: 412, wantRejection: idempotency.RejectionPreconditionFailed, wantAsked: true},
		{name: "FHIR DELETE matching", method: "DELETE", ifMatch: []string{`W/"3"`}, cur: fhir3, fhir: true, wantStatus: 200, wantAsked: true,
			wantChecked: &idempotency.Checked{ETag: idempotency.ETag{Weak: true, Opaque: "3"}, Exists: true}},

		// Safe methods pass untouched; POST needs no condition but has those it sends checked.
		{name: "GET with a stale If-Match", method: "GET", ifMatch: []string{`"v1"`}, cur: v2, wantStatus: 200},
		{name: "GET with a malformed If-Match", method: "GET", ifMatch: []string{`v1`}, cur: v2, wantStatus: 200},
		{name: "HEAD with If-None-Match", method: "HEAD", ifNoneMatch: []string{`"v2"`}, cur: v2, wantStatus: 200},
		{name: "OPTIONS", method: "OPTIONS", cur: current{err: errDatabaseDown}, wantStatus: 200},
		{name: "GET, Versioner down", method: "GET", ifMatch: []string{`"v2"`}, cur: current{err: errDatabaseDown}, wantStatus: 200},
		{name: "POST without conditions", method: "POST", cur: v2, wantStatus: 200},
		{name: "POST stale", method: "POST", ifMatch: []string{`"v1"`}, cur: v2, wantStatus: 412, wantRejection: idempotency.RejectionPreconditionFailed, wantAsked: true},
		{name: "POST matching", method: "POST", ifMatch: []string{`"v2"`}, cur: v2, wantStatus: 200, wantAsked: true,
			wantChecked: &idempotency.Checked{ETag: idempotency.ETag{Opaque: "v2"}, Exists: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ver := &fakeVersioner{etag: tt.cur.etag, exists: tt.cur.exists, err: tt.cur.err}
			pre, err := idempotency.NewPreconditions(idempotency.PreconditionConfig{
				Versioner: ver, FHIR: tt.fhir, InsecureAllowUnconditional: tt.unconditional,
			})
			if err != nil {
				t.Fatal(err)
			}
			trail := &preconditionTrail{}
			aud, err := audit.New(audit.Config{Sink: trail})
			if err != nil {
				t.Fatal(err)
			}
			var ran bool
			var gotChecked idempotency.Checked
			var gotOK bool
			h := aud.Handler(pre.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				ran = true
				gotChecked, gotOK = idempotency.CheckedFromContext(r.Context())
			})))
			r := httptest.NewRequest(tt.method, "/fhir/Patient/p1", nil)
			for _, v := range tt.ifMatch {
				r.Header.Add("If-Match", v)
			}
			for _, v := range tt.ifNoneMatch {
				r.Header.Add("If-None-Match", v)
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)

			if w.Code != tt.wantStatus {
				t.Errorf("status: got %d, want %d", w.Code, tt.wantStatus)
			}
			if got, want := w.Header().Get("Retry-After"), map[bool]string{true: "1"}[tt.wantStatus == 503]; got != want {
				t.Errorf("Retry-After: got %q, want %q", got, want)
			}
			if ran != (tt.wantStatus == 200) {
				t.Errorf("handler ran: got %v, want %v", ran, tt.wantStatus == 200)
			}
			if got := trail.last(t).Rejection; got != tt.wantRejection {
				t.Errorf("rejection: got %q, want %q", got, tt.wantRejection)
			}
			if got := ver.calls.Load() > 0; got != tt.wantAsked {
				t.Errorf("Versioner asked: got %v, want %v", got, tt.wantAsked)
			}
			if ran {
				if gotOK != (tt.wantChecked != nil) {
					t.Errorf("CheckedFromContext ok: got %v, want %v", gotOK, tt.wantChecked != nil)
				} else if gotOK && gotChecked != *tt.wantChecked {
					t.Errorf("Checked: got %+v, want %+v", gotChecked, *tt.wantChecked)
				}
			}
			if tt.wantStatus != 200 {
				if ct := w.Header().Get("Content-Type"); ct != problem.ContentTypeProblem {
					t.Errorf("Content-Type: got %q, want %q", ct, problem.ContentTypeProblem)
				}
				body := w.Body.String()
				for _, v := range append(append([]string{}, tt.ifMatch...), tt.ifNoneMatch...) {
					if len(v) >= 3 && strings.Contains(body, v) {
						t.Errorf("body %s echoes the request's %q", body, v)
					}
				}
				if strings.Contains(body, "pat-123") || strings.Contains(body, "v2") {
					t.Errorf("body %s carries a version or the Versioner's error", body)
				}
			}
		})
	}
}

func TestPreconditionsCheckErrors(t *testing.T) {
	ver := &fakeVersioner{etag: `"v2"`, exists: true}
	pre, err := idempotency.NewPreconditions(idempotency.PreconditionConfig{Versioner: ver})
	if err != nil {
		t.Fatal(err)
	}
	down, _ := idempotency.NewPreconditions(idempotency.PreconditionConfig{Versioner: &fakeVersioner{err: errDatabaseDown}})
	bad, _ := idempotency.NewPreconditions(idempotency.PreconditionConfig{Versioner: &fakeVersioner{etag: "v2", exists: true}})
	req := func(method, ifMatch string) *http.Request {
		r := httptest.NewRequest(method, "/x", nil)
		if ifMatch != "" {
			r.Header.Set("If-Match", ifMatch)
		}
		return r
	}
	tests := []struct {
		name string
		p    *idempotency.Preconditions
		r    *http.Request
		want []error // each must match with errors.Is; nil means no error
	}{
		{name: "match", p: pre, r: req("PUT", `"v2"`)},
		{name: "safe", p: pre, r: req("GET", `junk`)},
		{name: "missing", p: pre, r: req("PUT", ""), want: []error{idempotency.ErrPreconditionRequired}},
		{name: "stale", p: pre, r: req("PUT", `"v1"`), want: []error{idempotency.ErrPreconditionFailed}},
		{name: "malformed", p: pre, r: req("PUT", `v1`), want: []error{idempotency.ErrMalformedPrecondition}},
		{name: "Versioner down", p: down, r: req("PUT", `"v2"`), want: []error{idempotency.ErrVersionUnavailable, errDatabaseDown}},
		{name: "Versioner's invalid tag", p: bad, r: req("PUT", `"v2"`), want: []error{idempotency.ErrInvalidETag}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.p.Check(tt.r)
			if tt.want == nil && err != nil {
				t.Fatalf("got %v, want nil", err)
			}
			for _, w := range tt.want {
				if !errors.Is(err, w) {
					t.Errorf("got %v, want errors.Is %v", err, w)
				}
			}
		})
	}
}

func TestNewPreconditionsRequiresVersioner(t *testing.T) {
	if p, err := idempotency.NewPreconditions(idempotency.PreconditionConfig{}); !errors.Is(err, idempotency.ErrInvalidConfig) || p != nil {
		t.Fatalf("got %v, %v, want ErrInvalidConfig", p, err)
	}
}

func TestPreconditionsErrorHandler(t *testing.T) {
	var got error
	pre, err := idempotency.NewPreconditions(idempotency.PreconditionConfig{
		Versioner: idempotency.VersionerFunc(func(*http.Request) (string, bool, error) { return `"v2"`, true, nil }),
		ErrorHandler: func(w http.ResponseWriter, _ *http.Request, err error) {
			got = err
			w.WriteHeader(http.StatusConflict) // a team that prefers HAPI's 409
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	r := httptest.NewRequest("PUT", "/x", nil)
	r.Header.Set("If-Match", `"v1"`)
	w := httptest.NewRecorder()
	pre.Handler(http.NotFoundHandler()).ServeHTTP(w, r)
	if w.Code != http.StatusConflict || !errors.Is(got, idempotency.ErrPreconditionFailed) {
		t.Errorf("got %d, %v, want 409, ErrPreconditionFailed", w.Code, got)
	}
}

func TestPreconditionsFHIRProblem(t *testing.T) {
	pre, _ := idempotency.NewPreconditions(idempotency.PreconditionConfig{Versioner: &fakeVersioner{etag: `W/"3"`, exists: true}, FHIR: true})
	r := httptest.NewRequest("PUT", "/fhir/Patient/p1", nil)
	r.Header.Set("Accept", "application/fhir+json")
	r.Header.Set("If-Match", `W/"2"`)
	w := httptest.NewRecorder()
	pre.Handler(http.NotFoundHandler()).ServeHTTP(w, r)
	if w.Code != 412 || w.Header().Get("Content-Type") != problem.ContentTypeFHIR {
		t.Errorf("got %d %q, want 412 %q", w.Code, w.Header().Get("Content-Type"), problem.ContentTypeFHIR)
	}
	if !strings.Contains(w.Body.String(), `"OperationOutcome"`) {
		t.Errorf("got body %s, want an OperationOutcome", w.Body.String())
	}
}

func TestPreconditionsLogsByKindOnly(t *testing.T) {
	var buf bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&buf, nil))
	tests := []struct {
		name     string
		ver      *fakeVersioner
		wantLine string
	}{
		{name: "Versioner error", ver: &fakeVersioner{err: errDatabaseDown}, wantLine: "error_kind=*errors.errorString"},
		{name: "invalid tag", ver: &fakeVersioner{etag: "pat-123", exists: true}, wantLine: "invalid entity-tag"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			buf.Reset()
			pre, _ := idempotency.NewPreconditions(idempotency.PreconditionConfig{Versioner: tt.ver, Logger: logger})
			r := httptest.NewRequest("PUT", "/x", nil)
			r.Header.Set("If-Match", `"v2"`)
			_ = pre.Check(r)
			if !strings.Contains(buf.String(), tt.wantLine) {
				t.Errorf("got log %q, want it to contain %q", buf.String(), tt.wantLine)
			}
			if strings.Contains(buf.String(), "pat-123") {
				t.Errorf("got log %q, which carries the Versioner's text", buf.String())
			}
		})
	}
	// Client refusals are not logged.
	buf.Reset()
	pre, _ := idempotency.NewPreconditions(idempotency.PreconditionConfig{Versioner: &fakeVersioner{etag: `"v2"`, exists: true}, Logger: logger})
	r := httptest.NewRequest("PUT", "/x", nil)
	r.Header.Set("If-Match", `"v1"`)
	_ = pre.Check(r)
	if buf.Len() != 0 {
		t.Errorf("got log %q for a stale If-Match, want nothing", buf.String())
	}
}

func TestPreconditionsConcurrent(t *testing.T) {
	ver := &fakeVersioner{etag: `"v2"`, exists: true}
	pre, _ := idempotency.NewPreconditions(idempotency.PreconditionConfig{Versioner: ver})
	h := pre.Handler(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	var wg sync.WaitGroup
	var ok, failed atomic.Int64
	for i := range 64 {
		wg.Go(func() {
			r := httptest.NewRequest("PUT", "/x", nil)
			if i%2 == 0 {
				r.Header.Set("If-Match", `"v2"`)
			} else {
				r.Header.Set("If-Match", `"v1"`)
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			switch w.Code {
			case 200:
				ok.Add(1)
			case 412:
				failed.Add(1)
			}
		})
	}
	wg.Wait()
	if ok.Load() != 32 || failed.Load() != 32 {
		t.Errorf("got %d passed and %d refused, want 32 and 32", ok.Load(), failed.Load())
	}
}

// ---- benchmarks ----

type preconditionDiscard struct{ h http.Header }

func (d *preconditionDiscard) Header() http.Header         { return d.h }
func (d *preconditionDiscard) Write(b []byte) (int, error) { return len(b), nil }
func (d *preconditionDiscard) WriteHeader(int)             {}

// BenchmarkPreconditions compares a PUT through the middleware with the same PUT to the
// bare handler (the baseline); the Versioner answers from memory, so the numbers are the
// middleware's own cost.
func BenchmarkPreconditions(b *testing.B) {
	next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(204) })
	strict, _ := idempotency.NewPreconditions(idempotency.PreconditionConfig{
		Versioner: idempotency.VersionerFunc(func(*http.Request) (string, bool, error) { return `"9b2c6a34"`, true, nil }),
	})
	fhir, _ := idempotency.NewPreconditions(idempotency.PreconditionConfig{
		FHIR:      true,
		Versioner: idempotency.VersionerFunc(func(*http.Request) (string, bool, error) { return `W/"17"`, true, nil }),
	})
	cases := []struct {
		name    string
		h       http.Handler
		ifMatch string
	}{
		{"bare", next, `"9b2c6a34"`},
		{"match", strict.Handler(next), `"9b2c6a34"`},
		{"match-third-of-list", strict.Handler(next), `"1a", "2b", "9b2c6a34"`},
		{"fhir-match", fhir.Handler(next), `W/"17"`},
		{"stale-412", strict.Handler(next), `"00000000"`},
		{"missing-428", strict.Handler(next), ``},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			r := httptest.NewRequest("PUT", "/fhir/Patient/p1", nil)
			if c.ifMatch != "" {
				r.Header.Set("If-Match", c.ifMatch)
			}
			w := &preconditionDiscard{h: http.Header{}}
			b.ReportAllocs()
			for b.Loop() {
				clear(w.h)
				c.h.ServeHTTP(w, r)
			}
		})
	}
	b.Run("Check", func(b *testing.B) {
		r := httptest.NewRequest("PUT", "/fhir/Patient/p1", nil)
		r.Header.Set("If-Match", `"9b2c6a34"`)
		b.ReportAllocs()
		for b.Loop() {
			if err := strict.Check(r); err != nil {
				b.Fatal(err)
			}
		}
	})
}
