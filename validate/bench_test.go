package validate

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/go-playground/validator/v10"
)

// BenchmarkDecode measures strict decoding and validation of realistic FHIR-style bodies
// (Body.DecodeBytes: the scan, encoding/json, the validator) against the plain path on
// the same bytes: json.Unmarshal and validator's StructCtx with the same tags. The
// ratio strict/plain is what the strictness costs.
func BenchmarkDecode(b *testing.B) {
	g := mustGate(b, Config{})
	plain := plainValidator(b)
	b.Run("Observation/strict", func(b *testing.B) { benchStrict[Observation](b, g, observationJSON) })
	b.Run("Observation/plain", func(b *testing.B) { benchPlain[Observation](b, plain, observationJSON) })
	b.Run("Patient/strict", func(b *testing.B) { benchStrict[Patient](b, g, patientJSON) })
	b.Run("Patient/plain", func(b *testing.B) { benchPlain[Patient](b, plain, patientJSON) })
}

// BenchmarkHandler measures the middleware end to end on an httptest request (media
// type, body read, scan, decode, validate, context, body replay) against a handler that
// reads the body and runs json.Unmarshal and StructCtx itself.
func BenchmarkHandler(b *testing.B) {
	g := mustGate(b, Config{})
	plain := plainValidator(b)
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})
	strict := mustBody[Observation](b, g).Handler(ok)
	naive := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		data, err := io.ReadAll(http.MaxBytesReader(w, r.Body, DefaultMaxBytes))
		if err != nil {
			b.Fatal(err)
		}
		var v Observation
		if err := json.Unmarshal(data, &v); err != nil {
			b.Fatal(err)
		}
		if err := plain.StructCtx(r.Context(), &v); err != nil {
			b.Fatal(err)
		}
	})
	b.Run("Observation/strict", func(b *testing.B) { benchHandler(b, strict) })
	b.Run("Observation/plain", func(b *testing.B) { benchHandler(b, naive) })
}

// BenchmarkRefuse measures a refusal found by the scan (an unknown member at depth) and
// one found by the validator (a wrong LOINC check digit).
func BenchmarkRefuse(b *testing.B) {
	d := mustBody[Observation](b, mustGate(b, Config{}))
	for name, body := range map[string]string{
		"unknown-field": strings.Replace(observationJSON, `"unit": "mmHg"`, `"unit": "mmHg", "comparator": "<"`, 1),
		"loinc":         strings.Replace(observationJSON, `"8480-6"`, `"8480-5"`, 1),
	} {
		b.Run(name, func(b *testing.B) {
			data := []byte(body)
			b.ReportAllocs()
			for b.Loop() {
				if _, err := d.DecodeBytes(context.Background(), data); err == nil {
					b.Fatal("accepted")
				}
			}
		})
	}
}

func plainValidator(b *testing.B) *validator.Validate {
	v := validator.New(validator.WithRequiredStructEnabled())
	if err := RegisterHealthcare(v); err != nil {
		b.Fatal(err)
	}
	return v
}

func benchStrict[T any](b *testing.B, g *Gate, body string) {
	d := mustBody[T](b, g)
	data := []byte(body)
	ctx := context.Background()
	b.ReportAllocs()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := d.DecodeBytes(ctx, data); err != nil {
			b.Fatal(err)
		}
	}
}

func benchPlain[T any](b *testing.B, v *validator.Validate, body string) {
	data := []byte(body)
	ctx := context.Background()
	b.ReportAllocs()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		var t T
		if err := json.Unmarshal(data, &t); err != nil {
			b.Fatal(err)
		}
		if err := v.StructCtx(ctx, &t); err != nil {
			b.Fatal(err)
		}
	}
}

func benchHandler(b *testing.B, h http.Handler) {
	body := strings.NewReader(observationJSON)
	b.ReportAllocs()
	b.SetBytes(int64(len(observationJSON)))
	for b.Loop() {
		body.Reset(observationJSON)
		req := httptest.NewRequest("POST", "/fhir/Observation", body)
		req.Header.Set("Content-Type", "application/fhir+json")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			b.Fatalf("got %d %s", rec.Code, rec.Body)
		}
	}
}
