package ratelimit

import (
	"errors"
	"hash/maphash"
	"math/rand/v2"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// fakeClock is a clock tests move by hand.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{t: time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func newTestLimiter(t testing.TB, cfg LimiterConfig) (*Limiter, *fakeClock) {
	t.Helper()
	c := newFakeClock()
	cfg.Now = c.Now
	l, err := NewLimiter(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return l, c
}

type step struct {
	name          string
	advance       time.Duration
	cost          int
	wantAllowed   bool
	wantRemaining int
	wantRetry     time.Duration
	wantReset     time.Duration
}

func runSteps(t *testing.T, l *Limiter, c *fakeClock, key string, steps []step) {
	t.Helper()
	for i, s := range steps {
		c.Advance(s.advance)
		got := l.Allow(key, s.cost)
		want := Result{Allowed: s.wantAllowed, Limit: l.Burst(), Remaining: s.wantRemaining, RetryAfter: s.wantRetry, ResetAfter: s.wantReset}
		if got != want {
			t.Errorf("step %d (%s): got %+v, want %+v", i, s.name, got, want)
		}
	}
}

func TestLimiterExact(t *testing.T) {
	// Rate 1/s, burst 3: T = 1s, tau = 3s.
	l, c := newTestLimiter(t, LimiterConfig{Rate: 1, Burst: 3})
	runSteps(t, l, c, "k", []step{
		{"first", 0, 1, true, 2, 0, 1 * time.Second},
		{"second", 0, 1, true, 1, 0, 2 * time.Second},
		{"third drains burst", 0, 1, true, 0, 0, 3 * time.Second},
		{"fourth refused", 0, 1, false, 0, 1 * time.Second, 3 * time.Second},
		{"half a cell later", 500 * time.Millisecond, 1, false, 0, 500 * time.Millisecond, 2500 * time.Millisecond},
		{"exactly one cell later", 500 * time.Millisecond, 1, true, 0, 0, 3 * time.Second},
		{"idle long: full burst, no more", 10 * time.Second, 3, true, 0, 0, 3 * time.Second},
		{"two cells back, three asked", 2 * time.Second, 3, false, 2, 1 * time.Second, 1 * time.Second},
		{"two asked", 0, 2, true, 0, 0, 3 * time.Second},
		{"cost above burst never", 0, 4, false, 0, -1, 3 * time.Second},
		{"cost zero peeks", 0, 0, true, 0, 0, 3 * time.Second},
		{"negative cost peeks", 0, -5, true, 0, 0, 3 * time.Second},
		{"after the window", 3 * time.Second, 0, true, 3, 0, 0},
		{"big idle gap is not banked", time.Hour, 3, true, 0, 0, 3 * time.Second},
		{"refused again", 0, 1, false, 0, 1 * time.Second, 3 * time.Second},
	})
}

func TestLimiterFractionalRate(t *testing.T) {
	// Rate 0.5/s, burst 1: T = 2s.
	l, c := newTestLimiter(t, LimiterConfig{Rate: 0.5, Burst: 1})
	runSteps(t, l, c, "k", []step{
		{"first", 0, 1, true, 0, 0, 2 * time.Second},
		{"refused", 0, 1, false, 0, 2 * time.Second, 2 * time.Second},
		{"still refused", 1999 * time.Millisecond, 1, false, 0, time.Millisecond, time.Millisecond},
		{"allowed", time.Millisecond, 1, true, 0, 0, 2 * time.Second},
	})
	// Rate 100/s, burst 10: T = 10ms.
	l, c = newTestLimiter(t, LimiterConfig{Rate: 100, Burst: 10})
	runSteps(t, l, c, "k", []step{
		{"all ten", 0, 10, true, 0, 0, 100 * time.Millisecond},
		{"refused", 0, 1, false, 0, 10 * time.Millisecond, 100 * time.Millisecond},
		{"25ms gives two", 25 * time.Millisecond, 2, true, 0, 0, 95 * time.Millisecond},
	})
}

func TestLimiterKeysIndependent(t *testing.T) {
	l, _ := newTestLimiter(t, LimiterConfig{Rate: 1, Burst: 1})
	if !l.Allow("a", 1).Allowed {
		t.Fatal("a refused, want allowed")
	}
	if l.Allow("a", 1).Allowed {
		t.Fatal("a allowed twice, want refused")
	}
	if !l.Allow("b", 1).Allowed {
		t.Fatal("b refused because of a, want allowed")
	}
}

func TestNewLimiterErrors(t *testing.T) {
	tests := []struct {
		name    string
		cfg     LimiterConfig
		wantErr bool
	}{
		{"ok", LimiterConfig{Rate: 1, Burst: 1}, false},
		{"small max keys", LimiterConfig{Rate: 1, Burst: 1, MaxKeys: 1}, false},
		{"zero rate", LimiterConfig{Burst: 1}, true},
		{"negative rate", LimiterConfig{Rate: -1, Burst: 1}, true},
		{"NaN rate", LimiterConfig{Rate: nan(), Burst: 1}, true},
		{"too fast", LimiterConfig{Rate: 2e9, Burst: 1}, true},
		{"zero burst", LimiterConfig{Rate: 1}, true},
		{"negative max keys", LimiterConfig{Rate: 1, Burst: 1, MaxKeys: -1}, true},
		{"window overflow", LimiterConfig{Rate: 1e-9, Burst: 1 << 30}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewLimiter(tt.cfg)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
			if err != nil && !errors.Is(err, ErrInvalidConfig) {
				t.Fatalf("err = %v, want one wrapping ErrInvalidConfig", err)
			}
		})
	}
}

