package reqid_test

import (
	"context"
	"regexp"
	"strings"
	"testing"

	"github.com/phikit/phikit/internal/reqid"
)

var requestIDPattern = regexp.MustCompile(`^[0-9a-f]{32}-[0-9a-f]{16}$`)

const (
	trace  = "4bf92f3577b34da6a3ce929d0e0e4736"
	parent = "00f067aa0ba902b7"
	zero32 = "00000000000000000000000000000000"
	zero16 = "0000000000000000"
)

// traceparentCases is the traceparent spec; FuzzNew seeds from it. A valid row keeps
// trace and parent; an invalid one gets a fresh trace id and no parent.
var traceparentCases = []struct {
	name  string
	h     []string
	valid bool
}{
	{"valid version 00", []string{"00-" + trace + "-" + parent + "-01"}, true},
	{"valid version 00 unsampled", []string{"00-" + trace + "-" + parent + "-00"}, true},
	{"valid version 00 any flags", []string{"00-" + trace + "-" + parent + "-ff"}, true},
	{"future version 01 exact length", []string{"01-" + trace + "-" + parent + "-01"}, true},
	{"future version 01 with suffix", []string{"01-" + trace + "-" + parent + "-01-xyz"}, true},
	{"future version fe with empty suffix", []string{"fe-" + trace + "-" + parent + "-01-"}, true},
	{"upper-case trace", []string{"00-" + strings.ToUpper(trace) + "-" + parent + "-01"}, false},
	{"upper-case parent", []string{"00-" + trace + "-" + strings.ToUpper(parent) + "-01"}, false},
	{"upper-case flags", []string{"00-" + trace + "-" + parent + "-0A"}, false},
	{"upper-case version", []string{"0A-" + trace + "-" + parent + "-01"}, false},
	{"all-zero trace", []string{"00-" + zero32 + "-" + parent + "-01"}, false},
	{"all-zero parent", []string{"00-" + trace + "-" + zero16 + "-01"}, false},
	{"version ff", []string{"ff-" + trace + "-" + parent + "-01"}, false},
	{"version 00 with suffix", []string{"00-" + trace + "-" + parent + "-01-xyz"}, false},
	{"version 00 with trailing hyphen", []string{"00-" + trace + "-" + parent + "-01-"}, false},
	{"version 00 with trailing char", []string{"00-" + trace + "-" + parent + "-01x"}, false},
	{"future version with trailing char", []string{"01-" + trace + "-" + parent + "-01x"}, false},
	{"future version too short", []string{"01-" + trace + "-" + parent + "-1"}, false},
	{"short trace", []string{"00-" + trace[:31] + "-" + parent + "-01"}, false},
	{"long parent", []string{"00-" + trace + "-" + parent + "a-01"}, false},
	{"wrong separator after version", []string{"00_" + trace + "-" + parent + "-01"}, false},
	{"wrong separator after trace", []string{"00-" + trace + "_" + parent + "-01"}, false},
	{"wrong separator after parent", []string{"00-" + trace + "-" + parent + ".01"}, false},
	{"non-hex trace", []string{"00-" + "g" + trace[1:] + "-" + parent + "-01"}, false},
	{"non-hex parent", []string{"00-" + trace + "-" + parent[:15] + "z" + "-01"}, false},
	{"non-hex version", []string{"0g-" + trace + "-" + parent + "-01"}, false},
	{"non-hex flags", []string{"00-" + trace + "-" + parent + "-0x"}, false},
	{"leading space", []string{" 00-" + trace + "-" + parent + "-01"}, false},
	{"trailing space", []string{"00-" + trace + "-" + parent + "-01 "}, false},
	{"two headers, both valid", []string{"00-" + trace + "-" + parent + "-01", "00-" + trace + "-" + parent + "-01"}, false},
	{"two headers, second empty", []string{"00-" + trace + "-" + parent + "-01", ""}, false},
	{"empty value", []string{""}, false},
	{"no header", nil, false},
	{"garbage", []string{"not-a-traceparent"}, false},
}

func TestNewTraceparent(t *testing.T) {
	for _, tc := range traceparentCases {
		t.Run(tc.name, func(t *testing.T) {
			ids := reqid.New(tc.h)
			checkFormat(t, ids)
			if tc.valid {
				if ids.TraceID != trace {
					t.Errorf("TraceID: got %q, want %q", ids.TraceID, trace)
				}
				if ids.ParentID != parent {
					t.Errorf("ParentID: got %q, want %q", ids.ParentID, parent)
				}
				if !strings.HasPrefix(ids.RequestID, trace+"-") {
					t.Errorf("RequestID: got %q, want prefix %q", ids.RequestID, trace+"-")
				}
				if ids.SpanID == parent {
					t.Errorf("SpanID: got the caller's parent %q, want a fresh one", ids.SpanID)
				}
				return
			}
			if ids.ParentID != "" {
				t.Errorf("ParentID: got %q, want empty", ids.ParentID)
			}
			if strings.EqualFold(ids.TraceID, trace) {
				t.Errorf("TraceID: got the caller's %q, want a fresh one", ids.TraceID)
			}
		})
	}
}

