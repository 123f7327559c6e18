package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync"
)

// The clinic's data is synthetic: no real person is described here.

// patient is a FHIR Patient, reduced to the fields the clinic uses. The validate tags
// are what PUT /fhir/Patient/{id} accepts (package validate refuses any other member).
type patient struct {
	ResourceType string       `json:"resourceType" validate:"required,eq=Patient"`
	ID           string       `json:"id" validate:"required,fhir_id"`
	Meta         meta         `json:"meta"`
	Identifier   []identifier `json:"identifier,omitempty" validate:"omitempty,max=10,dive"`
	Name         []humanName  `json:"name,omitempty" validate:"omitempty,max=10,dive"`
	Address      []address    `json:"address,omitempty" validate:"omitempty,max=10,dive"`
	Gender       string       `json:"gender,omitempty" validate:"omitempty,oneof=male female other unknown"`
	BirthDate    string       `json:"birthDate,omitempty" validate:"omitempty,fhir_date"`
}

type meta struct {
	VersionID string `json:"versionId" validate:"omitempty,fhir_id"`
}

type identifier struct {
	System string `json:"system" validate:"required,max=256"`
	Value  string `json:"value" validate:"required,max=64"`
}

type address struct {
	City       string `json:"city,omitempty" validate:"max=128"`
	PostalCode string `json:"postalCode,omitempty" validate:"omitempty,us_zip"`
}

type humanName struct {
	Family string   `json:"family,omitempty" validate:"max=128"`
	Given  []string `json:"given,omitempty" validate:"max=5,dive,max=128"`
}

// observation is a FHIR Observation, reduced to the fields the clinic uses. The validate
// tags are what POST /fhir/Observation accepts: a status from its value set, a LOINC code
// whose check digit is right, a Patient subject, a FHIR dateTime and a numeric value.
type observation struct {
	ResourceType  string          `json:"resourceType" validate:"required,eq=Observation"`
	ID            string          `json:"id,omitempty" validate:"isdefault"`
	Status        string          `json:"status" validate:"required,oneof=registered preliminary final amended corrected cancelled entered-in-error unknown"`
	Code          codeableConcept `json:"code"`
	Subject       reference       `json:"subject"`
	EffectiveTime string          `json:"effectiveDateTime,omitempty" validate:"required,fhir_datetime"`
	Value         *quantity       `json:"valueQuantity,omitempty" validate:"required"`
}

type codeableConcept struct {
	Coding []coding `json:"coding" validate:"required,min=1,max=10,dive"`
	Text   string   `json:"text,omitempty" validate:"max=256"`
}

type coding struct {
	System  string `json:"system" validate:"required,eq=http://loinc.org"`
	Code    string `json:"code" validate:"required,loinc"`
	Display string `json:"display,omitempty" validate:"max=256"`
}

type reference struct {
	Reference string `json:"reference" validate:"required,patient_ref"`
}

type quantity struct {
	Value json.Number `json:"value" validate:"required"`
	Unit  string      `json:"unit,omitempty" validate:"max=32"`
}

// store holds the clinic's records in memory. It is safe for concurrent use.
type store struct {
	mu           sync.Mutex
	patients     map[string]patient
	observations []observation
	nextObs      int
}

func newStore() *store {
	s := &store{patients: map[string]patient{}}
	for _, p := range []patient{
		{ID: "pat-1", Name: []humanName{{Family: "Testperson", Given: []string{"Ada"}}}, Gender: "female", BirthDate: "1970-01-01"},
		{ID: "pat-2", Name: []humanName{{Family: "Sample", Given: []string{"Ben"}}}, Gender: "male", BirthDate: "1985-06-15"},
		{ID: "pat-3", Name: []humanName{{Family: "Example", Given: []string{"Cy"}}}, Gender: "other", BirthDate: "2001-12-31"},
	} {
		p.ResourceType, p.Meta.VersionID = "Patient", "1"
		p.Identifier = []identifier{{System: "urn:example:clinic:mrn", Value: "MRN-" + p.ID}}
		p.Address = []address{{City: "Exampleton", PostalCode: "00000"}}
		s.patients[p.ID] = p
	}
	loinc := func(code, display string) codeableConcept {
		return codeableConcept{Coding: []coding{{System: "http://loinc.org", Code: code, Display: display}}}
	}
	for _, o := range []struct {
		patient, code, display, value, unit, when string
	}{
		{"pat-1", "8867-4", "Heart rate", "72", "/min", "2026-11-01T09:00:00Z"},
		{"pat-1", "8310-5", "Body temperature", "36.8", "Cel", "2026-11-01T09:00:00Z"},
		{"pat-1", "29463-7", "Body weight", "64.2", "kg", "2026-11-02T10:30:00Z"},
		{"pat-2", "8867-4", "Heart rate", "88", "/min", "2026-11-03T14:15:00Z"},
		{"pat-2", "8480-6", "Systolic blood pressure", "128", "mm[Hg]", "2026-11-03T14:15:00Z"},
		{"pat-3", "8310-5", "Body temperature", "37.9", "Cel", "2026-11-04T08:45:00Z"},
		{"pat-3", "29463-7", "Body weight", "81", "kg", "2026-11-04T08:45:00Z"},
	} {
		s.addObservation(observation{
			Status: "final", Code: loinc(o.code, o.display),
			Subject:       reference{Reference: "Patient/" + o.patient},
			EffectiveTime: o.when,
			Value:         &quantity{Value: json.Number(o.value), Unit: o.unit},
		})
	}
	return s
}

func (s *store) patient(id string) (patient, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.patients[id]
	return p, ok
}

var (
	errNotFound        = errors.New("clinic: no such record")
	errVersionConflict = errors.New("clinic: the record changed")
)

// updatePatient replaces the stored patient p.ID, which must exist at version
// ifVersion, and returns it at its new version.
func (s *store) updatePatient(p patient, ifVersion string) (patient, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	old, ok := s.patients[p.ID]
	switch {
	case !ok:
		return patient{}, errNotFound
	case old.Meta.VersionID != ifVersion:
		return patient{}, errVersionConflict
	}
	v, _ := strconv.Atoi(old.Meta.VersionID)
	p.ResourceType, p.Meta.VersionID = "Patient", strconv.Itoa(v+1)
	s.patients[p.ID] = p
	return p, nil
}

func (s *store) observationsFor(patientID string) []observation {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []observation
	for _, o := range s.observations {
		if o.Subject.Reference == "Patient/"+patientID {
			out = append(out, o)
		}
	}
	return out
}

func (s *store) addObservation(o observation) observation {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.nextObs++
	o.ResourceType, o.ID = "Observation", fmt.Sprintf("obs-%d", s.nextObs)
	s.observations = append(s.observations, o)
	return o
}
