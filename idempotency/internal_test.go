package idempotency

import (
	"bytes"
	"context"
	"errors"
	"maps"
	"mime"
	"net/http"
	"slices"
	"testing"
	"time"
)

func TestResponseEncodingRoundTrip(t *testing.T) {
	tests := []storedResponse{
		{status: 201, header: http.Header{"Location": {"/x/1"}, "Content-Type": {"application/json"}}, body: []byte(`{"id":"1"}`)},
		{status: 204, header: http.Header{}, body: nil},
		{status: 200, header: http.Header{"Etag": {`"a"`, `"b"`}, "Empty": {""}}, body: bytes.Repeat([]byte{0, 1, 2}, 1000)},
	}
	for _, want := range tests {
		got, err := decodeResponse(want.appendBinary(nil))
		if err != nil || got.status != want.status || len(got.header) != len(want.header) || !bytes.Equal(got.body, want.body) {
			t.Errorf("round trip of %d: got %+v, %v; want %+v", want.status, got, err, want)
			continue
		}
		for k, vs := range want.header {
			if g := got.header[k]; !slices.Equal(g, vs) {
				t.Errorf("header %s: got %q, want %q", k, g, vs)
			}
		}
	}
}

func TestDecodeResponseRefuses(t *testing.T) {
	tests := []struct {
		name string
		in   []byte
	}{
		{"empty", nil},
		{"unknown version", []byte{2, 0, 200, 0}},
		{"short", []byte{1, 0}},
		{"status 0", []byte{1, 0, 0, 0}},
		{"status 1000", []byte{1, 0x03, 0xe8, 0}},
		{"header count too large", []byte{1, 0, 200, 50}},
		{"name past the end", []byte{1, 0, 200, 1, 9, 'a'}},
		{"value count past the end", []byte{1, 0, 200, 1, 1, 'a', 9}},
		{"bad uvarint", []byte{1, 0, 200, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}},
	}
	for _, tt := range tests {
		if _, err := decodeResponse(tt.in); err == nil {
			t.Errorf("%s: got nil error, want one", tt.name)
		}
	}
}

func FuzzDecodeResponse(f *testing.F) {
	f.Add((&storedResponse{status: 201, header: http.Header{"A": {"b"}}, body: []byte("x")}).appendBinary(nil))
	f.Add([]byte{1, 0, 200, 0})
	f.Add([]byte{1, 0, 200, 1, 1, 'a', 1, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := decodeResponse(b)
		if err != nil {
			return
		}
		if s.status < 100 || s.status > 999 {
			t.Fatalf("status %d accepted", s.status)
		}
		again, err := decodeResponse(s.appendBinary(nil))
		if err != nil || again.status != s.status || !bytes.Equal(again.body, s.body) || !maps.EqualFunc(again.header, s.header, slices.Equal) {
			t.Fatalf("re-encoding does not round-trip")
		}
	})
}

func TestScopeKeyFieldsDoNotBleed(t *testing.T) {
	tests := []struct{ a, b [4]string }{
		{[4]string{"alice", "POST", "/x", "k1"}, [4]string{"alic", "ePOST", "/x", "k1"}},
		{[4]string{"alice", "POST", "/x", "k1"}, [4]string{"alice", "POST", "/xk", "1"}},
		{[4]string{"alice", "POST", "/x", "k1"}, [4]string{"bob", "POST", "/x", "k1"}},
		{[4]string{"alice", "POST", "/x", "k1"}, [4]string{"alice", "PATCH", "/x", "k1"}},
	}
	for _, tt := range tests {
		a := scopeKey(tt.a[0], tt.a[1], tt.a[2], tt.a[3])
		b := scopeKey(tt.b[0], tt.b[1], tt.b[2], tt.b[3])
		if a == b {
			t.Errorf("scopeKey%q == scopeKey%q", tt.a, tt.b)
		}
		if len(a) != 64 || bytes.Contains([]byte(a), []byte("alice")) {
			t.Errorf("scopeKey: got %q, want 64 hex digits", a)
		}
	}
}

// A full store does not scan all its records for each Claim of a new key: after a sweep
// that freed nothing, it waits for the earliest expiry it saw, or for a record added
// since that expires earlier.
func TestMemoryStoreSweepsOnlyWhenARecordCanHaveExpired(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	const lease = time.Minute
	s, err := NewMemoryStore(MemoryStoreConfig{MaxRecords: 3})
	if err != nil {
		t.Fatal(err)
	}
	for i, k := range []string{"a", "b", "c"} {
		if _, err := s.Claim(ctx, k, "t", nil, now.Add(time.Duration(i)*time.Second), lease); err != nil {
			t.Fatal(err)
		}
	}
	steps := []struct {
		name      string
		key       string
		at        time.Duration
		wantErr   error
		wantScans int
	}{
		{"full, nothing expired: scans once", "x1", 10 * time.Second, ErrStoreFull, 1},
		{"flood of new keys before the earliest expiry: no scan", "x2", 20 * time.Second, ErrStoreFull, 1},
		{"another", "x3", lease - time.Nanosecond, ErrStoreFull, 1},
		{"at the earliest expiry: scans, frees a", "x4", lease, nil, 2},
		{"full again, b expires next: no scan before it", "x5", lease + 500*time.Millisecond, ErrStoreFull, 2},
		{"before b expires: no scan", "x6", lease + 900*time.Millisecond, ErrStoreFull, 2},
		{"at b's expiry: scans, frees b", "x7", lease + time.Second, nil, 3},
	}
	for _, st := range steps {
		_, err := s.Claim(ctx, st.key, "t", nil, now.Add(st.at), lease)
		if !errors.Is(err, st.wantErr) || s.scans != st.wantScans {
			t.Errorf("%s: got %v, %d scans; want %v, %d scans", st.name, err, s.scans, st.wantErr, st.wantScans)
		}
	}
	// A record added since the sweep that expires before what the sweep saw.
	at := now.Add(lease + time.Second)
	if err := s.Release(ctx, "x7", "t", at); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Claim(ctx, "y", "t", nil, at, 100*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Claim(ctx, "z", "t", nil, at.Add(100*time.Millisecond), lease); err != nil || s.scans != 4 {
		t.Errorf("at the expiry of a short lease added since: got %v, %d scans; want <nil>, 4 scans", err, s.scans)
	}
}

// mediaType's shortcut for a field without parameters gives what mime.FormatMediaType
// gives, so that fingerprints stay the same whichever way they are computed.
func TestMediaTypeMatchesFormatMediaType(t *testing.T) {
	for _, v := range []string{"application/fhir+json", "Application/FHIR+JSON", " text/plain ", "attachment", "a/b;", "application/json; Charset=UTF-8", "x-Y/z.W+json"} {
		mt, params, err := mime.ParseMediaType(v)
		if err != nil {
			t.Fatalf("ParseMediaType(%q): %v", v, err)
		}
		if got, want := first(mediaType([]string{v})), mime.FormatMediaType(mt, params); got != want {
			t.Errorf("mediaType(%q): got %q, want %q", v, got, want)
		}
	}
}

func first(s, _ string) string { return s }
