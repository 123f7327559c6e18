package ratelimit

import (
	"runtime"
	"strconv"
	"testing"
	"time"

	"golang.org/x/time/rate"
)

// Baseline: x/time/rate on one key, the floor (no key lookup, no sharding).
func BenchmarkXTimeRateAllowOneKey(b *testing.B) {
	l := rate.NewLimiter(rate.Limit(1e9), 1<<30)
	b.ReportAllocs()
	for b.Loop() {
		l.Allow()
	}
}

func BenchmarkAllowOneKey(b *testing.B) {
	l, err := NewLimiter(LimiterConfig{Rate: 1e9, Burst: 1 << 20})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		l.Allow("203.0.113.9", 1)
	}
}

func BenchmarkAllowOneKeyParallel(b *testing.B) {
	l, err := NewLimiter(LimiterConfig{Rate: 1e9, Burst: 1 << 20})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			l.Allow("203.0.113.9", 1)
		}
	})
}

func benchKeys(n int) []string {
	keys := make([]string, n)
	for i := range keys {
		keys[i] = "ip:198.51." + strconv.Itoa(i>>8&0xff) + "." + strconv.Itoa(i&0xff) + "/" + strconv.Itoa(i)
	}
	return keys
}

// 100k distinct keys, all tracked (MaxKeys = 100k): the cost of a real key lookup.
func BenchmarkAllow100kKeys(b *testing.B) {
	keys := benchKeys(100_000)
	l, err := NewLimiter(LimiterConfig{Rate: 1e9, Burst: 1 << 20, Now: time.Now})
	if err != nil {
		b.Fatal(err)
	}
	for _, k := range keys {
		l.Allow(k, 1)
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

func BenchmarkAllow100kKeysParallel(b *testing.B) {
	keys := benchKeys(100_000)
	l, err := NewLimiter(LimiterConfig{Rate: 1e9, Burst: 1 << 20})
	if err != nil {
		b.Fatal(err)
	}
	for _, k := range keys {
		l.Allow(k, 1)
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		i := int(time.Now().UnixNano() % int64(len(keys)))
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
	l, err := NewLimiter(LimiterConfig{Rate: 1e9, Burst: 1 << 20})
	if err != nil {
		b.Fatal(err)
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

func BenchmarkResolveXForwardedFor(b *testing.B) {
	r := newTestResolver(b, "")
	req := newBenchRequest("10.0.0.1:443", "X-Forwarded-For", "1.2.3.4, 203.0.113.9, 10.0.0.3")
	b.ReportAllocs()
	for b.Loop() {
		r.Resolve(req)
	}
}

// The heap each tracked key costs (reported as B/key), not counting the bytes of the key
// string itself, which the caller allocated and the limiter retains.
func BenchmarkMemoryPerKey(b *testing.B) {
	const n = 100_000
	keys := benchKeys(n)
	for b.Loop() {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		l, err := NewLimiter(LimiterConfig{Rate: 1, Burst: 1, MaxKeys: n})
		if err != nil {
			b.Fatal(err)
		}
		for _, k := range keys {
			l.Allow(k, 1)
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/n, "B/key")
		runtime.KeepAlive(l)
	}
}

// The middleware's own cost per request: resolve, key, decide, set the fields.
func BenchmarkMiddlewareCheck(b *testing.B) {
	l, err := NewLimiter(LimiterConfig{Rate: 1e9, Burst: 1 << 20})
	if err != nil {
		b.Fatal(err)
	}
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