func nan() float64 { var z float64; return z / z }

func TestLimiterMaxKeys(t *testing.T) {
	for _, maxKeys := range []int{1, 17, 1000, 5000} {
		t.Run(strconv.Itoa(maxKeys), func(t *testing.T) {
			l, _ := newTestLimiter(t, LimiterConfig{Rate: 1, Burst: 2, MaxKeys: maxKeys})
			n := 1_000_000
			if testing.Short() {
				n = 50_000
			}
			for i := range n {
				l.Allow(strconv.Itoa(i), 1)
			}
			if got := l.Len(); got > maxKeys {
				t.Fatalf("Len() = %d after %d keys, want at most %d", got, n, maxKeys)
			}
		})
	}
}

// An evicted key gets at most a full burst back: at one instant, no key is ever allowed
// more than Burst units in total, however many other keys push it out.
func TestLimiterEvictionBound(t *testing.T) {
	const burst = 3
	l, _ := newTestLimiter(t, LimiterConfig{Rate: 1, Burst: burst, MaxKeys: 64})
	// The exact bound for one victim: spend its burst, evict it, and it gets one burst.
	victimSpent := 0
	for range burst + 2 {
		if l.Allow("victim", 1).Allowed {
			victimSpent++
		}
	}
	for i := range 10_000 {
		l.Allow("flood"+strconv.Itoa(i), burst)
	}
	if l.Len() > 64 {
		t.Fatalf("Len() = %d, want at most 64", l.Len())
	}
	for range burst + 2 {
		if l.Allow("victim", 1).Allowed {
			victimSpent++
		}
	}
	// Exactly: one burst before, the flood evicts it, one burst after — never more.
	if victimSpent != 2*burst {
		t.Fatalf("victim spent %d across one eviction, want %d", victimSpent, 2*burst)
	}
}

// A key in use survives a flood of one-off keys (CLOCK keeps recently used keys).
func TestLimiterKeepsHotKey(t *testing.T) {
	l, _ := newTestLimiter(t, LimiterConfig{Rate: 1, Burst: 2, MaxKeys: 16})
	if !l.Allow("hot", 2).Allowed {
		t.Fatal("hot refused, want allowed")
	}
	for i := range 10_000 {
		l.Allow("cold"+strconv.Itoa(i), 2)
		if r := l.Allow("hot", 1); r.Allowed {
			t.Fatalf("after %d cold keys the hot key was forgotten and allowed again", i+1)
		}
	}
}

// Keys whose TAT has passed are evicted first: they lose nothing.
func TestLimiterEvictsIdleFirst(t *testing.T) {
	l, c := newTestLimiter(t, LimiterConfig{Rate: 1, Burst: 1, MaxKeys: 16})
	for i := range 15 {
		l.Allow("idle"+strconv.Itoa(i), 1)
	}
	c.Advance(2 * time.Second) // every idle key is back to a full burst
	l.Allow("busy", 1)
	l.Allow("new", 1) // shard full: evicts an idle key, not busy
	if l.Allow("busy", 1).Allowed {
		t.Fatal("busy was evicted while idle keys were there")
	}
}

