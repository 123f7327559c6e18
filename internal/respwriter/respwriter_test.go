package respwriter_test

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/phikit/phikit/internal/respwriter"
)

// fakeWriter is a bare http.ResponseWriter: no Flush, no Hijack, no deadlines. It records
// every status passed to WriteHeader, which httptest.ResponseRecorder does not (it keeps a
// 1xx as the final code).
type fakeWriter struct {
	h     http.Header
	codes []int
	body  bytes.Buffer
}

func newFakeWriter() *fakeWriter { return &fakeWriter{h: http.Header{}} }

func (f *fakeWriter) Header() http.Header         { return f.h }
func (f *fakeWriter) WriteHeader(code int)        { f.codes = append(f.codes, code) }
func (f *fakeWriter) Write(p []byte) (int, error) { return f.body.Write(p) }

func TestWriterRecords(t *testing.T) {
	tests := []struct {
		name        string
		do          func(t *testing.T, rw *respwriter.Writer)
		wantStatus  int
		wantWritten bool
		wantBytes   int64
		wantCodes   []int // statuses passed through to the wrapped writer
		wantBody    string
	}{
		{
			name:       "nothing written",
			do:         func(t *testing.T, rw *respwriter.Writer) {},
			wantStatus: 0, wantWritten: false,
		},
		{
			name:       "header only",
			do:         func(t *testing.T, rw *respwriter.Writer) { rw.Header().Set("X-A", "1") },
			wantStatus: 0, wantWritten: false,
		},
		{
			name:       "write without WriteHeader",
			do:         func(t *testing.T, rw *respwriter.Writer) { _, _ = rw.Write([]byte("hello")) },
			wantStatus: 200, wantWritten: true, wantBytes: 5, wantBody: "hello",
		},
		{
			name: "two writes add up",
			do: func(t *testing.T, rw *respwriter.Writer) {
				_, _ = rw.Write([]byte("hello, "))
				_, _ = rw.Write([]byte("world"))
			},
			wantStatus: 200, wantWritten: true, wantBytes: 12, wantBody: "hello, world",
		},
		{
			name:       "empty write commits 200",
			do:         func(t *testing.T, rw *respwriter.Writer) { _, _ = rw.Write(nil) },
			wantStatus: 200, wantWritten: true,
		},
		{
			name: "explicit status then write",
			do: func(t *testing.T, rw *respwriter.Writer) {
				rw.WriteHeader(http.StatusNotFound)
				_, _ = rw.Write([]byte("nope"))
			},
			wantStatus: 404, wantWritten: true, wantBytes: 4, wantCodes: []int{404}, wantBody: "nope",
		},
		{
			name: "WriteHeader twice records the first",
			do: func(t *testing.T, rw *respwriter.Writer) {
				rw.WriteHeader(http.StatusCreated)
				rw.WriteHeader(http.StatusInternalServerError)
			},
			wantStatus: 201, wantWritten: true, wantCodes: []int{201, 500},
		},
		{
			name: "WriteHeader after write does not change status",
			do: func(t *testing.T, rw *respwriter.Writer) {
				_, _ = rw.Write([]byte("x"))
				rw.WriteHeader(http.StatusTeapot)
			},
			wantStatus: 200, wantWritten: true, wantBytes: 1, wantCodes: []int{418}, wantBody: "x",
		},
		{
			name:       "103 only",
			do:         func(t *testing.T, rw *respwriter.Writer) { rw.WriteHeader(http.StatusEarlyHints) },
			wantStatus: 0, wantWritten: false, wantCodes: []int{103},
		},
		{
			name: "103 then 200",
			do: func(t *testing.T, rw *respwriter.Writer) {
				rw.WriteHeader(http.StatusEarlyHints)
				rw.WriteHeader(http.StatusOK)
			},
			wantStatus: 200, wantWritten: true, wantCodes: []int{103, 200},
		},
		{
			name: "103 twice then 204",
			do: func(t *testing.T, rw *respwriter.Writer) {
				rw.WriteHeader(http.StatusEarlyHints)
				rw.WriteHeader(http.StatusEarlyHints)
				rw.WriteHeader(http.StatusNoContent)
			},
			wantStatus: 204, wantWritten: true, wantCodes: []int{103, 103, 204},
		},
		{
			name: "103 then write",
			do: func(t *testing.T, rw *respwriter.Writer) {
				rw.WriteHeader(http.StatusEarlyHints)
				_, _ = rw.Write([]byte("ok"))
			},
			wantStatus: 200, wantWritten: true, wantBytes: 2, wantCodes: []int{103}, wantBody: "ok",
		},
		{
			name: "ReadFrom counts and sets 200",
			do: func(t *testing.T, rw *respwriter.Writer) {
				n, err := rw.ReadFrom(strings.NewReader("streamed body"))
				if n != 13 || err != nil {
					t.Errorf("ReadFrom: got (%d, %v), want (13, nil)", n, err)
				}
			},
			wantStatus: 200, wantWritten: true, wantBytes: 13, wantBody: "streamed body",
		},
		{
			name: "io.Copy uses ReadFrom",
			do: func(t *testing.T, rw *respwriter.Writer) {
				_, _ = io.Copy(rw, io.LimitReader(strings.NewReader("abcdefgh"), 6))
			},
			wantStatus: 200, wantWritten: true, wantBytes: 6, wantBody: "abcdef",
		},
		{
			name: "ReadFrom keeps an explicit status",
			do: func(t *testing.T, rw *respwriter.Writer) {
				rw.WriteHeader(http.StatusPartialContent)
				_, _ = rw.ReadFrom(strings.NewReader("part"))
			},
			wantStatus: 206, wantWritten: true, wantBytes: 4, wantCodes: []int{206}, wantBody: "part",
		},
		{
			name: "write then ReadFrom add up",
			do: func(t *testing.T, rw *respwriter.Writer) {
				_, _ = rw.Write([]byte("ab"))
				_, _ = rw.ReadFrom(strings.NewReader("cde"))
			},
			wantStatus: 200, wantWritten: true, wantBytes: 5, wantBody: "abcde",
		},
		{
			name: "Reset forgets everything",
			do: func(t *testing.T, rw *respwriter.Writer) {
				other := newFakeWriter()
				rw.Reset(other)
				rw.WriteHeader(http.StatusBadGateway)
				_, _ = rw.Write([]byte("xyz"))
				rw.Reset(other)
			},
			wantStatus: 0, wantWritten: false,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fw := newFakeWriter()
			rw := respwriter.New(fw)
			tc.do(t, rw)
			if got := rw.Status(); got != tc.wantStatus {
				t.Errorf("Status: got %d, want %d", got, tc.wantStatus)
			}
			if got := rw.Written(); got != tc.wantWritten {
				t.Errorf("Written: got %v, want %v", got, tc.wantWritten)
			}
			if got := rw.Bytes(); got != tc.wantBytes {
				t.Errorf("Bytes: got %d, want %d", got, tc.wantBytes)
			}
			if got := rw.Hijacked(); got {
				t.Errorf("Hijacked: got true, want false")
			}
			if !slices.Equal(fw.codes, tc.wantCodes) {
				t.Errorf("codes passed through: got %v, want %v", fw.codes, tc.wantCodes)
			}
			if got := fw.body.String(); got != tc.wantBody {
				t.Errorf("body passed through: got %q, want %q", got, tc.wantBody)
			}
		})
	}
}

