package authz

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
)

// maxBundleEntries bounds the entries of a batch or transaction bundle decided at once.
const maxBundleEntries = 100

// bundle is the part of a batch or transaction Bundle the Authorizer reads.
type bundle struct {
	ResourceType string `json:"resourceType"`
	Type         string `json:"type"`
	Entry        []struct {
		Resource json.RawMessage `json:"resource"`
		Request  *struct {
			Method string `json:"method"`
			URL    string `json:"url"`
		} `json:"request"`
	} `json:"entry"`
}

// decideBundle authorizes a batch or transaction bundle entry by entry: every entry must
// be allowed on its own, as if sent alone, or the whole bundle is refused. An entry whose
// decision carries obligations (search narrowing, withheld fields, a response check) is
// refused too: inside a bundle they could not be carried out.
func (a *Authorizer) decideBundle(r *http.Request, d *Decision) (*Decision, error) {
	deny := func(err error, reason string) (*Decision, error) {
		d.Allow = false
		d.Reasons = append(d.Reasons, reason)
		return d, err
	}
	body, err := a.peekBody(r)
	if err != nil {
		return deny(err, "bundle body unreadable or too large")
	}
	var b bundle
	if _, err := parseStrict(body); err != nil {
		return deny(err, "the bundle is not strict JSON")
	}
	if err := json.Unmarshal(body, &b); err != nil || b.ResourceType != "Bundle" || (b.Type != "batch" && b.Type != "transaction") {
		return deny(ErrDenied, "not a batch or transaction Bundle")
	}
	if len(b.Entry) == 0 || len(b.Entry) > maxBundleEntries {
		return deny(ErrDenied, fmt.Sprintf("a bundle needs 1 to %d entries", maxBundleEntries))
	}
	base := strings.TrimSuffix(r.URL.Path, "/")
	patients := map[string]bool{}
	for i, e := range b.Entry {
		if e.Request == nil || e.Request.URL == "" || strings.Contains(e.Request.URL, "://") || strings.HasPrefix(e.Request.URL, "/") {
			return deny(ErrDenied, fmt.Sprintf("entry %d: needs a relative request url", i))
		}
		// The entry becomes a request to decide, never one to send: a copy of the bundle's
		// request (context, headers, address) with the entry's method, URL and body.
		u, err := url.Parse(base + "/" + e.Request.URL)
		if err != nil || !validMethod(e.Request.Method) {
			return deny(ErrDenied, fmt.Sprintf("entry %d: unreadable request", i))
		}
		er := r.Clone(r.Context())
		er.Method, er.URL, er.RequestURI = e.Request.Method, u, ""
		er.Body, er.ContentLength = io.NopCloser(bytes.NewReader(e.Resource)), int64(len(e.Resource))
		ed, err := a.decide(er, false)
		if err != nil {
			d.Reasons = append(d.Reasons, fmt.Sprintf("entry %d: %s", i, strings.Join(ed.Reasons, "; ")))
			return deny(err, fmt.Sprintf("entry %d refused", i))
		}
		ob := ed.Obligations
		if len(ob.Narrowing) > 0 || len(ob.Withhold) > 0 || ob.OnlyPatient != "" || len(ob.Constraints) > 0 {
			return deny(ErrDenied, fmt.Sprintf("entry %d: its obligations cannot be carried out inside a bundle", i))
		}
		for _, id := range append(ed.Patients, ed.Patient) {
			if id != "" {
				patients[id] = true
			}
		}
		d.Purpose = ed.Purpose
	}
	d.Reasons = append(d.Reasons, fmt.Sprintf("all %d entries allowed", len(b.Entry)))
	for id := range patients {
		d.Patients = append(d.Patients, id) // every patient the bundle reaches is audited
	}
	slices.Sort(d.Patients)
	if len(d.Patients) == 1 {
		d.Patient = d.Patients[0]
	}
	d.Allow = true
	return d, nil
}

func validMethod(m string) bool {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete:
		return true
	}
	return false
}
