package dpop_test

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/phikit/phikit/authn/dpop"
)

// A client proves possession of its key on a request; the same proof sent again is a
// replay.
func Example() {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	v, err := dpop.New(dpop.Config{
		BaseURL: "https://fhir.example.org", // the service as clients address it
		Replay:  dpop.NewMemoryReplayStore(0, clock),
		Now:     clock,
	})
	if err != nil {
		fmt.Println(err)
		return
	}

	// The client's key (fixed here so that the output is stable) and its bound token.
	key := ed25519.NewKeyFromSeed(make([]byte, ed25519.SeedSize))
	token := "an-access-token-whose-cnf.jkt-names-the-key"
	proof, err := dpop.NewProof(key, http.MethodGet, "https://fhir.example.org/fhir/Patient/123", token, "", now)
	if err != nil {
		fmt.Println(err)
		return
	}

	for range 2 {
		// Behind a proxy, the request knows only its path; BaseURL supplies the rest.
		r := httptest.NewRequest(http.MethodGet, "/fhir/Patient/123?_format=json", nil)
		r.Header.Set("Authorization", "DPoP "+token)
		r.Header.Set("DPoP", proof)
		p, err := v.Verify(context.Background(), r, token)
		if err != nil {
			fmt.Println(err)
			continue
		}
		fmt.Println("key thumbprint:", p.JKT) // compare with the token's cnf.jkt
	}
	// Output:
	// key thumbprint: 9ZP03Nu8GrXPAUkbKNxHOKBzxPX83SShgFkRNK-f2lw
	// dpop: DPoP proof replayed
}

// With server nonces, a proof without one is refused; the client retries with the nonce
// the refusal carried.
func ExampleNonces() {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	nonces, err := dpop.NewNonces([]byte("a 32-byte secret shared by all replicas"), time.Minute, clock)
	if err != nil {
		fmt.Println(err)
		return
	}
	v, err := dpop.New(dpop.Config{
		BaseURL: "https://fhir.example.org",
		Replay:  dpop.NewMemoryReplayStore(0, clock),
		Nonce:   nonces,
		Now:     clock,
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	key := ed25519.NewKeyFromSeed(make([]byte, ed25519.SeedSize))

	nonce := "" // the client has none yet
	for range 2 {
		proof, _ := dpop.NewProof(key, http.MethodPost, "https://fhir.example.org/token", "", nonce, now)
		r := httptest.NewRequest(http.MethodPost, "/token", nil)
		r.Header.Set("DPoP", proof)
		_, err := v.Verify(context.Background(), r, "")
		if errors.Is(err, dpop.ErrUseNonce) {
			// The server answers 400 (401 at a resource) with error="use_dpop_nonce" …
			nonce, _ = v.NonceHeader(context.Background()) // … and DPoP-Nonce: <nonce>
			fmt.Println("refused:", err)
			continue
		}
		fmt.Println("accepted:", err == nil)
	}
	// Output:
	// refused: dpop: DPoP proof lacks a valid server nonce
	// accepted: true
}
