package idempotency

import (
	"bytes"
	"net/http"
	"testing"
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
			if g := got.header[k]; len(g) != len(vs) || (len(vs) > 0 && g[0] != vs[0]) {
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
		if err != nil || again.status != s.status || !bytes.Equal(again.body, s.body) || len(again.header) != len(s.header) {
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