func TestLimiterConcurrent(t *testing.T) {
	const burst = 100
	l, c := newTestLimiter(t, LimiterConfig{Rate: 10, Burst: burst})
	churn, _ := newTestLimiter(t, LimiterConfig{Rate: 10, Burst: 2, MaxKeys: 128})
	var allowed atomic.Int64
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 1000 {
				if l.Allow("shared", 1).Allowed {
					allowed.Add(1)
				}
				churn.Allow("g"+strconv.Itoa(g)+"-"+strconv.Itoa(i%300), 1)
				if i%100 == 0 && churn.Len() > 128 {
					t.Errorf("churn.Len() = %d, want at most 128", churn.Len())
				}
			}
		}()
	}
	wg.Wait()
	if got := allowed.Load(); got != burst {
		t.Fatalf("allowed %d on one key at one instant, want exactly %d", got, burst)
	}
	_ = c
}

// FuzzLimiterBound checks GCRA's guarantee on arbitrary arrivals: from the first
// decision to any later one, a key never spends more than Burst + Rate·elapsed, and a
// refusal's RetryAfter is exact (the same request is allowed then, not a nanosecond
// earlier).
func FuzzLimiterBound(f *testing.F) {
	f.Add([]byte{0, 1, 0, 1, 0, 1, 0, 1, 200, 3, 5, 2})
	f.Add([]byte{255, 9, 1, 1, 1, 1, 1, 1})
	f.Fuzz(func(t *testing.T, steps []byte) {
		const burst, perSecond = 4, 2.0
		l, c := newTestLimiter(t, LimiterConfig{Rate: perSecond, Burst: burst, MaxKeys: 16})
		start := c.Now()
		spent := 0
		for i := 0; i+1 < len(steps); i += 2 {
			c.Advance(time.Duration(steps[i]) * 10 * time.Millisecond)
			cost := int(steps[i+1] % (burst + 2))
			r := l.Allow("k", cost)
			if r.Allowed {
				spent += max(cost, 0)
			} else if r.RetryAfter > 0 {
				at := c.Now().Add(r.RetryAfter)
				if l.AllowAt("k", cost, at.Add(-time.Nanosecond)).Allowed {
					t.Fatalf("step %d: allowed before RetryAfter %v", i/2, r.RetryAfter)
				}
			}
			if r.Remaining < 0 || r.Remaining > burst {
				t.Fatalf("step %d: Remaining %d out of [0, %d]", i/2, r.Remaining, burst)
			}
			elapsed := c.Now().Sub(start).Seconds()
			if limit := burst + int(elapsed*perSecond); spent > limit {
				t.Fatalf("step %d: spent %d after %.2fs, want at most %d", i/2, spent, elapsed, limit)
			}
		}
	})
}

// checkIndex verifies every shard's index against its slots: each slot is filed once,
// under its own key's hash, and reachable by a probe from its home bucket (no empty
// bucket in between); the table is at most three quarters full.
func checkIndex(t *testing.T, l *Limiter) {
	t.Helper()
	for si := range l.shards {
		s := &l.shards[si]
		s.mu.Lock()
		if len(s.slots) > s.cap {
			t.Errorf("shard %d: %d slots, want at most %d", si, len(s.slots), s.cap)
		}
		if len(s.table) > 0 && 4*len(s.slots) > 3*len(s.table) {
			t.Errorf("shard %d: %d slots in a table of %d, want at most 3/4 full", si, len(s.slots), len(s.table))
		}
		m := len(s.table) - 1
		seen := make(map[int]bool, len(s.slots))
		for p, e := range s.table {
			if e == 0 {
				continue
			}
			i := entrySlot(e)
			if i < 0 || i >= len(s.slots) || seen[i] {
				t.Errorf("shard %d bucket %d: slot %d out of range or filed twice", si, p, i)
				continue
			}
			seen[i] = true
			sl := s.slots[i]
			h := maphash.String(l.seed, sl.key) & l.hashMask
			if h&l.mask != uint64(si) || uint32(h>>32) != sl.hi || e&^entrySlotMask != entryTag(sl.hi) {
				t.Errorf("shard %d bucket %d: filed under the wrong hash", si, p)
			}
			for q := int(sl.hi) & m; q != p; q = (q + 1) & m {
				if s.table[q] == 0 {
					t.Errorf("shard %d bucket %d: unreachable from its home bucket %d", si, p, int(sl.hi)&m)
					break
				}
			}
			if got := s.find(sl.key, sl.hi); got != i {
				t.Errorf("shard %d: find of slot %d's key = %d, want %d", si, i, got, i)
			}
		}
		if len(seen) != len(s.slots) {
			t.Errorf("shard %d: %d slots filed, want %d", si, len(seen), len(s.slots))
		}
		s.mu.Unlock()
	}
}