func TestHeaderIsWrappedWritersHeader(t *testing.T) {
	fw := newFakeWriter()
	rw := respwriter.New(fw)
	rw.Header().Set("X-Test", "1")
	if got := fw.h.Get("X-Test"); got != "1" {
		t.Errorf("wrapped header X-Test: got %q, want %q", got, "1")
	}
}

func TestUnwrap(t *testing.T) {
	tests := []struct {
		name string
		w    http.ResponseWriter
	}{
		{"recorder", httptest.NewRecorder()},
		{"bare writer", newFakeWriter()},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := respwriter.New(tc.w).Unwrap(); got != tc.w {
				t.Errorf("Unwrap: got %p, want %p", got, tc.w)
			}
		})
	}
}

func TestFlush(t *testing.T) {
	tests := []struct {
		name        string
		w           func() http.ResponseWriter
		flush       func(rw *respwriter.Writer) error
		wantErr     error
		wantStatus  int
		wantWritten bool
	}{
		{
			name:       "ResponseController on recorder",
			w:          func() http.ResponseWriter { return httptest.NewRecorder() },
			flush:      func(rw *respwriter.Writer) error { return http.NewResponseController(rw).Flush() },
			wantStatus: 200, wantWritten: true,
		},
		{
			name:       "Flusher on recorder",
			w:          func() http.ResponseWriter { return httptest.NewRecorder() },
			flush:      func(rw *respwriter.Writer) error { rw.Flush(); return nil },
			wantStatus: 200, wantWritten: true,
		},
		{
			name:    "ResponseController on writer without Flush",
			w:       func() http.ResponseWriter { return newFakeWriter() },
			flush:   func(rw *respwriter.Writer) error { return http.NewResponseController(rw).Flush() },
			wantErr: http.ErrNotSupported,
		},
		{
			name:  "Flusher on writer without Flush is a no-op",
			w:     func() http.ResponseWriter { return newFakeWriter() },
			flush: func(rw *respwriter.Writer) error { rw.Flush(); return nil },
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := tc.w()
			rw := respwriter.New(w)
			err := tc.flush(rw)
			if !errors.Is(err, tc.wantErr) {
				t.Errorf("Flush error: got %v, want %v", err, tc.wantErr)
			}
			if rec, ok := w.(*httptest.ResponseRecorder); ok && !rec.Flushed {
				t.Errorf("recorder Flushed: got false, want true")
			}
			if got := rw.Status(); got != tc.wantStatus {
				t.Errorf("Status: got %d, want %d", got, tc.wantStatus)
			}
			if got := rw.Written(); got != tc.wantWritten {
				t.Errorf("Written: got %v, want %v", got, tc.wantWritten)
			}
		})
	}
}

