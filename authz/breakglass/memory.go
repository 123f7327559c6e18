package breakglass

import (
	"cmp"
	"context"
	"errors"
	"slices"
	"sync"
	"time"
)

// MemoryStore is a Store in one process's memory, for tests, development and
// single-replica services: grants do not survive a restart and are not shared between
// replicas. It keeps every grant for the life of the process (grants are never deleted),
// so its memory grows with the number of grants opened. It is safe for concurrent use.
type MemoryStore struct {
	mu   sync.RWMutex
	byID map[string]*Grant
	// open indexes the grants not yet closed by actor and patient: the hot path, Active,
	// looks at these only.
	open map[pair][]*Grant
}

type pair struct{ actor, patient string }

var _ Store = (*MemoryStore)(nil)

// NewMemoryStore returns an empty MemoryStore.
func NewMemoryStore() *MemoryStore {
	return &MemoryStore{byID: make(map[string]*Grant), open: make(map[pair][]*Grant)}
}

// Open stores g; see Store.Open.
func (s *MemoryStore) Open(ctx context.Context, g Grant) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if g.ID == "" {
		return errors.New("breakglass: memory store: grant without an ID")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.byID[g.ID]; ok {
		return ErrGrantExists
	}
	stored := &g
	s.byID[g.ID] = stored
	if g.ClosedAt.IsZero() {
		k := pair{g.Actor, g.Patient}
		s.open[k] = append(s.open[k], stored)
	}
	return nil
}

// Get returns the grant with this ID; see Store.Get.
func (s *MemoryStore) Get(ctx context.Context, id string) (Grant, bool, error) {
	if err := ctx.Err(); err != nil {
		return Grant{}, false, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	g, ok := s.byID[id]
	if !ok {
		return Grant{}, false, nil
	}
	return *g, true, nil
}

// Active returns the active grant of actor for patient at now; see Store.Active. It
// allocates nothing.
func (s *MemoryStore) Active(ctx context.Context, actor, patient string, now time.Time) (Grant, bool, error) {
	if err := ctx.Err(); err != nil {
		return Grant{}, false, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	var best *Grant
	for _, g := range s.open[pair{actor, patient}] {
		if g.ActiveAt(now) && (best == nil || g.ExpiresAt.After(best.ExpiresAt)) {
			best = g
		}
	}
	if best == nil {
		return Grant{}, false, nil
	}
	return *best, true, nil
}

// Close closes the grant; see Store.Close.
func (s *MemoryStore) Close(ctx context.Context, id string, at time.Time) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if at.IsZero() {
		return errors.New("breakglass: memory store: zero closing time")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	g, ok := s.byID[id]
	if !ok {
		return ErrGrantNotFound
	}
	if !g.ClosedAt.IsZero() {
		return ErrAlreadyClosed
	}
	g.ClosedAt = at
	k := pair{g.Actor, g.Patient}
	rest := slices.DeleteFunc(s.open[k], func(o *Grant) bool { return o == g })
	if len(rest) == 0 {
		delete(s.open, k)
	} else {
		s.open[k] = rest
	}
	return nil
}

// Expired returns the unclosed grants expired at now; see Store.Expired.
func (s *MemoryStore) Expired(ctx context.Context, now time.Time) ([]Grant, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.RLock()
	var out []Grant
	for _, gs := range s.open {
		for _, g := range gs {
			if !now.Before(g.ExpiresAt) {
				out = append(out, *g)
			}
		}
	}
	s.mu.RUnlock()
	sortOldestFirst(out)
	return out, nil
}

// PendingReview returns the grants not yet reviewed; see Store.PendingReview.
func (s *MemoryStore) PendingReview(ctx context.Context) ([]Grant, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.RLock()
	var out []Grant
	for _, g := range s.byID {
		if g.ReviewedAt.IsZero() {
			out = append(out, *g)
		}
	}
	s.mu.RUnlock()
	sortOldestFirst(out)
	return out, nil
}

// Review records a review of the grant; see Store.Review.
func (s *MemoryStore) Review(ctx context.Context, id, reviewer, note string, at time.Time) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if at.IsZero() {
		return errors.New("breakglass: memory store: zero review time")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	g, ok := s.byID[id]
	if !ok {
		return ErrGrantNotFound
	}
	if !g.ReviewedAt.IsZero() {
		return ErrAlreadyReviewed
	}
	g.ReviewedAt, g.Reviewer, g.ReviewNote = at, reviewer, note
	return nil
}

func sortOldestFirst(gs []Grant) {
	slices.SortFunc(gs, func(a, b Grant) int {
		if c := a.OpenedAt.Compare(b.OpenedAt); c != 0 {
			return c
		}
		return cmp.Compare(a.ID, b.ID)
	})
}
