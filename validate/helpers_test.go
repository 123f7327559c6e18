package validate

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/phikit/phikit/audit"
)

// FHIR-style resources, as a team would declare them.

type Coding struct {
	System  string `json:"system,omitempty" validate:"omitempty,url"`
	Code    string `json:"code" validate:"required,loinc"`
	Display string `json:"display,omitempty" validate:"max=200"`
}

type CodeableConcept struct {
	Coding []Coding `json:"coding" validate:"required,min=1,dive"`
	Text   string   `json:"text,omitempty" validate:"max=200"`
}

type Reference struct {
	Reference string `json:"reference" validate:"required,startswith=Patient/"`
	Display   string `json:"display,omitempty"`
}

type Quantity struct {
	Value  *float64 `json:"value" validate:"required,numeric"`
	Unit   string   `json:"unit,omitempty"`
	System string   `json:"system,omitempty" validate:"omitempty,url"`
	Code   string   `json:"code,omitempty"`
}

type Observation struct {
	ResourceType      string            `json:"resourceType" validate:"required,eq=Observation"`
	ID                string            `json:"id,omitempty" validate:"omitempty,fhir_id"`
	Status            string            `json:"status" validate:"required,oneof=registered preliminary final amended corrected cancelled entered-in-error unknown"`
	Category          []CodeableConcept `json:"category,omitempty" validate:"dive"`
	Code              CodeableConcept   `json:"code"`
	Subject           Reference         `json:"subject"`
	EffectiveDateTime string            `json:"effectiveDateTime" validate:"required,fhir_datetime"`
	Issued            string            `json:"issued,omitempty" validate:"omitempty,fhir_instant"`
	Performer         []Reference       `json:"performer,omitempty" validate:"dive"`
	ValueQuantity     *Quantity         `json:"valueQuantity" validate:"required"`
	Note              []Annotation      `json:"note,omitempty" validate:"dive"`
}

type Annotation struct {
	Text string `json:"text" validate:"required,max=1000"`
}

type Identifier struct {
	System string `json:"system" validate:"required,url"`
	Value  string `json:"value" validate:"required,max=64"`
}

type HumanName struct {
	Use    string   `json:"use,omitempty" validate:"omitempty,oneof=usual official temp nickname anonymous old maiden"`
	Family string   `json:"family" validate:"required,max=100"`
	Given  []string `json:"given,omitempty" validate:"max=5,dive,max=100"`
}

type Address struct {
	Line       []string `json:"line,omitempty" validate:"max=4,dive,max=100"`
	City       string   `json:"city,omitempty" validate:"max=100"`
	State      string   `json:"state,omitempty" validate:"omitempty,len=2"`
	PostalCode string   `json:"postalCode,omitempty" validate:"omitempty,us_zip"`
}

type Practitioner struct {
	NPI string `json:"npi" validate:"required,npi"`
}

type Patient struct {
	ResourceType        string         `json:"resourceType" validate:"required,eq=Patient"`
	ID                  string         `json:"id" validate:"required,fhir_id"`
	Active              *bool          `json:"active,omitempty"`
	Identifier          []Identifier   `json:"identifier,omitempty" validate:"dive"`
	Name                []HumanName    `json:"name" validate:"required,min=1,dive"`
	Gender              string         `json:"gender,omitempty" validate:"omitempty,oneof=male female other unknown"`
	BirthDate           string         `json:"birthDate,omitempty" validate:"omitempty,fhir_date"`
	Address             []Address      `json:"address,omitempty" validate:"dive"`
	SSN                 string         `json:"ssn,omitempty" validate:"omitempty,ssn"`
	GeneralPractitioner []Practitioner `json:"generalPractitioner,omitempty" validate:"dive"`
	MultipleBirth       *int           `json:"multipleBirthInteger,omitempty" validate:"omitnil,min=1,max=10"`
}

const observationJSON = `{
  "resourceType": "Observation",
  "id": "bp-2024-0001",
  "status": "final",
  "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category", "code": "8716-3", "display": "Vital Signs"}]}],
  "code": {"coding": [{"system": "http://loinc.org", "code": "8480-6", "display": "Systolic blood pressure"}], "text": "Systolic BP"},
  "subject": {"reference": "Patient/example-123", "display": "Amy Shaw"},
  "effectiveDateTime": "2024-03-11T09:30:00-05:00",
  "issued": "2024-03-11T09:35:12.123Z",
  "performer": [{"reference": "Patient/example-123"}],
  "valueQuantity": {"value": 107.5, "unit": "mmHg", "system": "http://unitsofmeasure.org", "code": "mm[Hg]"},
  "note": [{"text": "Measured sitting, left arm, after five minutes of rest."}]
}`

const patientJSON = `{
  "resourceType": "Patient",
  "id": "example-123",
  "active": true,
  "identifier": [{"system": "http://hospital.example.org/mrn", "value": "MRN-000123"}],
  "name": [{"use": "official", "family": "Shaw", "given": ["Amy", "V."]}],
  "gender": "female",
  "birthDate": "1987-02-20",
  "address": [{"line": ["49 Meadow St"], "city": "Mounds", "state": "OK", "postalCode": "74047"}],
  "ssn": "123-45-6789",
  "generalPractitioner": [{"npi": "1234567893"}],
  "multipleBirthInteger": 1
}`

func mustGate(t testing.TB, cfg Config) *Gate {
	t.Helper()
	g, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return g
}

func mustBody[T any](t testing.TB, g *Gate) *Body[T] {
	t.Helper()
	b, err := NewBody[T](g)
	if err != nil {
		t.Fatalf("NewBody: %v", err)
	}
	return b
}

// memorySink keeps the audit events it receives.
type memorySink struct {
	mu     sync.Mutex
	events []audit.Event
}

func (s *memorySink) Write(_ context.Context, e *audit.Event) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.events = append(s.events, *e)
	return nil
}

func (s *memorySink) last(t *testing.T) audit.Event {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.events) == 0 {
		t.Fatal("no audit event")
	}
	return s.events[len(s.events)-1]
}

// served is what a request through a handler produced.
type served struct {
	status  int
	header  http.Header
	body    string
	reached bool   // the inner handler ran
	inner   string // the body the inner handler read
	event   audit.Event
}

// serve sends a POST request, adjusted by prepare, through audit → wrap(inner), where
// inner records what it saw.
func serve(t *testing.T, wrap func(http.Handler) http.Handler, prepare func(*http.Request)) served {
	t.Helper()
	sink := &memorySink{}
	aud, err := audit.New(audit.Config{Sink: sink, Service: "test"})
	if err != nil {
		t.Fatal(err)
	}
	var out served
	inner := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		out.reached = true
		b, err := io.ReadAll(r.Body)
		if err != nil {
			t.Errorf("inner handler reading body: %v", err)
		}
		out.inner = string(b)
		w.WriteHeader(http.StatusNoContent)
	})
	req := httptest.NewRequest("POST", "/fhir/Observation", nil)
	prepare(req)
	rec := httptest.NewRecorder()
	aud.Handler(wrap(inner)).ServeHTTP(rec, req)
	out.status, out.header, out.body = rec.Code, rec.Header(), rec.Body.String()
	out.event = sink.last(t)
	return out
}

// leaks reports which canaries appear in s.
func leaks(s string, canaries ...string) []string {
	var found []string
	for _, c := range canaries {
		if strings.Contains(s, c) {
			found = append(found, c)
		}
	}
	return found
}
