package apikey

import (
	"cmp"
	"context"
	"slices"
	"sync"
	"time"
)

// MemoryStore is a Store in process memory, for tests, development and single-process
// tools. Its keys are lost when the process exits and are not shared between processes:
// production services need a durable store. It is safe for concurrent use.
type MemoryStore struct {
	mu   sync.RWMutex
	recs map[string]Record
}

var _ Store = (*MemoryStore)(nil)

// NewMemoryStore returns an empty MemoryStore.
func NewMemoryStore() *MemoryStore { return &MemoryStore{recs: map[string]Record{}} }

// Put stores a copy of rec, or returns ErrExists.
func (s *MemoryStore) Put(_ context.Context, rec Record) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.recs[rec.ID]; ok {
		return ErrExists
	}
	s.recs[rec.ID] = rec.Clone()
	return nil
}

// Get returns a copy of the record with this id, or ErrNotFound.
func (s *MemoryStore) Get(_ context.Context, id string) (Record, error) {
	s.mu.RLock()
	rec, ok := s.recs[id]
	s.mu.RUnlock()
	if !ok {
		return Record{}, ErrNotFound
	}
	return rec.Clone(), nil
}

// Revoke marks the record revoked at at, unless it already is at an earlier time.
func (s *MemoryStore) Revoke(_ context.Context, id string, at time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	rec, ok := s.recs[id]
	if !ok {
		return ErrNotFound
	}
	if rec.RevokedAt.IsZero() || at.Before(rec.RevokedAt) {
		rec.RevokedAt = at
		s.recs[id] = rec
	}
	return nil
}

// List returns copies of subject's records, oldest first.
func (s *MemoryStore) List(_ context.Context, subject string) ([]Record, error) {
	s.mu.RLock()
	var out []Record
	for _, rec := range s.recs {
		if rec.Subject == subject {
			out = append(out, rec.Clone())
		}
	}
	s.mu.RUnlock()
	slices.SortFunc(out, func(a, b Record) int {
		return cmp.Or(a.CreatedAt.Compare(b.CreatedAt), cmp.Compare(a.ID, b.ID))
	})
	return out, nil
}
