package idempotency_test

import (
	"bytes"
	"errors"
	"testing"

	"github.com/phikit/phikit/idempotency"
)

func TestAESGCM(t *testing.T) {
	s, err := idempotency.NewAESGCM(testKey)
	if err != nil {
		t.Fatal(err)
	}
	other, _ := idempotency.NewAESGCM(bytes.Repeat([]byte{1}, 32))
	plain, ad := []byte("Observation for patient pat-123"), []byte("record-key")
	sealed, err := s.Seal(plain, ad)
	if err != nil {
		t.Fatal(err)
	}
	again, _ := s.Seal(plain, ad)
	if bytes.Equal(sealed, again) || bytes.Contains(sealed, []byte("pat-123")) {
		t.Errorf("Seal: two seals are equal or carry the plaintext")
	}
	tamper := bytes.Clone(sealed)
	tamper[len(tamper)-1] ^= 1
	tests := []struct {
		name    string
		s       *idempotency.AESGCM
		in, ad  []byte
		wantErr bool
	}{
		{"same key and record", s, sealed, ad, false},
		{"another record", s, sealed, []byte("other-record"), true},
		{"another key", other, sealed, ad, true},
		{"modified", s, tamper, ad, true},
		{"truncated", s, sealed[:20], ad, true},
		{"empty", s, nil, ad, true},
	}
	for _, tt := range tests {
		got, err := tt.s.Open(tt.in, tt.ad)
		if (err != nil) != tt.wantErr || (err == nil && !bytes.Equal(got, plain)) {
			t.Errorf("%s: got (%q, %v), want error %v", tt.name, got, err, tt.wantErr)
		}
	}
}

func TestNewAESGCMKeySize(t *testing.T) {
	for _, n := range []int{0, 16, 24, 31, 33} {
		if _, err := idempotency.NewAESGCM(make([]byte, n)); !errors.Is(err, idempotency.ErrInvalidConfig) {
			t.Errorf("%d-byte key: got %v, want ErrInvalidConfig", n, err)
		}
	}
}
