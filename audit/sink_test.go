package audit_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/phikit/phikit/audit"
)

func newTextLogger(w io.Writer) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, nil))
}

func TestFanOut(t *testing.T) {
	tests := []struct {
		name       string
		required   []error
		bestEffort []error
		wantErr    bool
		wantLog    bool
	}{
		{name: "all succeed", required: []error{nil, nil}, bestEffort: []error{nil}},
		{name: "best-effort fails: logged only", required: []error{nil}, bestEffort: []error{errDiskFull}, wantLog: true},
		{name: "first required fails", required: []error{errDiskFull, nil}, wantErr: true},
		{name: "last required fails", required: []error{nil, errDiskFull}, bestEffort: []error{nil}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mk := func(errs []error) ([]audit.Sink, []*memorySink) {
				var sinks []audit.Sink
				var mems []*memorySink
				for _, err := range errs {
					s := &memorySink{err: err}
					sinks, mems = append(sinks, s), append(mems, s)
				}
				return sinks, mems
			}
			req, reqMems := mk(tt.required)
			be, beMems := mk(tt.bestEffort)
			var logs strings.Builder
			f, err := audit.NewFanOut(audit.FanOutConfig{Required: req, BestEffort: be, Logger: newTextLogger(&logs)})
			require.NoError(t, err)

			err = f.Write(context.Background(), &audit.Event{RequestID: "r1", Path: "/fhir/Patient/pat-1"})
			if tt.wantErr {
				assert.ErrorIs(t, err, audit.ErrSinkFailed)
				assert.ErrorIs(t, err, errDiskFull)
			} else {
				assert.NoError(t, err)
			}
			assert.Equal(t, tt.wantLog, strings.Contains(logs.String(), "best-effort sink failed"))
			assert.NotContains(t, logs.String(), "pat-1")
			assert.NotContains(t, logs.String(), errDiskFull.Error()) // the kind only
			if tt.wantLog {
				assert.Contains(t, logs.String(), "error_kind=*errors.errorString")
			}
			// Every healthy sink got the event, whatever the others did.
			for i, m := range append(reqMems, beMems...) {
				if m.err == nil {
					assert.Len(t, m.all(), 1, "sink %d", i)
				}
			}
		})
	}
}

func TestNewFanOutValidates(t *testing.T) {
	_, err := audit.NewFanOut(audit.FanOutConfig{})
	assert.Error(t, err, "no required sink")
	_, err = audit.NewFanOut(audit.FanOutConfig{Required: []audit.Sink{nil}})
	assert.Error(t, err)
	_, err = audit.NewFanOut(audit.FanOutConfig{Required: []audit.Sink{&memorySink{}}, BestEffort: []audit.Sink{nil}})
	assert.Error(t, err)
}

func TestJSONLinesConcurrentWholeLines(t *testing.T) {
	var buf syncBuffer
	s := audit.NewJSONLines(&buf)
	const n = 200
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			e := &audit.Event{RequestID: strings.Repeat("x", i), Method: "GET"}
			assert.NoError(t, s.Write(context.Background(), e))
		}()
	}
	wg.Wait()
	lines := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
	require.Len(t, lines, n)
	seen := map[int]bool{}
	for _, l := range lines {
		var e audit.Event
		require.NoError(t, json.Unmarshal([]byte(l), &e), "line %q", l)
		seen[len(e.RequestID)] = true
	}
	assert.Len(t, seen, n)
}

func TestJSONLinesWriteError(t *testing.T) {
	s := audit.NewJSONLines(failingWriter{})
	err := s.Write(context.Background(), &audit.Event{})
	assert.ErrorIs(t, err, audit.ErrSinkFailed)
	assert.ErrorIs(t, err, errDiskFull)
}

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errDiskFull }

type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
