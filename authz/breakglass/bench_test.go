package breakglass_test

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/phikit/phikit/authn"
	"github.com/phikit/phikit/authz/breakglass"
)

// BenchmarkActive measures the check an authorizer makes per request, with 1,000
// clinicians holding 10 grants each (half of them closed) in memory. Baseline is the
// raw primitive underneath: a map lookup under a read lock.
func BenchmarkActive(b *testing.B) {
	f := newFixture(b)
	p := clinician(epoch)
	for i := range 1000 {
		pi := clinician(epoch, func(pp *authn.Principal) { pp.Subject = fmt.Sprintf("dr-%d", i) })
		for j := range 10 {
			g := f.open(b, pi, fmt.Sprintf("pat-%d", j))
			if j%2 == 1 {
				if err := f.bg.Close(ctx, pi, g.ID); err != nil {
					b.Fatal(err)
				}
			}
		}
	}
	f.open(b, p, "pat-3")
	// Measure the real MemoryStore, not the test wrapper with its fault injection, on a
	// clock that costs nothing.
	bg, err := breakglass.New(breakglass.Config{
		Store:         f.store.MemoryStore,
		EntitledRoles: []string{"emergency"},
		Audit:         f.sink,
		Alert:         f.alerts.alert,
		Now:           func() time.Time { return epoch },
	})
	if err != nil {
		b.Fatal(err)
	}

	b.Run("baseline=RWMutex+map", func(b *testing.B) {
		type key struct{ a, p string }
		var mu sync.RWMutex
		m := map[key]breakglass.Grant{{"dr-a", "pat-3"}: {ExpiresAt: epoch.Add(time.Hour)}}
		b.ReportAllocs()
		for b.Loop() {
			mu.RLock()
			g, ok := m[key{"dr-a", "pat-3"}]
			mu.RUnlock()
			if !ok || !g.ActiveAt(epoch) {
				b.Fatal("not active")
			}
		}
	})
	b.Run("MemoryStore.Active", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, ok, err := f.store.MemoryStore.Active(ctx, "dr-a", "pat-3", epoch); !ok || err != nil {
				b.Fatal("not active")
			}
		}
	})
	b.Run("BreakGlass.Active/covered", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, ok, err := bg.Active(ctx, p, "pat-3"); !ok || err != nil {
				b.Fatal("not active")
			}
		}
	})
	b.Run("BreakGlass.Active/not-covered", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, ok, err := bg.Active(ctx, p, "pat-4"); ok || err != nil {
				b.Fatal("active")
			}
		}
	})
	b.Run("BreakGlass.Active/parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, ok, err := bg.Active(ctx, p, "pat-3"); !ok || err != nil {
					b.Error("not active")
					return
				}
			}
		})
	})
}