// collisionMasks force hash collisions: hashMask clears bits of every key's hash.
var collisionMasks = []struct {
	name string
	mask uint64
}{
	{"no collisions", ^uint64(0)},
	{"every key the same hash", 0},
	{"one shard, distinct hashes", 0xffff_ffff_0000_0000},
	{"four hashes in each shard", 0x0000_0003_0000_003f},
	{"sixteen hashes, one shard", 0xf000_0000_0000_0000},
	{"one tag, distinct homes", 0x01ff_ffff_0000_0000},
	{"distinct tags, one home", 0xfe00_0000_0000_0000},
}

// Keys whose hashes collide keep separate limits: the lookup compares the key.
func TestLimiterHashCollisions(t *testing.T) {
	for _, cm := range collisionMasks {
		t.Run(cm.name, func(t *testing.T) {
			// 32768 keys: 512 a shard, room for all 300 even when they share one shard.
			l, c := newTestLimiter(t, LimiterConfig{Rate: 1, Burst: 2, MaxKeys: 32768})
			l.hashMask = cm.mask
			const n = 300
			for i := range n {
				k := "k" + strconv.Itoa(i)
				for j, want := range []bool{true, true, false} {
					if got := l.Allow(k, 1).Allowed; got != want {
						t.Fatalf("key %d, request %d: got allowed %v, want %v", i, j, got, want)
					}
				}
			}
			if got := l.Len(); got != n {
				t.Fatalf("Len() = %d, want %d", got, n)
			}
			checkIndex(t, l)
			c.Advance(time.Second) // one unit back for every key
			for i := range n {
				k := "k" + strconv.Itoa(i)
				if r := l.Allow(k, 1); !r.Allowed || r.Remaining != 0 {
					t.Fatalf("key %d after 1s: got %+v, want allowed with 0 remaining", i, r)
				}
				if l.Allow(k, 1).Allowed {
					t.Fatalf("key %d after 1s: second request allowed, want refused", i)
				}
			}
		})
	}
}

// Eviction under collisions keeps the index whole: every tracked key is still found
// (refused, since its burst is spent), none is found twice, and Len stays bounded.
func TestLimiterEvictionWithCollisions(t *testing.T) {
	for _, cm := range collisionMasks {
		for _, maxKeys := range []int{16, 100, 1000} {
			t.Run(cm.name+"/"+strconv.Itoa(maxKeys), func(t *testing.T) {
				l, _ := newTestLimiter(t, LimiterConfig{Rate: 1, Burst: 1, MaxKeys: maxKeys})
				l.hashMask = cm.mask
				n := 20 * maxKeys
				if cm.mask == 0 {
					n = 3 * maxKeys // every lookup probes the whole cluster
				}
				for i := range n {
					if !l.Allow("k"+strconv.Itoa(i), 1).Allowed {
						t.Fatalf("new key %d refused, want allowed", i)
					}
					if i%97 == 0 {
						checkIndex(t, l)
					}
				}
				checkIndex(t, l)
				if got := l.Len(); got > maxKeys || got == 0 {
					t.Fatalf("Len() = %d, want between 1 and %d", got, maxKeys)
				}
				for si := range l.shards {
					for _, sl := range l.shards[si].slots {
						if l.Allow(sl.key, 1).Allowed {
							t.Fatal("a tracked key was allowed twice in one instant: its entry was lost")
						}
					}
				}
			})
		}
	}
}

