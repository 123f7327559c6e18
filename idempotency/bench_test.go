package idempotency_test

import (
	"bytes"
	"net/http"
	"strconv"
	"testing"

	"github.com/phikit/phikit/idempotency"
)

// benchBody is a small FHIR Observation, the typical POST.
const benchBody = `{"resourceType":"Observation","status":"final","code":{"coding":[{"system":"http://loinc.org","code":"8480-6","display":"Systolic blood pressure"}]},"subject":{"reference":"Patient/pat-1"},"effectiveDateTime":"2026-01-01T10:00:00Z","valueQuantity":{"value":120,"unit":"mmHg","system":"http://unitsofmeasure.org","code":"mm[Hg]"}}`

// benchWriter is a reusable ResponseWriter that discards the body.
type benchWriter struct {
	h    http.Header
	code int
}

func (w *benchWriter) Header() http.Header         { return w.h }
func (w *benchWriter) WriteHeader(code int)        { w.code = code }
func (w *benchWriter) Write(p []byte) (int, error) { return len(p), nil }

func benchHandler(w http.ResponseWriter, r *http.Request) {
	var buf bytes.Buffer
	_, _ = buf.ReadFrom(r.Body)
	w.Header().Set("Content-Type", "application/fhir+json")
	w.Header().Set("Location", "/fhir/Observation/obs-1/_history/1")
	w.WriteHeader(http.StatusCreated)
	_, _ = w.Write(buf.Bytes())
}

func benchRequest(key string) *http.Request {
	r, _ := http.NewRequest(http.MethodPost, "/fhir/Observation", nil)
	r.Header.Set("Content-Type", "application/fhir+json")
	r.Header.Set("X-Principal", "sub:https://idp.example|practitioner-1")
	r.Header.Set("Idempotency-Key", key)
	r.ContentLength = int64(len(benchBody))
	return r
}

func benchServe(b *testing.B, h http.Handler, key func(i int) string) {
	b.ReportAllocs()
	w := &benchWriter{h: http.Header{}}
	for i := 0; b.Loop(); i++ {
		r := benchRequest(key(i))
		r.Body = readCloser{bytes.NewReader([]byte(benchBody))}
		clear(w.h)
		h.ServeHTTP(w, r)
		if w.code != http.StatusCreated {
			b.Fatalf("status %d", w.code)
		}
	}
}

type readCloser struct{ *bytes.Reader }

func (readCloser) Close() error { return nil }

func benchMiddleware(b *testing.B) *idempotency.Middleware {
	store, _ := idempotency.NewMemoryStore(idempotency.MemoryStoreConfig{MaxRecords: 1 << 24, MaxStoredBytes: 8 << 30})
	sealer, _ := idempotency.NewAESGCM(testKey)
	mw, err := idempotency.New(idempotency.Config{Store: store, Sealer: sealer, Key: principalOf})
	if err != nil {
		b.Fatal(err)
	}
	return mw
}

// BenchmarkBareHandler is the baseline: the handler alone.
func BenchmarkBareHandler(b *testing.B) {
	benchServe(b, http.HandlerFunc(benchHandler), func(int) string { return `"k"` })
}

// BenchmarkFirstRequest: every request has a new key (claim, run, seal, complete).
func BenchmarkFirstRequest(b *testing.B) {
	h := benchMiddleware(b).Handler(http.HandlerFunc(benchHandler))
	benchServe(b, h, func(i int) string { return `"bench-` + strconv.Itoa(i) + `"` })
}

// BenchmarkReplay: every request repeats one key (claim finds it, open, replay).
func BenchmarkReplay(b *testing.B) {
	h := benchMiddleware(b).Handler(http.HandlerFunc(benchHandler))
	benchServe(b, h, func(int) string { return `"8e03978e-40d5-43e8-bc93-6894a57f9324"` })
}
