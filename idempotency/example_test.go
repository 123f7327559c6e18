package idempotency_test

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/phikit/phikit/idempotency"
)

func Example() {
	store, err := idempotency.NewMemoryStore(idempotency.MemoryStoreConfig{})
	if err != nil {
		panic(err)
	}
	sealer, err := idempotency.NewAESGCM(bytes.Repeat([]byte{0x42}, 32)) // use a real key
	if err != nil {
		panic(err)
	}
	idem, err := idempotency.New(idempotency.Config{
		Store:  store,
		Sealer: sealer,
		Key:    func(r *http.Request) (string, bool) { return "practitioner-1", true }, // authn.KeyBySubject
	})
	if err != nil {
		panic(err)
	}
	orders := 0
	create := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		orders++
		w.Header().Set("Location", fmt.Sprintf("/fhir/MedicationRequest/%d", orders))
		w.WriteHeader(http.StatusCreated)
		_, _ = io.WriteString(w, `{"resourceType":"MedicationRequest"}`)
	})
	mux := http.NewServeMux()
	mux.Handle("POST /fhir/MedicationRequest", idem.Handler(create))

	send := func(key, body string) {
		r := httptest.NewRequest("POST", "/fhir/MedicationRequest", strings.NewReader(body))
		r.Header.Set("Content-Type", "application/fhir+json")
		if key != "" {
			r.Header.Set("Idempotency-Key", key)
		}
		w := httptest.NewRecorder()
		mux.ServeHTTP(w, r)
		fmt.Println(strings.TrimSpace(fmt.Sprintln(w.Code, w.Header().Get("Location"), w.Header().Get("Idempotent-Replayed"))))
	}
	send(`"5b1f0e0c-3c4e-4f59-9a57-1f2b7d1f7a10"`, `{"medication":"amoxicillin"}`)
	send(`"5b1f0e0c-3c4e-4f59-9a57-1f2b7d1f7a10"`, `{ "medication": "amoxicillin" }`) // a retry
	send(`"5b1f0e0c-3c4e-4f59-9a57-1f2b7d1f7a10"`, `{"medication":"ibuprofen"}`)      // key reused: 422
	send("", `{"medication":"amoxicillin"}`)                                          // no key: 400
	fmt.Println("orders:", orders)
	// Output:
	// 201 /fhir/MedicationRequest/1
	// 201 /fhir/MedicationRequest/1 true
	// 422
	// 400
	// orders: 1
}

func ExampleParseKey() {
	for _, v := range []string{`"8e03978e-40d5-43e8-bc93-6894a57f9324"`, `8e03978e-40d5-43e8-bc93-6894a57f9324`, `"a", "b"`} {
		key, ok, err := idempotency.ParseKey([]string{v})
		fmt.Printf("%q %v %v\n", key, ok, err)
	}
	// Output:
	// "8e03978e-40d5-43e8-bc93-6894a57f9324" true <nil>
	// "8e03978e-40d5-43e8-bc93-6894a57f9324" true <nil>
	// "" false idempotency: invalid Idempotency-Key
}

func ExampleCanonicalJSON() {
	c, ok := idempotency.CanonicalJSON([]byte(`{ "valueQuantity": {"value": 120, "unit": "mmHg"}, "status": "final" }`))
	fmt.Println(string(c), ok)
	// Output: {"status":"final","valueQuantity":{"unit":"mmHg","value":120}} true
}
