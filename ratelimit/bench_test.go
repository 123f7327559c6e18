package ratelimit

import (
	"math/rand/v2"
	"net/http"
	"runtime"
	"strconv"
	"sync"
	"testing"
	"time"

	"golang.org/x/time/rate"
)

// The baselines are golang.org/x/time/rate used directly, on one key (no key lookup, no
// sharding), for the one-key benchmarks, and a plain map under a mutex for the many-key
// ones. Pairs compare like with like:
//
//   - XTimeRateAllow and AllowOneKeyTimeNow both read time.Now (two clock reads on
//     linux/amd64, about 45 ns on the reference VM);
//   - AllowOneKey reads the limiter's default clock (one monotonic clock read);
//   - XTimeRateAllowN and AllowAtOneKey take an explicit time and read no clock.

func BenchmarkXTimeRateAllow(b *testing.B) {
	l := rate.NewLimiter(rate.Limit(1e9), 1<<30)
	b.ReportAllocs()
	for b.Loop() {
		l.Allow()
	}
}

func BenchmarkXTimeRateAllowN(b *testing.B) {
	l := rate.NewLimiter(rate.Limit(1e9), 1<<30)
	start := time.Now()
	b.ReportAllocs()
	var i time.Duration
	for b.Loop() {
		i++
		l.AllowN(start.Add(i), 1)
	}
}

func BenchmarkXTimeRateAllowParallel(b *testing.B) {
	l := rate.NewLimiter(rate.Limit(1e9), 1<<30)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			l.Allow()
		}
	})
}

func newBenchLimiter(b *testing.B, maxKeys int, now func() time.Time) *Limiter {
	b.Helper()
	l, err := NewLimiter(LimiterConfig{Rate: 1e9, Burst: 1 << 20, MaxKeys: maxKeys, Now: now})
	if err != nil {
		b.Fatal(err)
	}
	return l
}

func BenchmarkAllowOneKey(b *testing.B) {
	l := newBenchLimiter(b, 0, nil)
	b.ReportAllocs()
	for b.Loop() {
		l.Allow("203.0.113.9", 1)
	}
}

func BenchmarkAllowOneKeyTimeNow(b *testing.B) {
	l := newBenchLimiter(b, 0, time.Now)
	b.ReportAllocs()
	for b.Loop() {
		l.Allow("203.0.113.9", 1)
	}
}

func BenchmarkAllowAtOneKey(b *testing.B) {
	l := newBenchLimiter(b, 0, nil)
	start := time.Now()
	b.ReportAllocs()
	var i time.Duration
	for b.Loop() {
		i++
		l.AllowAt("203.0.113.9", 1, start.Add(i))
	}
}

// One key from both cores: the key's shard lock is shared, as x/time/rate's one lock is.
func BenchmarkAllowOneKeyParallel(b *testing.B) {
	l := newBenchLimiter(b, 0, nil)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			l.Allow("203.0.113.9", 1)
		}
	})
}

func benchKey(i int) string {
	return "ip:198.51." + strconv.Itoa(i>>8&0xff) + "." + strconv.Itoa(i&0xff) + "/" + strconv.Itoa(i)
}

func benchKeys(n int) []string {
	keys := make([]string, n)
	for i := range keys {
		keys[i] = benchKey(i)
	}
	return keys
}

// shuffled returns keys in a random order, so that neither the keys' bytes nor their
// slots are visited in the order they were allocated.
func shuffled(keys []string) []string {
	s := append([]string(nil), keys...)
	r := rand.New(rand.NewPCG(1, 2)) // #nosec G404 -- a benchmark's access order
	r.Shuffle(len(s), func(i, j int) { s[i], s[j] = s[j], s[i] })
	return s
}

// benchMany decides keys in turn, all of them tracked, with the default clock. MaxKeys
// has an eighth of headroom, since each shard holds a fixed share of it and the keys do
// not spread over the shards exactly evenly.
func benchMany(b *testing.B, keys []string) {
	l := newBenchLimiter(b, len(keys)+len(keys)/8, nil)
	for _, k := range keys {
		l.Allow(k, 1)
	}
	if l.Len() != len(keys) {
		b.Fatalf("Len() = %d, want %d", l.Len(), len(keys))
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		l.Allow(keys[i], 1)
		i++
		if i == len(keys) {
			i = 0
		}
	}
}

// The raw primitive for many keys: a map from key to TAT under one mutex, with the same
// clock and access order as benchMany. Its cost is mostly the cache misses of the lookup.
func benchMapBaseline(b *testing.B, keys []string) {
	var mu sync.Mutex
	m := make(map[string]int64, len(keys))
	epoch := time.Now()
	for _, k := range keys {
		m[k] = 0
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		t := int64(time.Since(epoch))
		mu.Lock()
		m[keys[i]] = max(m[keys[i]], t) + 1
		mu.Unlock()
		i++
		if i == len(keys) {
			i = 0
		}
	}
}

func BenchmarkMapBaseline100kKeys(b *testing.B) { benchMapBaseline(b, benchKeys(100_000)) }
func BenchmarkAllow100kKeys(b *testing.B)       { benchMany(b, benchKeys(100_000)) }

func BenchmarkMapBaseline1MKeys(b *testing.B) { benchMapBaseline(b, benchKeys(1_000_000)) }
func BenchmarkAllow1MKeys(b *testing.B)       { benchMany(b, benchKeys(1_000_000)) }