// checkFormat checks the shape shared by every IDs value.
func checkFormat(t *testing.T, ids *reqid.IDs) {
	t.Helper()
	if ids == nil {
		t.Fatal("New: got nil, want ids")
	}
	if !requestIDPattern.MatchString(ids.RequestID) {
		t.Errorf("RequestID: got %q, want match for %s", ids.RequestID, requestIDPattern)
	}
	if len(ids.RequestID) != 49 {
		t.Fatalf("RequestID length: got %d, want 49", len(ids.RequestID))
	}
	if got, want := ids.TraceID, ids.RequestID[:32]; got != want {
		t.Errorf("TraceID: got %q, want %q", got, want)
	}
	if got, want := ids.SpanID, ids.RequestID[33:]; got != want {
		t.Errorf("SpanID: got %q, want %q", got, want)
	}
}

func TestNewIsUnique(t *testing.T) {
	tests := []struct {
		name       string
		h          []string
		sameTrace  bool
		uniqueSpan bool
	}{
		{"fresh trace", nil, false, true},
		{"caller's trace", []string{"00-" + trace + "-" + parent + "-01"}, true, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			const n = 1000
			requestIDs := make(map[string]bool, n)
			traces := make(map[string]bool, n)
			spans := make(map[string]bool, n)
			for range n {
				ids := reqid.New(tc.h)
				checkFormat(t, ids)
				requestIDs[ids.RequestID] = true
				traces[ids.TraceID] = true
				spans[ids.SpanID] = true
			}
			if len(requestIDs) != n {
				t.Errorf("distinct request ids: got %d, want %d", len(requestIDs), n)
			}
			if len(spans) != n {
				t.Errorf("distinct span ids: got %d, want %d", len(spans), n)
			}
			wantTraces := n
			if tc.sameTrace {
				wantTraces = 1
			}
			if len(traces) != wantTraces {
				t.Errorf("distinct trace ids: got %d, want %d", len(traces), wantTraces)
			}
		})
	}
}

func TestContext(t *testing.T) {
	ids := reqid.New(nil)
	tests := []struct {
		name      string
		ctx       context.Context
		wantIDs   *reqid.IDs
		wantOK    bool
		wantReqID string
	}{
		{"empty context", context.Background(), nil, false, ""},
		{"with ids", reqid.NewContext(context.Background(), ids), ids, true, ids.RequestID},
		{"nested keeps innermost", reqid.NewContext(reqid.NewContext(context.Background(), &reqid.IDs{RequestID: "outer"}), ids), ids, true, ids.RequestID},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := reqid.FromContext(tc.ctx)
			if got != tc.wantIDs || ok != tc.wantOK {
				t.Errorf("FromContext: got (%v, %v), want (%v, %v)", got, ok, tc.wantIDs, tc.wantOK)
			}
			if got := reqid.RequestID(tc.ctx); got != tc.wantReqID {
				t.Errorf("RequestID: got %q, want %q", got, tc.wantReqID)
			}
		})
	}
}

var (
	traceparentPrefix = regexp.MustCompile(`^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$`)
)

// validTraceparent is an independent statement of the W3C rules New follows.
func validTraceparent(s string) bool {
	if len(s) < 55 || !traceparentPrefix.MatchString(s[:55]) {
		return false
	}
	version := s[:2]
	if version == "ff" || s[3:35] == zero32 || s[36:52] == zero16 {
		return false
	}
	if len(s) == 55 {
		return true
	}
	return version != "00" && s[55] == '-'
}

// FuzzNew feeds one traceparent value to New (and the same value twice, which must be
// ignored).
func FuzzNew(f *testing.F) {
	for _, tc := range traceparentCases {
		if len(tc.h) == 1 {
			f.Add(tc.h[0])
		}
	}
	f.Fuzz(func(t *testing.T, s string) {
		valid := validTraceparent(s)
		for _, h := range [][]string{{s}, {s, s}} {
			ids := reqid.New(h)
			if !requestIDPattern.MatchString(ids.RequestID) {
				t.Fatalf("RequestID for %q: got %q, want match for %s", h, ids.RequestID, requestIDPattern)
			}
			if ids.TraceID != ids.RequestID[:32] || ids.SpanID != ids.RequestID[33:] {
				t.Errorf("TraceID/SpanID for %q: got %q/%q, want halves of %q", h, ids.TraceID, ids.SpanID, ids.RequestID)
			}
			kept := len(s) >= 52 && ids.TraceID == s[3:35] && ids.ParentID == s[36:52]
			if want := valid && len(h) == 1; kept != want {
				t.Errorf("trace kept for %q: got %v, want %v (ids %+v)", h, kept, want, ids)
			}
			if !kept && ids.ParentID != "" {
				t.Errorf("ParentID for %q: got %q, want empty", h, ids.ParentID)
			}
		}
	})
}
