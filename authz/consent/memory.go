package consent

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"
)

// MemoryStore is a Store and Admin held in this process: it serves one replica only, and
// forgets everything when the process ends. Use it for tests, development and
// single-instance services; a service with replicas needs a shared store such as
// pgconsent.
//
// Decide reads the rules as they are at the call, under a read lock: a Put or Revoke
// that has returned applies to every later Decide. It caches nothing.
//
// Build it with NewMemoryStore; the zero value is an empty store that reads time.Now.
// It is safe for concurrent use.
type MemoryStore struct {
	now func() time.Time

	mu        sync.RWMutex
	byPatient map[string][]Rule // patient → rules, sorted by ID
	patientOf map[string]string // rule ID → patient
}

var (
	_ Store = (*MemoryStore)(nil)
	_ Admin = (*MemoryStore)(nil)
)

// NewMemoryStore returns an empty MemoryStore that reads the current time, for a zero
// Rule.Created on Put and a zero time on Revoke, from now (nil means time.Now).
func NewMemoryStore(now func() time.Time) *MemoryStore {
	return &MemoryStore{now: now}
}

func (s *MemoryStore) clock() time.Time {
	if s.now == nil {
		return time.Now()
	}
	return s.now()
}

// Decide implements Store. It costs one map lookup and a pass over the patient's rules,
// and allocates only the returned ids.
func (s *MemoryStore) Decide(ctx context.Context, q Query) (Decision, []string, error) {
	if err := q.Validate(); err != nil {
		return Deny, nil, err
	}
	if err := ctx.Err(); err != nil {
		return Deny, nil, fmt.Errorf("consent: decide: %w", err)
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	rules := s.byPatient[q.Patient]
	// Count first, so that the ids are allocated once, at their size.
	var permits, denies int
	for i := range rules {
		if rules[i].Applies(q) {
			if rules[i].Decision == Deny {
				denies++
			} else {
				permits++
			}
		}
	}
	d, n := NoConsent, 0
	switch {
	case denies > 0:
		d, n = Deny, denies
	case permits > 0:
		d, n = Permit, permits
	default:
		return NoConsent, nil, nil
	}
	ids := make([]string, 0, n)
	for i := range rules {
		if rules[i].Decision == d && rules[i].Applies(q) {
			ids = append(ids, rules[i].ID) // in ID order, as rules are kept
		}
	}
	return d, ids, nil
}

// Put implements Admin.
func (s *MemoryStore) Put(ctx context.Context, r Rule) error {
	if err := r.Validate(); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("consent: put: %w", err)
	}
	if r.Created.IsZero() {
		r.Created = s.clock()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.byPatient == nil {
		s.byPatient = make(map[string][]Rule)
		s.patientOf = make(map[string]string)
	}
	if old, ok := s.patientOf[r.ID]; ok {
		rules := s.byPatient[old]
		i, _ := slices.BinarySearchFunc(rules, r.ID, byID)
		if !rules[i].Revoked.IsZero() {
			return fmt.Errorf("consent: put: %w", ErrRuleRevoked)
		}
		if old == r.Patient {
			rules[i] = r
			return nil
		}
		if rules = slices.Delete(rules, i, i+1); len(rules) == 0 {
			delete(s.byPatient, old)
		} else {
			s.byPatient[old] = rules
		}
	}
	rules := s.byPatient[r.Patient]
	i, _ := slices.BinarySearchFunc(rules, r.ID, byID)
	s.byPatient[r.Patient] = slices.Insert(rules, i, r)
	s.patientOf[r.ID] = r.Patient
	return nil
}

// Revoke implements Admin.
func (s *MemoryStore) Revoke(ctx context.Context, id string, at time.Time) error {
	if err := ValidateRuleID(id); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("consent: revoke: %w", err)
	}
	if at.IsZero() {
		at = s.clock()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	patient, ok := s.patientOf[id]
	if !ok {
		return fmt.Errorf("consent: revoke: %w", ErrRuleNotFound)
	}
	rules := s.byPatient[patient]
	i, _ := slices.BinarySearchFunc(rules, id, byID)
	if rules[i].Revoked.IsZero() {
		rules[i].Revoked = at
	}
	return nil
}

func byID(r Rule, id string) int { return strings.Compare(r.ID, id) }