// The limiter agrees with a direct GCRA model (a map of TATs) on random arrivals over a
// few colliding keys, to the nanosecond.
func TestLimiterMatchesModel(t *testing.T) {
	for _, cm := range collisionMasks {
		t.Run(cm.name, func(t *testing.T) {
			const burst, interval = 5, int64(200 * time.Millisecond)
			l, c := newTestLimiter(t, LimiterConfig{Rate: 5, Burst: burst, MaxKeys: 1 << 16})
			l.hashMask = cm.mask
			model := map[string]int64{}
			r := rand.New(rand.NewPCG(7, 9))
			for step := range 20_000 {
				c.Advance(time.Duration(r.Int64N(int64(150 * time.Millisecond))))
				now := c.Now().UnixNano()
				key := "key-" + strconv.Itoa(r.IntN(500))
				cost := r.IntN(burst+3) - 1
				tat := max(model[key], now)
				want := Result{Limit: burst, ResetAfter: time.Duration(tat - now), Remaining: int((now + burst*interval - tat) / interval)}
				switch newTAT := tat + int64(max(cost, 0))*interval; {
				case cost > burst:
					want.RetryAfter = -1
				case newTAT-burst*interval > now:
					want.RetryAfter = time.Duration(newTAT - burst*interval - now)
				default:
					want.Allowed = true
					want.Remaining = int((now + burst*interval - newTAT) / interval)
					want.ResetAfter = time.Duration(newTAT - now)
					if cost > 0 {
						model[key] = newTAT
					}
				}
				if got := l.Allow(key, cost); got != want {
					t.Fatalf("step %d (cost %d): got %+v, want %+v", step, cost, got, want)
				}
			}
			checkIndex(t, l)
		})
	}
}

// The default clock is monotonic, and AllowAt with a time from time.Now or from the
// limiter's own clock lands on the same timeline as Allow.
func TestLimiterSystemClock(t *testing.T) {
	l, err := NewLimiter(LimiterConfig{Rate: 1, Burst: 1})
	if err != nil {
		t.Fatal(err)
	}
	before := time.Now()
	if !l.Allow("k", 1).Allowed {
		t.Fatal("first request refused, want allowed")
	}
	if r := l.Allow("k", 1); r.Allowed || r.RetryAfter <= 0 || r.RetryAfter > time.Second {
		t.Errorf("second request: got %+v, want refused with RetryAfter in (0, 1s]", r)
	}
	for _, tt := range []struct {
		name        string
		at          time.Time
		wantAllowed bool
	}{
		{"time.Now", time.Now(), false},
		{"limiter clock", l.now(), false},
		{"limiter clock + 0.5s", l.now().Add(500 * time.Millisecond), false},
		{"time.Now + 1s", before.Add(time.Second + time.Millisecond), true}, // last: it moves the TAT
	} {
		r := l.AllowAt("k", 0, tt.at) // cost 0: look without spending
		if got := r.ResetAfter <= 0; got != tt.wantAllowed {
			t.Errorf("%s: ResetAfter %v, want the key %s", tt.name, r.ResetAfter, map[bool]string{true: "idle", false: "busy"}[tt.wantAllowed])
		}
	}
	if d := time.Until(l.now()); d < -time.Second || d > time.Second {
		t.Errorf("limiter clock %v from time.Now, want within 1s", d)
	}
}

// The divider agrees with the division instruction.
func TestDivider(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	ds := []uint64{1, 2, 3, 5, 6, 7, 10, 641, 1000, 999_999_999, 1_000_000_000, 1_000_000_007,
		1<<32 - 1, 1 << 32, 1<<32 + 1, 1<<63 - 1, 1 << 63, 1<<63 + 1, 1<<64 - 1}
	for range 2000 {
		ds = append(ds, r.Uint64()>>r.UintN(64)|1, r.Uint64()>>r.UintN(64)+1)
	}
	for _, d := range ds {
		v := newDivider(d)
		ns := []uint64{0, 1, d - 1, d, d + 1, 2*d - 1, 2 * d, 1<<63 - 1, 1 << 63, 1<<64 - 1, (1<<64 - 1) / d * d, (1<<64-1)/d*d - 1}
		for range 200 {
			ns = append(ns, r.Uint64(), r.Uint64()>>r.UintN(64), r.Uint64N(100)*d+r.Uint64N(d))
		}
		for _, n := range ns {
			if got, want := v.div(n), n/d; got != want {
				t.Fatalf("%d / %d: got %d, want %d", n, d, got, want)
			}
		}
	}
}

func TestRemainingNeverNegative(t *testing.T) {
	l, c := newTestLimiter(t, LimiterConfig{Rate: 1000, Burst: 1000})
	for range 10 {
		l.Allow("k", 1)
	}
	c.Advance(-time.Hour) // a time from before the key's TAT
	for _, cost := range []int{0, 1, 2000} {
		if r := l.Allow("k", cost); r.Remaining < 0 {
			t.Errorf("cost %d after the clock went back: Remaining %d, want ≥ 0", cost, r.Remaining)
		}
	}
}