func TestFlushKeepsExplicitStatus(t *testing.T) {
	rec := httptest.NewRecorder()
	rw := respwriter.New(rec)
	rw.WriteHeader(http.StatusAccepted)
	if err := http.NewResponseController(rw).Flush(); err != nil {
		t.Fatalf("Flush: got %v, want nil", err)
	}
	if got := rw.Status(); got != http.StatusAccepted {
		t.Errorf("Status: got %d, want %d", got, http.StatusAccepted)
	}
	if got := rec.Code; got != http.StatusAccepted {
		t.Errorf("recorder code: got %d, want %d", got, http.StatusAccepted)
	}
}

func TestHijackUnsupported(t *testing.T) {
	tests := []struct {
		name   string
		hijack func(rw *respwriter.Writer) error
	}{
		{"method", func(rw *respwriter.Writer) error { _, _, err := rw.Hijack(); return err }},
		{"ResponseController", func(rw *respwriter.Writer) error {
			_, _, err := http.NewResponseController(rw).Hijack()
			return err
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rw := respwriter.New(httptest.NewRecorder())
			if err := tc.hijack(rw); !errors.Is(err, http.ErrNotSupported) {
				t.Errorf("Hijack error: got %v, want %v", err, http.ErrNotSupported)
			}
			if rw.Hijacked() {
				t.Errorf("Hijacked: got true, want false")
			}
			if got := rw.Status(); got != 0 {
				t.Errorf("Status: got %d, want 0", got)
			}
			if rw.Written() {
				t.Errorf("Written: got true, want false")
			}
		})
	}
}

// hijackResult is what a server handler observed, sent back to the test goroutine.
type hijackResult struct {
	err      error
	hijacked bool
	status   int
	written  bool
}

