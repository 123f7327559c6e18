package idempotency_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/phikit/phikit/idempotency"
	"github.com/phikit/phikit/idempotency/idempotencytest"
)

func TestMemoryStoreConformance(t *testing.T) {
	idempotencytest.RunStoreTests(t, func(t *testing.T) idempotency.Store {
		s, err := idempotency.NewMemoryStore(idempotency.MemoryStoreConfig{MaxStoredBytes: 64 << 20})
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}

func TestMemoryStoreCaps(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	const lease, ttl = time.Minute, time.Hour
	tests := []struct {
		name    string
		cfg     idempotency.MemoryStoreConfig
		do      func(s *idempotency.MemoryStore) error
		wantErr error
	}{
		{"under MaxRecords: claimed", idempotency.MemoryStoreConfig{MaxRecords: 2}, func(s *idempotency.MemoryStore) error {
			_, _ = s.Claim(ctx, "a", "t", nil, now, lease)
			_, err := s.Claim(ctx, "b", "t", nil, now, lease)
			return err
		}, nil},
		{"MaxRecords live records: new key refused", idempotency.MemoryStoreConfig{MaxRecords: 2}, func(s *idempotency.MemoryStore) error {
			_, _ = s.Claim(ctx, "a", "t", nil, now, lease)
			_, _ = s.Claim(ctx, "b", "t", nil, now, lease)
			_, err := s.Claim(ctx, "c", "t", nil, now, lease)
			return err
		}, idempotency.ErrStoreFull},
		{"MaxRecords but one expired: claimed", idempotency.MemoryStoreConfig{MaxRecords: 2}, func(s *idempotency.MemoryStore) error {
			_, _ = s.Claim(ctx, "a", "t", nil, now, lease)
			_, _ = s.Claim(ctx, "b", "t", nil, now.Add(lease/2), lease)
			_, err := s.Claim(ctx, "c", "t", nil, now.Add(lease), lease)
			return err
		}, nil},
		{"MaxStoredBytes fits: completed", idempotency.MemoryStoreConfig{MaxStoredBytes: 10}, func(s *idempotency.MemoryStore) error {
			_, _ = s.Claim(ctx, "a", "t", []byte("fp"), now, lease)
			return s.Complete(ctx, "a", "t", make([]byte, 8), now, ttl)
		}, nil},
		{"MaxStoredBytes exceeded: Complete refused", idempotency.MemoryStoreConfig{MaxStoredBytes: 10}, func(s *idempotency.MemoryStore) error {
			_, _ = s.Claim(ctx, "a", "t", []byte("fp"), now, lease)
			return s.Complete(ctx, "a", "t", make([]byte, 9), now, ttl)
		}, idempotency.ErrStoreFull},
		{"MaxStoredBytes exceeded: not-replayable Complete still fits", idempotency.MemoryStoreConfig{MaxStoredBytes: 10}, func(s *idempotency.MemoryStore) error {
			_, _ = s.Claim(ctx, "a", "t", []byte("fp"), now, lease)
			_ = s.Complete(ctx, "a", "t", make([]byte, 9), now, ttl)
			return s.Complete(ctx, "a", "t", nil, now, ttl)
		}, nil},
		{"MaxStoredBytes exceeded by a fingerprint: Claim refused", idempotency.MemoryStoreConfig{MaxStoredBytes: 4}, func(s *idempotency.MemoryStore) error {
			_, err := s.Claim(ctx, "a", "t", []byte("12345"), now, lease)
			return err
		}, idempotency.ErrStoreFull},
		{"released bytes are given back", idempotency.MemoryStoreConfig{MaxStoredBytes: 4}, func(s *idempotency.MemoryStore) error {
			_, _ = s.Claim(ctx, "a", "t", []byte("1234"), now, lease)
			_ = s.Release(ctx, "a", "t", now)
			_, err := s.Claim(ctx, "b", "t", []byte("1234"), now, lease)
			return err
		}, nil},
		{"cancelled context", idempotency.MemoryStoreConfig{}, func(s *idempotency.MemoryStore) error {
			c, cancel := context.WithCancel(ctx)
			cancel()
			_, err := s.Claim(c, "a", "t", nil, now, lease)
			return err
		}, context.Canceled},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := idempotency.NewMemoryStore(tt.cfg)
			if err != nil {
				t.Fatal(err)
			}
			if err := tt.do(s); !errors.Is(err, tt.wantErr) {
				t.Errorf("got error %v, want %v", err, tt.wantErr)
			}
		})
	}
}

func TestMemoryStoreCopies(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	s, _ := idempotency.NewMemoryStore(idempotency.MemoryStoreConfig{})
	fp, resp := []byte("fp"), []byte("resp")
	_, _ = s.Claim(ctx, "k", "t", fp, now, time.Minute)
	_ = s.Complete(ctx, "k", "t", resp, now, time.Hour)
	fp[0], resp[0] = 'X', 'X'
	c, _ := s.Claim(ctx, "k", "u", nil, now, time.Minute)
	c.Response[1] = 'X'
	c2, _ := s.Claim(ctx, "k", "u", nil, now, time.Minute)
	if string(c2.Fingerprint) != "fp" || string(c2.Response) != "resp" {
		t.Errorf("got fingerprint %q response %q, want %q %q (the store keeps its own copies)", c2.Fingerprint, c2.Response, "fp", "resp")
	}
}

func TestNewMemoryStoreInvalid(t *testing.T) {
	for _, cfg := range []idempotency.MemoryStoreConfig{{MaxRecords: -1}, {MaxStoredBytes: -1}} {
		if _, err := idempotency.NewMemoryStore(cfg); !errors.Is(err, idempotency.ErrInvalidConfig) {
			t.Errorf("NewMemoryStore(%+v): got %v, want ErrInvalidConfig", cfg, err)
		}
	}
}