func BenchmarkMapBaseline1MKeysShuffled(b *testing.B) {
	benchMapBaseline(b, shuffled(benchKeys(1_000_000)))
}
func BenchmarkAllow1MKeysShuffled(b *testing.B) { benchMany(b, shuffled(benchKeys(1_000_000))) }

func BenchmarkAllow1MKeysParallel(b *testing.B) {
	keys := benchKeys(1_000_000)
	l := newBenchLimiter(b, len(keys)+len(keys)/8, nil)
	for _, k := range keys {
		l.Allow(k, 1)
	}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := rand.IntN(len(keys)) // #nosec G404 -- a benchmark's starting point
		for pb.Next() {
			l.Allow(keys[i], 1)
			i++
			if i == len(keys) {
				i = 0
			}
		}
	})
}

// 1M distinct keys against the default cap of 100k: every decision evicts.
func BenchmarkAllow1MKeysEvicting(b *testing.B) {
	keys := benchKeys(1_000_000)
	l := newBenchLimiter(b, 0, nil)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		l.Allow(keys[i], 1)
		i++
		if i == len(keys) {
			i = 0
		}
	}
}

func BenchmarkResolveXForwardedFor(b *testing.B) {
	r := newTestResolver(b, "")
	req := newBenchRequest("10.0.0.1:443", "X-Forwarded-For", "1.2.3.4, 203.0.113.9, 10.0.0.3")
	b.ReportAllocs()
	for b.Loop() {
		r.Resolve(req)
	}
}

// benchMemory reports the heap the limiter holds per tracked key (Len, which can be a
// little under n when MaxKeys is n, as a shard whose share is full evicts) after n keys,
// with MaxKeys = maxKeys: B/key for its own structures (slots, index, reference bits),
// and B/key+string counting as well the key strings it retains, which here are 18 to 24
// bytes long (a 24-byte allocation each).
func benchMemory(b *testing.B, n, maxKeys int) {
	for b.Loop() {
		var before, mid, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		l := newBenchLimiter(b, maxKeys, nil)
		for i := range n {
			l.Allow(benchKey(i), 1)
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		withKeys := float64(after.HeapAlloc-before.HeapAlloc) / float64(l.Len())
		// The same keys again, now allocated before the limiter: only its structures count.
		keys := benchKeys(n)
		runtime.KeepAlive(l)
		l = nil
		runtime.GC()
		runtime.ReadMemStats(&mid)
		l = newBenchLimiter(b, maxKeys, nil)
		for _, k := range keys {
			l.Allow(k, 1)
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		if l.Len() < n*97/100 {
			b.Fatalf("Len() = %d, want about %d", l.Len(), n)
		}
		b.ReportMetric(float64(after.HeapAlloc-mid.HeapAlloc)/float64(l.Len()), "B/key")
		b.ReportMetric(withKeys, "B/key+string")
		runtime.KeepAlive(l)
		runtime.KeepAlive(keys)
	}
}

// 1M keys in a limiter capped at 1M: the steady state of a full limiter.
func BenchmarkMemoryPerKey1MFull(b *testing.B) { benchMemory(b, 1_000_000, 1_000_000) }

// 1M keys in a limiter capped at 1.5M: still growing, so some slots and buckets are spare.
func BenchmarkMemoryPerKey1MGrowing(b *testing.B) { benchMemory(b, 1_000_000, 1_500_000) }

// 100k keys in a limiter with the default cap of 100k.
func BenchmarkMemoryPerKey100kDefault(b *testing.B) { benchMemory(b, 100_000, 0) }

// The middleware's own cost per request: resolve, key, decide, set the fields.
func BenchmarkMiddlewareCheck(b *testing.B) {
	l := newBenchLimiter(b, 0, nil)
	m, err := New(Config{Limiter: l, Resolver: newTestResolver(b, "")})
	if err != nil {
		b.Fatal(err)
	}
	req := newBenchRequest("10.0.0.1:443", "X-Forwarded-For", "203.0.113.9, 10.0.0.3")
	b.ReportAllocs()
	for b.Loop() {
		m.Check(req)
	}
}

// benchWriter is a ResponseWriter whose header is cleared before each request, so that
// the handler benchmarks count the middleware's allocations, not a recorder's.
type benchWriter struct{ h http.Header }

func (w *benchWriter) Header() http.Header         { return w.h }
func (w *benchWriter) Write(p []byte) (int, error) { return len(p), nil }
func (w *benchWriter) WriteHeader(int)             {}

// The handler with a daily and a monthly quota in memory, against the handler with the
// rate limit alone (the baseline): what the quotas add to an allowed request.
func BenchmarkMiddlewareHandler(b *testing.B) {
	for _, tt := range []struct {
		name   string
		quotas []Quota
	}{
		{"rate limit only", nil},
		{"daily and monthly quotas", []Quota{{Name: "daily", Limit: 1 << 62, Period: Day}, {Name: "monthly", Limit: 1 << 62, Period: Month}}},
	} {
		b.Run(tt.name, func(b *testing.B) {
			m, err := New(Config{Limiter: newBenchLimiter(b, 0, nil), Quotas: tt.quotas})
			if err != nil {
				b.Fatal(err)
			}
			h := m.Handler(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
			req := newBenchRequest("203.0.113.9:443", "Accept", "application/fhir+json")
			w := &benchWriter{h: make(http.Header)}
			b.ReportAllocs()
			for b.Loop() {
				clear(w.h)
				h.ServeHTTP(w, req)
			}
		})
	}
}
