// Package respwriter is phikit's one http.ResponseWriter wrapper. It records the status
// and the number of body bytes written, and keeps the optional interfaces of the writer it
// wraps reachable: Unwrap lets http.ResponseController find Flush, Hijack, deadlines and
// full-duplex on the original writer, and the Flush and Hijack methods serve callers that
// still use type assertions.
package respwriter

import (
	"bufio"
	"io"
	"net"
	"net/http"
)

// Writer wraps an http.ResponseWriter. The zero value is not usable; call Reset. A Writer
// is used by one handler goroutine at a time, like the writer it wraps.
type Writer struct {
	w           http.ResponseWriter
	status      int
	bytes       int64
	wroteHeader bool
	hijacked    bool
}

// New returns a Writer wrapping w.
func New(w http.ResponseWriter) *Writer {
	rw := &Writer{}
	rw.Reset(w)
	return rw
}

// Reset makes rw wrap w with nothing recorded. It lets a Writer live inside a larger
// per-request struct without a separate allocation.
func (rw *Writer) Reset(w http.ResponseWriter) {
	*rw = Writer{w: w}
}

// Header returns the wrapped writer's header map.
func (rw *Writer) Header() http.Header { return rw.w.Header() }

// WriteHeader records the first final status (2xx–5xx, or 101 Switching Protocols, which
// net/http also treats as final) and passes every call through, so that informational
// responses such as 103 Early Hints still reach the client. A second final status is
// passed through too, and net/http ignores it as it would without the wrapper; the first
// one is what the client got and what Status reports. The status is recorded only once
// the wrapped writer has accepted it (net/http panics on an invalid code).
func (rw *Writer) WriteHeader(code int) {
	rw.w.WriteHeader(code)
	if code >= 200 || code == http.StatusSwitchingProtocols {
		rw.commit(code)
	}
}

// commit records code as the response's status unless one was recorded already.
func (rw *Writer) commit(code int) {
	if !rw.wroteHeader {
		rw.status = code
		rw.wroteHeader = true
	}
}

// Write writes p, sending an implicit 200 first when no status was written.
func (rw *Writer) Write(p []byte) (int, error) {
	rw.commit(http.StatusOK)
	n, err := rw.w.Write(p)
	rw.bytes += int64(n)
	return n, err
}

// ReadFrom lets io.Copy reach the wrapped writer's ReadFrom (sendfile on a TCP connection)
// while counting the bytes.
func (rw *Writer) ReadFrom(src io.Reader) (int64, error) {
	rw.commit(http.StatusOK)
	n, err := io.Copy(rw.w, src)
	rw.bytes += n
	return n, err
}

// Unwrap returns the wrapped writer, for http.ResponseController.
func (rw *Writer) Unwrap() http.ResponseWriter { return rw.w }

// FlushError sends buffered data to the client, or returns an error wrapping
// http.ErrNotSupported when the wrapped writer cannot flush. http.ResponseController
// calls it. A successful flush commits an implicit 200.
func (rw *Writer) FlushError() error {
	if err := http.NewResponseController(rw.w).Flush(); err != nil {
		return err
	}
	rw.commit(http.StatusOK)
	return nil
}

// Flush is FlushError for callers that use http.Flusher, which cannot report failure.
func (rw *Writer) Flush() { _ = rw.FlushError() }

// Hijack takes over the connection when the wrapped writer supports it and returns an
// error wrapping http.ErrNotSupported otherwise. After a successful hijack Status reports
// 101 Switching Protocols unless a status had already been written, and Hijacked reports
// true.
func (rw *Writer) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	conn, brw, err := http.NewResponseController(rw.w).Hijack()
	if err != nil {
		return nil, nil, err
	}
	rw.hijacked = true
	rw.commit(http.StatusSwitchingProtocols)
	return conn, brw, nil
}

// Status returns the final status written, or 0 when nothing has been written yet (in
// which case net/http will send 200 when the handler returns).
func (rw *Writer) Status() int { return rw.status }

// Written reports whether a final status has been written (explicitly, by a body write, a
// flush or a hijack), after which the status can no longer change.
func (rw *Writer) Written() bool { return rw.wroteHeader }

// Bytes returns the number of body bytes written through the wrapper.
func (rw *Writer) Bytes() int64 { return rw.bytes }

// Hijacked reports whether the connection was hijacked.
func (rw *Writer) Hijacked() bool { return rw.hijacked }

var _ interface {
	http.ResponseWriter
	http.Flusher
	http.Hijacker
	FlushError() error
	io.ReaderFrom
} = (*Writer)(nil)
