package main

import (
	"encoding/json"
	"errors"
	"mime"
	"net/http"
	"strings"

	"github.com/phikit/phikit"
	"github.com/phikit/phikit/audit"
	"github.com/phikit/phikit/problem"
)

// maxBody caps every request body the clinic reads.
const maxBody = 64 << 10

// newHandler returns the clinic's routes over st, wrapped in phikit's chain in the
// recommended order. Each later phikit package adds its layer here.
func newHandler(st *store, aud *audit.Middleware) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"status":"ok"}`))
	})
	mux.HandleFunc("GET /fhir/Patient/{id}", st.getPatient)
	mux.HandleFunc("PUT /fhir/Patient/{id}", st.putPatient)
	mux.HandleFunc("GET /fhir/Observation", st.searchObservations)
	mux.HandleFunc("POST /fhir/Observation", st.postObservation)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		problem.Write(w, r, problem.NotFound)
	})
	return phikit.Chain(
		phikit.RequestID,
		phikit.SecureHeaders,
		aud.Handler,
	)(audit.RecordRoute(mux))
}

func (st *store) getPatient(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	annotatePatient(r, id) // attempts on unknown ids are recorded too: they can be probes
	p, ok := st.patient(id)
	if !ok {
		problem.Write(w, r, problem.NotFound)
		return
	}
	writeFHIR(w, r, http.StatusOK, p)
}

func (st *store) putPatient(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	annotatePatient(r, id)
	var p patient
	if !decodeFHIR(w, r, &p) {
		return
	}
	if p.ResourceType != "Patient" || p.ID != id {
		problem.Write(w, r, problem.InvalidRequest)
		return
	}
	updated, ok := st.updatePatient(p)
	if !ok {
		problem.Write(w, r, problem.NotFound)
		return
	}
	writeFHIR(w, r, http.StatusOK, updated)
}

func annotatePatient(r *http.Request, id string) {
	audit.Annotate(r.Context(), func(e *audit.Event) {
		e.AddPatient(id)
		e.AddResource("Patient", id)
	})
}

type bundle struct {
	ResourceType string        `json:"resourceType"`
	Type         string        `json:"type"`
	Total        int           `json:"total"`
	Entry        []bundleEntry `json:"entry"`
}

type bundleEntry struct {
	Resource observation `json:"resource"`
}

func (st *store) searchObservations(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	values := q["patient"]
	if len(values) != 1 {
		problem.Write(w, r, problem.InvalidRequest)
		return
	}
	id := strings.TrimPrefix(values[0], "Patient/")
	audit.Annotate(r.Context(), func(e *audit.Event) {
		e.AddQuery("Observation", "patient="+id)
		e.AddPatient(id)
	})
	if _, ok := st.patient(id); !ok {
		problem.Write(w, r, problem.NotFound)
		return
	}
	obs := st.observationsFor(id)
	b := bundle{ResourceType: "Bundle", Type: "searchset", Total: len(obs), Entry: make([]bundleEntry, 0, len(obs))}
	for _, o := range obs {
		b.Entry = append(b.Entry, bundleEntry{Resource: o})
	}
	audit.Annotate(r.Context(), func(e *audit.Event) {
		for _, o := range obs {
			e.AddResource("Observation", o.ID)
		}
	})
	writeFHIR(w, r, http.StatusOK, b)
}

func (st *store) postObservation(w http.ResponseWriter, r *http.Request) {
	var o observation
	if !decodeFHIR(w, r, &o) {
		return
	}
	patientID, ok := strings.CutPrefix(o.Subject.Reference, "Patient/")
	if o.ResourceType != "Observation" || o.ID != "" || o.Status == "" || len(o.Code.Coding) == 0 || !ok {
		problem.Write(w, r, problem.InvalidRequest)
		return
	}
	if _, ok := st.patient(patientID); !ok {
		problem.Write(w, r, problem.InvalidRequest)
		return
	}
	created := st.addObservation(o)
	audit.Annotate(r.Context(), func(e *audit.Event) {
		e.AddPatient(patientID)
		e.AddResource("Observation", created.ID)
	})
	w.Header().Set("Location", "/fhir/Observation/"+created.ID)
	writeFHIR(w, r, http.StatusCreated, created)
}

// decodeFHIR reads a FHIR JSON body into v, answering the request itself and returning
// false when it cannot. (phikit's validate package will replace this with its strict gate.)
func decodeFHIR(w http.ResponseWriter, r *http.Request, v any) bool {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || (mt != problem.ContentTypeFHIR && mt != "application/json") {
		problem.Write(w, r, problem.UnsupportedMediaType)
		return false
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			problem.Write(w, r, problem.PayloadTooLarge)
		} else {
			problem.Write(w, r, problem.InvalidRequest)
		}
		return false
	}
	if dec.More() {
		problem.Write(w, r, problem.InvalidRequest)
		return false
	}
	return true
}

func writeFHIR(w http.ResponseWriter, r *http.Request, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil { // the clinic's own types always marshal
		problem.Write(w, r, problem.Internal)
		return
	}
	w.Header().Set("Content-Type", problem.ContentTypeFHIR)
	w.WriteHeader(status)
	_, _ = w.Write(body)
}
