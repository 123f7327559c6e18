package idempotency_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"

	"github.com/phikit/phikit/idempotency"
)

func ExampleStrongETag() {
	body := []byte("hello")
	fmt.Println(idempotency.StrongETag(body))
	// Output: "LPJNul-wow4m6Dsqxbning"
}

func ExampleFHIRVersionETag() {
	etag, err := idempotency.FHIRVersionETag("3")
	fmt.Println(etag, err)
	_, err = idempotency.FHIRVersionETag(`3" , "4`)
	fmt.Println(err)
	// Output:
	// W/"3" <nil>
	// idempotency: versionId is not a FHIR id: idempotency: invalid entity-tag
}

func ExampleParseETagList() {
	l, err := idempotency.ParseETagList(`"a", W/"b"`, `"c"`) // two field lines
	fmt.Println(l.Any, l.Tags, err)
	l, err = idempotency.ParseETagList("*")
	fmt.Println(l.Any, l.Tags, err)
	_, err = idempotency.ParseETagList(`w/"a"`)
	fmt.Println(err)
	// Output:
	// false ["a" W/"b" "c"] <nil>
	// true [] <nil>
	// idempotency: malformed precondition field: idempotency: invalid entity-tag
}

// patients is a toy FHIR store: a version counter per patient.
type patients struct {
	mu       sync.Mutex
	versions map[string]int
}

// CurrentETag is the Versioner: the current W/"versionId" of the patient in the path.
func (s *patients) CurrentETag(r *http.Request) (string, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.versions[r.PathValue("id")]
	if !ok {
		return "", false, nil
	}
	etag, err := idempotency.FHIRVersionETag(strconv.Itoa(v))
	return etag, true, err
}

// update writes only if the version is still the one the middleware checked: the
// compare-and-set that closes the race between the check and the write.
func (s *patients) update(w http.ResponseWriter, r *http.Request) {
	c, ok := idempotency.CheckedFromContext(r.Context())
	if !ok {
		http.Error(w, "unchecked", http.StatusInternalServerError)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	id := r.PathValue("id")
	v, exists := s.versions[id]
	if exists != c.Exists || exists && strconv.Itoa(v) != c.ETag.Opaque {
		w.WriteHeader(http.StatusPreconditionFailed) // changed since the check
		return
	}
	s.versions[id] = v + 1
	etag, _ := idempotency.FHIRVersionETag(strconv.Itoa(v + 1))
	w.Header().Set("ETag", etag)
	if exists {
		w.WriteHeader(http.StatusOK)
	} else {
		w.WriteHeader(http.StatusCreated)
	}
}

func ExamplePreconditions() {
	store := &patients{versions: map[string]int{"p1": 3}}
	pre, err := idempotency.NewPreconditions(idempotency.PreconditionConfig{
		Versioner: store,
		FHIR:      true, // clients send If-Match: W/"<versionId>"
	})
	if err != nil {
		panic(err)
	}
	// The middleware wraps the route's handler inside the mux, so that the Versioner
	// sees r.PathValue; in a real service the mux sits inside authn and authz.
	h := http.NewServeMux()
	h.Handle("PUT /fhir/Patient/{id}", pre.Handler(http.HandlerFunc(store.update)))

	put := func(id string, header ...string) {
		r := httptest.NewRequest("PUT", "/fhir/Patient/"+id, strings.NewReader(`{}`))
		for i := 0; i+1 < len(header); i += 2 {
			r.Header.Add(header[i], header[i+1])
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		fmt.Println(strings.TrimSpace(strconv.Itoa(w.Code) + " " + w.Header().Get("ETag")))
	}
	put("p1")                       // no If-Match
	put("p1", "If-Match", `W/"2"`)  // stale
	put("p1", "If-Match", `W/"3"`)  // current
	put("p1", "If-Match", `W/"3"`)  // the same request again: now stale
	put("p2", "If-None-Match", "*") // create only if absent
	put("p2", "If-None-Match", "*") // exists now
	put("p1", "If-Match", `3`)      // not an entity-tag
	// Output:
	// 428
	// 412
	// 200 W/"4"
	// 412
	// 201 W/"1"
	// 412
	// 400
}