func TestHijackOnServer(t *testing.T) {
	tests := []struct {
		name       string
		before     func(rw *respwriter.Writer)
		wantStatus int
	}{
		{"nothing written", func(rw *respwriter.Writer) {}, http.StatusSwitchingProtocols},
		{"after 103", func(rw *respwriter.Writer) { rw.WriteHeader(http.StatusEarlyHints) }, http.StatusSwitchingProtocols},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			results := make(chan hijackResult, 1)
			ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				rw := respwriter.New(w)
				tc.before(rw)
				conn, brw, err := rw.Hijack()
				res := hijackResult{err: err, hijacked: rw.Hijacked(), status: rw.Status(), written: rw.Written()}
				results <- res
				if err != nil {
					return
				}
				defer conn.Close()
				_, _ = brw.WriteString("HTTP/1.1 200 OK\r\nContent-Length: 8\r\nConnection: close\r\n\r\nhijacked")
				_ = brw.Flush()
			}))
			defer ts.Close()

			resp, err := ts.Client().Get(ts.URL)
			if err != nil {
				t.Fatalf("GET: %v", err)
			}
			body, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil {
				t.Fatalf("read body: %v", err)
			}
			if got := string(body); got != "hijacked" {
				t.Errorf("client body: got %q, want %q", got, "hijacked")
			}

			res := <-results
			if res.err != nil {
				t.Fatalf("Hijack: got %v, want nil", res.err)
			}
			if !res.hijacked {
				t.Errorf("Hijacked: got false, want true")
			}
			if res.status != tc.wantStatus {
				t.Errorf("Status: got %d, want %d", res.status, tc.wantStatus)
			}
			if !res.written {
				t.Errorf("Written: got false, want true")
			}
		})
	}
}

func TestDeadlinesOnServer(t *testing.T) {
	tests := []struct {
		name string
		set  func(rc *http.ResponseController, d time.Time) error
	}{
		{"SetWriteDeadline", (*http.ResponseController).SetWriteDeadline},
		{"SetReadDeadline", (*http.ResponseController).SetReadDeadline},
		{"EnableFullDuplex", func(rc *http.ResponseController, _ time.Time) error { return rc.EnableFullDuplex() }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			errs := make(chan error, 1)
			ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				rw := respwriter.New(w)
				errs <- tc.set(http.NewResponseController(rw), time.Now().Add(time.Minute))
				_, _ = rw.Write([]byte("ok"))
			}))
			defer ts.Close()

			resp, err := ts.Client().Get(ts.URL)
			if err != nil {
				t.Fatalf("GET: %v", err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if got := string(body); got != "ok" {
				t.Errorf("client body: got %q, want %q", got, "ok")
			}
			if err := <-errs; err != nil {
				t.Errorf("%s through wrapper: got %v, want nil", tc.name, err)
			}
		})
	}
}

func TestDeadlineUnsupported(t *testing.T) {
	rw := respwriter.New(httptest.NewRecorder())
	err := http.NewResponseController(rw).SetWriteDeadline(time.Now().Add(time.Minute))
	if !errors.Is(err, http.ErrNotSupported) {
		t.Errorf("SetWriteDeadline on recorder: got %v, want %v", err, http.ErrNotSupported)
	}
}

// discardWriter is the cheapest http.ResponseWriter: the baseline of BenchmarkWrap.
type discardWriter struct{ h http.Header }

func (d *discardWriter) Header() http.Header         { return d.h }
func (d *discardWriter) WriteHeader(int)             {}
func (d *discardWriter) Write(p []byte) (int, error) { return len(p), nil }

func BenchmarkWrap(b *testing.B) {
	body := []byte(`{"resourceType":"Patient","id":"123","active":true}`)
	dw := &discardWriter{h: http.Header{}}

	b.Run("direct", func(b *testing.B) {
		b.ReportAllocs()
		var w http.ResponseWriter = dw
		for b.Loop() {
			_, _ = w.Write(body)
		}
	})
	b.Run("wrapped", func(b *testing.B) {
		b.ReportAllocs()
		var rw respwriter.Writer
		for b.Loop() {
			rw.Reset(dw)
			_, _ = rw.Write(body)
		}
		if rw.Status() != http.StatusOK {
			b.Fatalf("Status: got %d, want 200", rw.Status())
		}
	})
}
