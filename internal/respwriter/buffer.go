package respwriter

import (
	"bytes"
	"net/http"
)

// Buffer is a ResponseWriter that holds the whole response — status, header and up to
// a limit of body — so that middleware can inspect or rewrite it before anything reaches
// the client. It deliberately has no Unwrap, Flush or Hijack: nothing written to it can
// escape before the middleware decides. Writes past the limit are dropped and reported
// by Overflowed; the middleware must then fail closed.
type Buffer struct {
	header     http.Header
	status     int
	body       bytes.Buffer
	limit      int64
	overflowed bool
}

// NewBuffer returns a Buffer keeping at most limit bytes of body.
func NewBuffer(limit int64) *Buffer {
	return &Buffer{header: http.Header{}, limit: limit}
}

// Header returns the buffered header map.
func (b *Buffer) Header() http.Header { return b.header }

// WriteHeader records the first final status.
func (b *Buffer) WriteHeader(code int) {
	if b.status == 0 && code >= 200 {
		b.status = code
	}
}

// Write buffers p, up to the limit.
func (b *Buffer) Write(p []byte) (int, error) {
	if b.status == 0 {
		b.status = http.StatusOK
	}
	if int64(b.body.Len())+int64(len(p)) > b.limit {
		b.overflowed = true
		return len(p), nil
	}
	return b.body.Write(p)
}

// Status returns the status written, 200 when only a body was, 0 when nothing was.
func (b *Buffer) Status() int { return b.status }

// Body returns the buffered body.
func (b *Buffer) Body() []byte { return b.body.Bytes() }

// Overflowed reports whether the handler wrote more than the limit.
func (b *Buffer) Overflowed() bool { return b.overflowed }

// WriteTo sends the buffered response, with body instead of the buffered one, to w.
func (b *Buffer) WriteTo(w http.ResponseWriter, body []byte) {
	h := w.Header()
	for k, v := range b.header {
		h[k] = v
	}
	h.Del("Content-Length")
	status := b.status
	if status == 0 {
		status = http.StatusOK
	}
	w.WriteHeader(status)
	_, _ = w.Write(body)
}
