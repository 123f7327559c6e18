package breakglass_test

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/phikit/phikit/audit"
	"github.com/phikit/phikit/authn"
	"github.com/phikit/phikit/authz/breakglass"
)

// epoch is the fake clocks' starting time.
var epoch = time.Date(2026, 11, 26, 2, 10, 0, 0, time.UTC)

const justification = "Unconscious patient in the ED, no records reachable."

// clock is a fake clock, safe for concurrent use.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// sink records events and fails with err when it is set.
type sink struct {
	mu     sync.Mutex
	events []audit.Event
	err    error
}

func (s *sink) Write(_ context.Context, e *audit.Event) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return s.err
	}
	ev := *e // the sink must not retain e: copy it, slices too
	ev.Entities = slices.Clone(e.Entities)
	ev.PurposeOfUse = slices.Clone(e.PurposeOfUse)
	ev.Agent.Roles = slices.Clone(e.Agent.Roles)
	if e.Decision != nil {
		d := *e.Decision
		d.Reasons = slices.Clone(d.Reasons)
		ev.Decision = &d
	}
	s.events = append(s.events, ev)
	return nil
}

func (s *sink) setErr(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.err = err
}

func (s *sink) all() []audit.Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.events)
}

// ofType returns the recorded events of type typ.
func (s *sink) ofType(typ string) []audit.Event {
	var out []audit.Event
	for _, e := range s.all() {
		if e.Type == typ {
			out = append(out, e)
		}
	}
	return out
}

// alerts records the grants Alert was called with.
type alerts struct {
	mu  sync.Mutex
	got []breakglass.Grant
}

func (a *alerts) alert(_ context.Context, g breakglass.Grant) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.got = append(a.got, g)
}

func (a *alerts) all() []breakglass.Grant {
	a.mu.Lock()
	defer a.mu.Unlock()
	return slices.Clone(a.got)
}

// faultyStore is a MemoryStore whose methods fail with err when they are named in fail.
type faultyStore struct {
	*breakglass.MemoryStore
	mu   sync.Mutex
	fail map[string]error
	// activeResult, when set, is what Active returns instead of asking the store.
	activeResult *breakglass.Grant
}

func (s *faultyStore) failWith(method string, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail == nil {
		s.fail = map[string]error{}
	}
	s.fail[method] = err
}

func (s *faultyStore) err(method string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.fail[method]
}

func (s *faultyStore) Open(ctx context.Context, g breakglass.Grant) error {
	if err := s.err("Open"); err != nil {
		return err
	}
	if err := s.err("Open after storing"); err != nil {
		_ = s.MemoryStore.Open(ctx, g)
		return err
	}
	return s.MemoryStore.Open(ctx, g)
}

func (s *faultyStore) Get(ctx context.Context, id string) (breakglass.Grant, bool, error) {
	if err := s.err("Get"); err != nil {
		return breakglass.Grant{}, false, err
	}
	return s.MemoryStore.Get(ctx, id)
}

func (s *faultyStore) Active(ctx context.Context, actor, patient string, now time.Time) (breakglass.Grant, bool, error) {
	if err := s.err("Active"); err != nil {
		return breakglass.Grant{}, false, err
	}
	if s.activeResult != nil {
		return *s.activeResult, true, nil
	}
	return s.MemoryStore.Active(ctx, actor, patient, now)
}

func (s *faultyStore) Close(ctx context.Context, id string, at time.Time) error {
	if err := s.err("Close"); err != nil {
		return err
	}
	return s.MemoryStore.Close(ctx, id, at)
}

var errBackend = errors.New("connection refused")

// fixture is a BreakGlass on a fake clock with recording sink and alerts.
type fixture struct {
	bg     *breakglass.BreakGlass
	store  *faultyStore
	clock  *clock
	sink   *sink
	alerts *alerts
}

func newFixture(t testing.TB, mods ...func(*breakglass.Config)) *fixture {
	t.Helper()
	f := &fixture{
		store:  &faultyStore{MemoryStore: breakglass.NewMemoryStore()},
		clock:  &clock{t: epoch},
		sink:   &sink{},
		alerts: &alerts{},
	}
	cfg := breakglass.Config{
		Store:         f.store,
		EntitledRoles: []string{"emergency"},
		Audit:         f.sink,
		Alert:         f.alerts.alert,
		Service:       "clinic",
		Now:           f.clock.Now,
	}
	for _, m := range mods {
		m(&cfg)
	}
	bg, err := breakglass.New(cfg)
	if err != nil {
		t.Fatalf("New = %v", err)
	}
	f.bg = bg
	return f
}

// clinician returns an entitled principal who authenticated with MFA a minute before
// now, changed by mods.
func clinician(now time.Time, mods ...func(*authn.Principal)) *authn.Principal {
	p := &authn.Principal{
		Subject:  "dr-a",
		Issuer:   "https://login.example-hospital.org/",
		ClientID: "ehr-app",
		Roles:    []string{"clinician", "emergency"},
		FHIRUser: "Practitioner/prac-1",
		AMR:      []string{"pwd", "mfa"},
		AuthTime: now.Add(-time.Minute),
		Method:   authn.MethodJWT,
	}
	for _, m := range mods {
		m(p)
	}
	return p
}

func (f *fixture) open(t testing.TB, p *authn.Principal, patient string) breakglass.Grant {
	t.Helper()
	g, err := f.bg.Open(context.Background(), p, patient, "ETREAT", justification)
	if err != nil {
		t.Fatalf("Open(%s) = %v, want nil", patient, err)
	}
	return g
}

func (f *fixture) active(t testing.TB, p *authn.Principal, patient string) bool {
	t.Helper()
	_, ok, err := f.bg.Active(context.Background(), p, patient)
	if err != nil {
		t.Fatalf("Active(%s, %s) error = %v", p.Subject, patient, err)
	}
	return ok
}
