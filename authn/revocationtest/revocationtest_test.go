package revocationtest_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/phikit/phikit/authn"
	"github.com/phikit/phikit/authn/revocationtest"
)

// flaw is one way a store can be wrong.
type flaw int

const (
	sound                 flaw = iota
	ignoresIssuer              // keys entries by jti alone
	concatenatesKey            // keys entries by issuer+jti, unseparated
	realClock                  // reads time.Now, not the suite's clock
	neverExpires               // answers true after until
	shortensOnRevoke           // lets a second Revoke shorten an entry
	recordsPastUntil           // records an until already past, over a later one
	ignoresContext             // answers with a done context
	acceptsEmpty               // accepts an empty issuer or jti
	expiresAtUntilMinus1s      // drops an entry a second early
)

var flaws = map[string]flaw{
	"ignoresIssuer":         ignoresIssuer,
	"concatenatesKey":       concatenatesKey,
	"realClock":             realClock,
	"neverExpires":          neverExpires,
	"shortensOnRevoke":      shortensOnRevoke,
	"recordsPastUntil":      recordsPastUntil,
	"ignoresContext":        ignoresContext,
	"acceptsEmpty":          acceptsEmpty,
	"expiresAtUntilMinus1s": expiresAtUntilMinus1s,
}

// store is a map-based Revocations with one optional flaw.
type store struct {
	flaw flaw
	now  func() time.Time
	mu   sync.Mutex
	m    map[string]time.Time
}

func (s *store) clock() time.Time {
	if s.flaw == realClock {
		return time.Now()
	}
	return s.now()
}

func (s *store) key(issuer, jti string) string {
	switch s.flaw {
	case ignoresIssuer:
		return jti
	case concatenatesKey:
		return issuer + jti
	}
	return strconv.Itoa(len(issuer)) + ":" + issuer + jti
}

func (s *store) check(ctx context.Context, issuer, jti string) error {
	if (issuer == "" || jti == "") && s.flaw != acceptsEmpty {
		return authn.ErrInvalidRevocation
	}
	if s.flaw != ignoresContext {
		return ctx.Err()
	}
	return nil
}

func (s *store) Revoke(ctx context.Context, issuer, jti string, until time.Time) error {
	if err := s.check(ctx, issuer, jti); err != nil {
		return err
	}
	past := !s.clock().Before(until)
	if past && s.flaw != recordsPastUntil {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	k := s.key(issuer, jti)
	if old, ok := s.m[k]; ok && old.After(until) && s.flaw != shortensOnRevoke && !past {
		return nil
	}
	s.m[k] = until
	return nil
}

func (s *store) Revoked(ctx context.Context, issuer, jti string) (bool, error) {
	if err := s.check(ctx, issuer, jti); err != nil {
		return false, err
	}
	s.mu.Lock()
	until, ok := s.m[s.key(issuer, jti)]
	s.mu.Unlock()
	switch s.flaw {
	case neverExpires:
		return ok, nil
	case expiresAtUntilMinus1s:
		until = until.Add(-time.Second)
	}
	return ok && s.clock().Before(until), nil
}

func newStore(f flaw) func(*testing.T, func() time.Time) authn.Revocations {
	return func(_ *testing.T, now func() time.Time) authn.Revocations {
		return &store{flaw: f, now: now, m: map[string]time.Time{}}
	}
}

// TestRun: the sound store passes, and the suite run in a child process fails each
// flawed one.
func TestRun(t *testing.T) {
	if name := os.Getenv("REVOCATIONTEST_FLAW"); name != "" {
		revocationtest.Run(t, newStore(flaws[name]))
		return
	}
	revocationtest.Run(t, newStore(sound))
	if testing.Short() {
		t.Skip("flawed stores run in child processes; skipped with -short")
	}
	for name := range flaws {
		t.Run("flaw="+name, func(t *testing.T) {
			t.Parallel()
			cmd := exec.Command(os.Args[0], "-test.run=^TestRun$", "-test.count=1")
			cmd.Env = append(os.Environ(), "REVOCATIONTEST_FLAW="+name)
			out, err := cmd.CombinedOutput()
			var exit *exec.ExitError
			if !errors.As(err, &exit) || !bytes.Contains(out, []byte("--- FAIL: TestRun/")) {
				t.Errorf("the suite did not fail a subtest for a store that %s (err %v); output:\n%s", name, err, out)
			}
		})
	}
}
