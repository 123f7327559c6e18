package bench

// Rate limiting: phikit's ratelimit.Limiter and middleware side by side with
// golang.org/x/time/rate behind a map (the floor), ulule/limiter v3 (memory store),
// sethvargo/go-limiter (memorystore) and didip/tollbooth v7, on the same pre-generated
// keys. TestRatelimitStrictness records, by running each library, where they differ in
// what a client can do to its own limit.

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/didip/tollbooth/v7"
	tbl "github.com/didip/tollbooth/v7/limiter"
	"github.com/sethvargo/go-limiter/httplimit"
	"github.com/sethvargo/go-limiter/memorystore"
	ulule "github.com/ulule/limiter/v3"
	"github.com/ulule/limiter/v3/drivers/middleware/stdlib"
	ululemem "github.com/ulule/limiter/v3/drivers/store/memory"
	"golang.org/x/time/rate"

	"github.com/phikit/phikit/ratelimit"
)

// The generous limit every library gets in the benchmarks: 1e9 decisions a second per
// key, so nothing is refused and the allow path is what is timed. The burst is large
// (about a second's worth) because the limiters read the clock before taking their lock:
// under RunParallel on a loaded machine a goroutine preempted between the two decides
// with a timestamp older than another goroutine's decision on the same key, and with a
// burst of 2^20 (1 ms at this rate) phikit's GCRA refused a few such late arrivals.
const (
	rlRate  = 1e9
	rlBurst = 1 << 30
	// sethvargo's memorystore refills Tokens once per Interval; 2^40 tokens per 2^40 ns
	// (about 18 minutes) is 1e9/s and is never used up within a run.
	rlSethTokens = 1 << 40
)

// rlLimiter is one library's per-key decision, as the benchmarks call it.
type rlLimiter struct {
	allow func(key string) bool
	// tracked reports whether the library holds state for key (a probe that does not
	// spend); nil when the library offers no such probe.
	tracked func(key string) bool
	// size returns the number of keys held; nil when the library does not say.
	size func() int
}

type rlLib struct {
	name string
	// build returns the library configured for the rate (per second) and burst, with
	// its in-memory store and its defaults otherwise.
	build func(tb testing.TB, perSecond float64, burst int) rlLimiter
}

// xtimeMap is the floor: x/time/rate limiters in a map behind one mutex, created on
// first use and never evicted.
type xtimeMap struct {
	mu    sync.Mutex
	m     map[string]*rate.Limiter
	limit rate.Limit
	burst int
}

func (x *xtimeMap) allow(key string) bool {
	x.mu.Lock()
	l := x.m[key]
	if l == nil {
		l = rate.NewLimiter(x.limit, x.burst)
		x.m[key] = l
	}
	x.mu.Unlock()
	return l.Allow()
}

func newPhikitLimiter(tb testing.TB, perSecond float64, burst, maxKeys int) *ratelimit.Limiter {
	tb.Helper()
	l, err := ratelimit.NewLimiter(ratelimit.LimiterConfig{Rate: perSecond, Burst: burst, MaxKeys: maxKeys})
	if err != nil {
		tb.Fatal(err)
	}
	return l
}

func phikitLib(name string, maxKeys int) rlLib {
	return rlLib{name, func(tb testing.TB, perSecond float64, burst int) rlLimiter {
		l := newPhikitLimiter(tb, perSecond, burst, maxKeys)
		return rlLimiter{
			allow: func(key string) bool { return l.Allow(key, 1).Allowed },
			// A cost of zero only reports: a tracked key that spent has less than a burst.
			tracked: func(key string) bool { return l.Allow(key, 0).Remaining < burst },
			size:    l.Len,
		}
	}}
}

// ululeRate expresses perSecond as a fixed window: a second, or an hour when that still
// gives a whole number (so that a slow test rate is one window long enough to observe).
func ululeRate(perSecond float64) ulule.Rate {
	if perSecond >= 1 {
		return ulule.Rate{Period: time.Second, Limit: int64(perSecond)}
	}
	return ulule.Rate{Period: time.Hour, Limit: int64(perSecond * 3600)}
}

// sethConfig expresses perSecond and burst in memorystore's terms: Tokens per Interval.
func sethConfig(perSecond float64, burst int) *memorystore.Config {
	if perSecond >= rlRate {
		return &memorystore.Config{Tokens: rlSethTokens, Interval: time.Duration(rlSethTokens)}
	}
	return &memorystore.Config{Tokens: uint64(burst), Interval: time.Duration(float64(burst) / perSecond * float64(time.Second))}
}

func newSethStore(tb testing.TB, perSecond float64, burst int) interface {
	Take(context.Context, string) (uint64, uint64, uint64, bool, error)
	Get(context.Context, string) (uint64, uint64, error)
} {
	tb.Helper()
	s, err := memorystore.New(sethConfig(perSecond, burst))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = s.Close(context.Background()) })
	return s
}

// newTollbooth is tollbooth.NewLimiter (which sets the burst to max(1, rate)) with the
// burst set to the one asked for.
func newTollbooth(perSecond float64, burst int) *tbl.Limiter {
	return tollbooth.NewLimiter(perSecond, nil).SetBurst(burst)
}

var rlLibs = []rlLib{
	{"xtime-map", func(_ testing.TB, perSecond float64, burst int) rlLimiter {
		x := &xtimeMap{m: map[string]*rate.Limiter{}, limit: rate.Limit(perSecond), burst: burst}
		return rlLimiter{
			allow: x.allow,
			tracked: func(key string) bool {
				x.mu.Lock()
				defer x.mu.Unlock()
				return x.m[key] != nil
			},
			size: func() int {
				x.mu.Lock()
				defer x.mu.Unlock()
				return len(x.m)
			},
		}
	}},
	phikitLib("phikit", 0),
	{"ulule", func(_ testing.TB, perSecond float64, _ int) rlLimiter {
		r := ululeRate(perSecond)
		if perSecond >= rlRate {
			// An hour-long window keeps keys observable (Peek) for the whole run.
			r = ulule.Rate{Period: time.Hour, Limit: int64(perSecond) * 3600}
		}
		l := ulule.New(ululemem.NewStore(), r)
		ctx := context.Background()
		return rlLimiter{
			allow: func(key string) bool {
				c, err := l.Get(ctx, key)
				return err == nil && !c.Reached
			},
			tracked: func(key string) bool {
				c, err := l.Peek(ctx, key)
				return err == nil && c.Remaining < c.Limit
			},
		}
	}},
	{"sethvargo", func(tb testing.TB, perSecond float64, burst int) rlLimiter {
		s := newSethStore(tb, perSecond, burst)
		ctx := context.Background()
		return rlLimiter{
			allow: func(key string) bool {
				_, _, _, ok, err := s.Take(ctx, key)
				return err == nil && ok
			},
			tracked: func(key string) bool {
				tokens, _, err := s.Get(ctx, key) // (0, 0) for a key it does not hold
				return err == nil && tokens != 0
			},
		}
	}},
	{"tollbooth", func(_ testing.TB, perSecond float64, burst int) rlLimiter {
		l := newTollbooth(perSecond, burst)
		return rlLimiter{
			allow:   func(key string) bool { return !l.LimitReached(key) },
			tracked: func(key string) bool { return l.Tokens(key) > 0 }, // 0 for a key it does not hold
		}
	}},
}

// rlKeys returns n distinct keys shaped like phikit's ("ip:" and an address), built
// before any timing.
func rlKeys(n int) []string {
	keys := make([]string, n)
	for i := range keys {
		keys[i] = "ip:10." + strconv.Itoa(i>>16&0xff) + "." + strconv.Itoa(i>>8&0xff) + "." + strconv.Itoa(i&0xff)
	}
	return keys
}

// warm spends one unit on every key and checks that the library holds them.
func warm(tb testing.TB, name string, l rlLimiter, keys []string, wantSize int) {
	tb.Helper()
	for _, k := range keys {
		if !l.allow(k) {
			tb.Fatalf("%s: warm-up refused a key", name)
		}
	}
	checkHeld(tb, name, l, keys, wantSize)
}

// checkHeld fails tb unless the library holds wantSize keys, where it reports its size,
// or else holds every 997th key of keys.
func checkHeld(tb testing.TB, name string, l rlLimiter, keys []string, wantSize int) {
	tb.Helper()
	if l.size != nil {
		if got := l.size(); got != wantSize {
			tb.Fatalf("%s: tracks %d keys, want %d", name, got, wantSize)
		}
		return
	}
	for i := 0; i < len(keys); i += 997 {
		if !l.tracked(keys[i]) {
			tb.Fatalf("%s: key %d of %d is not tracked", name, i, len(keys))
		}
	}
}

// BenchmarkRatelimit times one decision (allow, spend one unit) per library on the same
// keys. Keys are generated, and every key given one decision, before the timed loop;
// the loop cycles through them, so with n keys each is seen again every n iterations.
func BenchmarkRatelimit(b *testing.B) {
	dists := []struct {
		name string
		n    int
	}{{"one-key", 1}, {"1k-keys", 1_000}, {"1M-keys", 1_000_000}}
	keys := rlKeys(1_000_000)
	libs := append(rlLibs[:2:2], phikitLib("phikit-maxkeys-2M", 2_000_000))
	libs = append(libs, rlLibs[2:]...)
	for _, d := range dists {
		for _, lib := range libs {
			if lib.name == "phikit-maxkeys-2M" && d.n < 1_000_000 {
				continue // same as phikit below the default cap of 100k
			}
			b.Run(d.name+"/"+lib.name, func(b *testing.B) {
				keys := keys[:d.n]
				l := lib.build(b, rlRate, rlBurst)
				warm(b, lib.name, l, keys, min(d.n, capOf(lib.name)))
				b.ReportAllocs()
				i := 0
				for b.Loop() {
					if !l.allow(keys[i]) {
						b.Fatal("refused")
					}
					i++
					if i == len(keys) {
						i = 0
					}
				}
			})
		}
	}
	// One hot key over its limit (1 per hour, burst 1): the cost of a refusal.
	for _, lib := range rlLibs {
		b.Run("one-key-refusing/"+lib.name, func(b *testing.B) {
			l := lib.build(b, 1.0/3600, 1)
			l.allow(keys[0])
			b.ReportAllocs()
			for b.Loop() {
				if l.allow(keys[0]) {
					b.Fatal("allowed")
				}
			}
		})
	}
	// All goroutines (GOMAXPROCS) on the 1M keys, each from its own offset.
	for _, lib := range libs {
		// Built and warmed once, with the outer b: b.Run calls the function once per
		// round and runs the sub-benchmark's cleanups (sethvargo's Close) after each.
		var l *rlLimiter
		outer := b
		b.Run("parallel-1M-keys/"+lib.name, func(b *testing.B) {
			if l == nil {
				built := lib.build(outer, rlRate, rlBurst)
				warm(b, lib.name, built, keys, min(len(keys), capOf(lib.name)))
				l = &built
			}
			var refused, seq atomic.Int64
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				i := int(seq.Add(1)*104_729) % len(keys)
				for pb.Next() {
					if !l.allow(keys[i]) {
						refused.Add(1)
					}
					i++
					if i == len(keys) {
						i = 0
					}
				}
			})
			if n := refused.Load(); n != 0 {
				b.Fatalf("%d refused", n)
			}
		})
	}
}

// capOf is the number of keys a library keeps: phikit's default cap, or all of them.
func capOf(name string) int {
	if name == "phikit" {
		return ratelimit.DefaultMaxKeys
	}
	return 1 << 30
}

// BenchmarkRatelimitMemory reports the heap each tracked key costs (B/key): the heap
// after one decision on each of 100k fresh keys, less the heap before, over 100k. The
// key strings themselves were allocated beforehand and are not counted, except where a
// library copies them (ulule stores "limiter:"+key).
func BenchmarkRatelimitMemory(b *testing.B) {
	const n = 100_000
	keys := rlKeys(n)
	libs := append(rlLibs[:1:1], phikitLib("phikit-maxkeys-200k", 2*n))
	libs = append(libs, rlLibs[2:]...)
	for _, lib := range libs {
		b.Run(lib.name, func(b *testing.B) {
			for b.Loop() {
				var before, after runtime.MemStats
				// Twice: a store with a finalizer (ulule's) is freed by the cycle after
				// the one that finalizes it.
				runtime.GC()
				runtime.GC()
				runtime.ReadMemStats(&before)
				l := lib.build(b, rlRate, rlBurst)
				for _, k := range keys {
					l.allow(k)
				}
				runtime.GC()
				runtime.ReadMemStats(&after)
				checkHeld(b, lib.name, l, keys, n)
				b.ReportMetric(float64(int64(after.HeapAlloc)-int64(before.HeapAlloc))/n, "B/key")
				runtime.KeepAlive(l)
			}
		})
	}
}

// ---- middleware ----------------------------------------------------------------------

// rlMiddleware is one library's net/http middleware.
type rlMiddleware struct {
	name string
	// build wraps next with the library's middleware at perSecond and burst, keyed by
	// client address in its default way; forwarded turns on its option for reading
	// X-Forwarded-For (phikit: a Resolver trusting 10.0.0.0/8; ulule:
	// WithTrustForwardHeader(true); sethvargo: IPKeyFunc("X-Forwarded-For"), as its
	// docs show; tollbooth: its default already reads it).
	build func(tb testing.TB, perSecond float64, burst int, forwarded bool, next http.Handler) http.Handler
}

var rlMiddlewares = []rlMiddleware{
	{"xtime-map", func(_ testing.TB, perSecond float64, burst int, _ bool, next http.Handler) http.Handler {
		x := &xtimeMap{m: map[string]*rate.Limiter{}, limit: rate.Limit(perSecond), burst: burst}
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			host, _, _ := strings.Cut(r.RemoteAddr, ":") // IPv4 only: a floor, not a product
			if !x.allow(host) {
				http.Error(w, "Too Many Requests", http.StatusTooManyRequests)
				return
			}
			next.ServeHTTP(w, r)
		})
	}},
	{"phikit", func(tb testing.TB, perSecond float64, burst int, forwarded bool, next http.Handler) http.Handler {
		cfg := ratelimit.Config{Limiter: newPhikitLimiter(tb, perSecond, burst, 0)}
		if forwarded {
			res, err := ratelimit.NewResolver(ratelimit.ResolverConfig{
				TrustedProxies: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")},
			})
			if err != nil {
				tb.Fatal(err)
			}
			cfg.Resolver = res
		}
		m, err := ratelimit.New(cfg)
		if err != nil {
			tb.Fatal(err)
		}
		return m.Handler(next)
	}},
	{"ulule", func(_ testing.TB, perSecond float64, _ int, forwarded bool, next http.Handler) http.Handler {
		l := ulule.New(ululemem.NewStore(), ululeRate(perSecond), ulule.WithTrustForwardHeader(forwarded))
		return stdlib.NewMiddleware(l).Handler(next)
	}},
	{"sethvargo", func(tb testing.TB, perSecond float64, burst int, forwarded bool, next http.Handler) http.Handler {
		s, err := memorystore.New(sethConfig(perSecond, burst))
		if err != nil {
			tb.Fatal(err)
		}
		tb.Cleanup(func() { _ = s.Close(context.Background()) })
		kf := httplimit.IPKeyFunc()
		if forwarded {
			kf = httplimit.IPKeyFunc("X-Forwarded-For")
		}
		m, err := httplimit.NewMiddleware(s, kf)
		if err != nil {
			tb.Fatal(err)
		}
		return m.Handle(next)
	}},
	{"tollbooth", func(_ testing.TB, perSecond float64, burst int, _ bool, next http.Handler) http.Handler {
		return tollbooth.LimitHandler(newTollbooth(perSecond, burst), next)
	}},
}

var noContent = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) })

// rlRequest is the request every middleware sees: a direct client, no forwarded header.
func rlRequest() *http.Request {
	r := httptest.NewRequest(http.MethodGet, "/fhir/Patient/pat-1", nil)
	r.RemoteAddr = "203.0.113.9:41000"
	return r
}

// BenchmarkRatelimitMiddleware times one request through each middleware in front of
// a handler that answers 204: the same request (one client), a reused ResponseWriter
// whose headers are cleared each time. "allowed" never refuses; "refusing" is 1 per
// hour with a burst of 1, after the one allowed request, so every timed request gets
// the library's 429.
func BenchmarkRatelimitMiddleware(b *testing.B) {
	for _, c := range []struct {
		name      string
		perSecond float64
		burst     int
		want      int
	}{{"allowed", rlRate, rlBurst, http.StatusNoContent}, {"refusing", 1.0 / 3600, 1, http.StatusTooManyRequests}} {
		for _, m := range rlMiddlewares {
			b.Run(c.name+"/"+m.name, func(b *testing.B) {
				h := m.build(b, c.perSecond, c.burst, false, noContent)
				r := rlRequest()
				w := &discard{h: http.Header{}}
				h.ServeHTTP(w, r)
				if w.code != http.StatusNoContent {
					b.Fatalf("first request: status %d, want 204", w.code)
				}
				b.ReportAllocs()
				for b.Loop() {
					w.reset()
					h.ServeHTTP(w, r)
					if w.code != c.want {
						b.Fatalf("status %d, want %d", w.code, c.want)
					}
				}
			})
		}
	}
}

// ---- strictness ----------------------------------------------------------------------

// rlVerdicts maps a middleware name to whether a row's condition held for it.
type rlVerdicts map[string]bool

// secondAllowed builds m at 1 per hour with a burst of 1, sends first (which must be
// allowed) and then second, and reports whether second was allowed too: a fresh limit.
func secondAllowed(t *testing.T, m rlMiddleware, forwarded bool, first, second *http.Request) bool {
	t.Helper()
	h := m.build(t, 1.0/3600, 1, forwarded, noContent)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, first)
	if rec.Code != http.StatusNoContent {
		t.Fatalf("%s: first request: status %d, want 204", m.name, rec.Code)
	}
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, second)
	return rec.Code == http.StatusNoContent
}

// req builds GET path from peer with the given header pairs.
func req(peer, path string, headers ...string) *http.Request {
	r := httptest.NewRequest(http.MethodGet, path, nil)
	r.RemoteAddr = peer
	for i := 0; i+1 < len(headers); i += 2 {
		r.Header.Add(headers[i], headers[i+1])
	}
	return r
}

// refused returns the 429 response of m (1 per hour, burst 1) to a client's second
// request, and the first, allowed, response.
func refused(t *testing.T, m rlMiddleware, r func() *http.Request) (allowed, denied *httptest.ResponseRecorder) {
	t.Helper()
	h := m.build(t, 1.0/3600, 1, false, noContent)
	allowed, denied = httptest.NewRecorder(), httptest.NewRecorder()
	h.ServeHTTP(allowed, r())
	h.ServeHTTP(denied, r())
	if allowed.Code != http.StatusNoContent || denied.Code != http.StatusTooManyRequests {
		t.Fatalf("%s: statuses %d, %d, want 204, 429", m.name, allowed.Code, denied.Code)
	}
	return allowed, denied
}

// TestRatelimitStrictness runs each middleware (phikit's and the peers', in their
// default configuration unless the row says otherwise, 1 request per hour with a burst
// of 1) against one behaviour per row, and asserts what each one does. Run with -v for
// the table.
func TestRatelimitStrictness(t *testing.T) {
	const client = "203.0.113.9:41000"
	const proxy = "10.0.0.7:52000" // a load balancer in 10.0.0.0/8
	mws := rlMiddlewares[1:]       // the floor has no behaviour to compare
	fresh := func(forwarded bool, first, second func() *http.Request) func(*testing.T, rlMiddleware) bool {
		return func(t *testing.T, m rlMiddleware) bool { return secondAllowed(t, m, forwarded, first(), second()) }
	}
	rows := []struct {
		name  string
		check func(*testing.T, rlMiddleware) bool
		want  rlVerdicts
	}{
		{
			"same client, same request twice: second allowed (must be no for all)",
			fresh(false, func() *http.Request { return req(client, "/fhir/Patient/1") },
				func() *http.Request { return req(client, "/fhir/Patient/1") }),
			rlVerdicts{"phikit": false, "ulule": false, "sethvargo": false, "tollbooth": false},
		},
		{
			"direct client changes X-Forwarded-For: fresh limit (default config)",
			fresh(false, func() *http.Request { return req(client, "/fhir/Patient/1", "X-Forwarded-For", "198.51.100.1") },
				func() *http.Request { return req(client, "/fhir/Patient/1", "X-Forwarded-For", "198.51.100.2") }),
			rlVerdicts{"phikit": false, "ulule": false, "sethvargo": false, "tollbooth": true},
		},
		{
			"direct client changes X-Real-IP: fresh limit (default config)",
			fresh(false, func() *http.Request { return req(client, "/fhir/Patient/1", "X-Real-IP", "198.51.100.1") },
				func() *http.Request { return req(client, "/fhir/Patient/1", "X-Real-IP", "198.51.100.2") }),
			rlVerdicts{"phikit": false, "ulule": false, "sethvargo": false, "tollbooth": true},
		},
		{
			"direct client (not a proxy) changes X-Forwarded-For: fresh limit (forwarded option on)",
			fresh(true, func() *http.Request { return req(client, "/fhir/Patient/1", "X-Forwarded-For", "198.51.100.1") },
				func() *http.Request { return req(client, "/fhir/Patient/1", "X-Forwarded-For", "198.51.100.2") }),
			rlVerdicts{"phikit": false, "ulule": true, "sethvargo": true, "tollbooth": true},
		},
		{
			"via a proxy that appends the real client, client changes the leftmost hop: fresh limit (forwarded option on)",
			fresh(true, func() *http.Request {
				return req(proxy, "/fhir/Patient/1", "X-Forwarded-For", "198.51.100.1, 203.0.113.9")
			}, func() *http.Request {
				return req(proxy, "/fhir/Patient/1", "X-Forwarded-For", "198.51.100.2, 203.0.113.9")
			}),
			rlVerdicts{"phikit": false, "ulule": true, "sethvargo": true, "tollbooth": false},
		},
		{
			"IPv6 client changes address within its /64: fresh limit",
			fresh(false, func() *http.Request { return req("[2001:db8:1:2::1]:41000", "/fhir/Patient/1") },
				func() *http.Request { return req("[2001:db8:1:2::2]:41000", "/fhir/Patient/1") }),
			rlVerdicts{"phikit": false, "ulule": true, "sethvargo": true, "tollbooth": false},
		},
		{
			"same client requests another path: fresh limit",
			fresh(false, func() *http.Request { return req(client, "/fhir/Patient/1") },
				func() *http.Request { return req(client, "/fhir/Patient/2") }),
			rlVerdicts{"phikit": false, "ulule": false, "sethvargo": false, "tollbooth": true},
		},
		{
			"sends RateLimit and RateLimit-Policy (draft-ietf-httpapi-ratelimit-headers-10)",
			func(t *testing.T, m rlMiddleware) bool {
				ok, _ := refused(t, m, func() *http.Request { return req(client, "/") })
				var names []string
				for k := range ok.Header() {
					if strings.Contains(strings.ToLower(k), "rate") {
						names = append(names, k)
					}
				}
				slices.Sort(names)
				t.Logf("%s: rate-limit fields on a 204: %v", m.name, names)
				return ok.Header().Get("RateLimit") != "" && ok.Header().Get("RateLimit-Policy") != ""
			},
			rlVerdicts{"phikit": true, "ulule": false, "sethvargo": false, "tollbooth": false},
		},
		{
			"429 has a valid Retry-After (RFC 9110: delay-seconds or IMF-fixdate)",
			func(t *testing.T, m rlMiddleware) bool {
				_, no := refused(t, m, func() *http.Request { return req(client, "/") })
				v := no.Header().Get("Retry-After")
				t.Logf("%s: Retry-After %q", m.name, v)
				if n, err := strconv.Atoi(v); err == nil {
					return n >= 0
				}
				_, err := http.ParseTime(v)
				return v != "" && err == nil
			},
			rlVerdicts{"phikit": true, "ulule": false, "sethvargo": false, "tollbooth": false},
		},
		{
			"429 body is application/problem+json (RFC 9457)",
			func(t *testing.T, m rlMiddleware) bool {
				_, no := refused(t, m, func() *http.Request { return req(client, "/") })
				return strings.HasPrefix(no.Header().Get("Content-Type"), "application/problem+json")
			},
			rlVerdicts{"phikit": true, "ulule": false, "sethvargo": false, "tollbooth": false},
		},
		{
			"a response header echoes the client address or X-Forwarded-For",
			func(t *testing.T, m rlMiddleware) bool {
				ok, no := refused(t, m, func() *http.Request {
					return req(client, "/", "X-Forwarded-For", "198.51.100.1")
				})
				var echoed []string
				for _, h := range []http.Header{ok.Header(), no.Header()} {
					for name, vs := range h {
						for _, v := range vs {
							if (strings.Contains(v, "203.0.113.9") || strings.Contains(v, "198.51.100.1")) && !slices.Contains(echoed, name) {
								echoed = append(echoed, name)
							}
						}
					}
				}
				slices.Sort(echoed)
				t.Logf("%s: fields echoing an address: %v", m.name, echoed)
				return len(echoed) > 0
			},
			rlVerdicts{"phikit": false, "ulule": false, "sethvargo": false, "tollbooth": true},
		},
	}

	var table strings.Builder
	fmt.Fprintf(&table, "\n%-104s", "behaviour")
	for _, m := range mws {
		fmt.Fprintf(&table, " %-10s", m.name)
	}
	for _, row := range rows {
		fmt.Fprintf(&table, "\n%-104s", row.name)
		for _, m := range mws {
			got := row.check(t, m)
			fmt.Fprintf(&table, " %-10s", map[bool]string{true: "yes", false: "no"}[got])
			if want := row.want[m.name]; got != want {
				t.Errorf("%s: %s: got %v, want %v", m.name, row.name, got, want)
			}
		}
	}
	t.Log(table.String())
}

// TestRatelimitKeyBound inserts twice phikit's default key cap (200,000 distinct keys,
// one unit each, at 1 per hour with a burst of 5) into each library's in-memory store
// with its defaults, then asks whether the first key is still held. phikit must hold
// no more than DefaultMaxKeys; the peers have no cap and still hold it.
func TestRatelimitKeyBound(t *testing.T) {
	if testing.Short() {
		t.Skip("inserts 200,000 keys into each library")
	}
	keys := rlKeys(2 * ratelimit.DefaultMaxKeys)
	want := rlVerdicts{"xtime-map": true, "phikit": false, "ulule": true, "sethvargo": true, "tollbooth": true}
	for _, lib := range rlLibs {
		t.Run(lib.name, func(t *testing.T) {
			l := lib.build(t, 1.0/3600, 5)
			for _, k := range keys {
				if !l.allow(k) {
					t.Fatal("a fresh key was refused")
				}
			}
			if got := l.tracked(keys[0]); got != want[lib.name] {
				t.Errorf("first of %d keys still held: got %v, want %v", len(keys), got, want[lib.name])
			}
			if !l.tracked(keys[len(keys)-1]) {
				t.Error("last key not held")
			}
			if lib.name == "phikit" {
				if got := l.size(); got > ratelimit.DefaultMaxKeys {
					t.Errorf("phikit holds %d keys, want at most %d", got, ratelimit.DefaultMaxKeys)
				}
			}
		})
	}
}

// TestRatelimitKeyed proves each limiter as the benchmarks use it is keyed: at 1 per
// hour with a burst of 1, a second decision on a key is refused and another key is
// allowed.
func TestRatelimitKeyed(t *testing.T) {
	libs := append(rlLibs[:2:2], phikitLib("phikit-maxkeys-2M", 2_000_000))
	libs = append(libs, rlLibs[2:]...)
	for _, lib := range libs {
		t.Run(lib.name, func(t *testing.T) {
			l := lib.build(t, 1.0/3600, 1)
			for i, c := range []struct {
				key  string
				want bool
			}{{"ip:192.0.2.1", true}, {"ip:192.0.2.1", false}, {"ip:192.0.2.2", true}, {"ip:192.0.2.2", false}} {
				if got := l.allow(c.key); got != c.want {
					t.Errorf("decision %d: got allowed %v, want %v", i, got, c.want)
				}
			}
		})
		t.Run("probe/"+lib.name, func(t *testing.T) {
			l := lib.build(t, 1.0/3600, 5)
			l.allow("ip:192.0.2.1")
			if got := l.tracked("ip:192.0.2.1"); !got {
				t.Errorf("tracked(spent key): got %v, want true", got)
			}
			if got := l.tracked("ip:192.0.2.3"); got {
				t.Errorf("tracked(unseen key): got %v, want false", got)
			}
		})
	}
	// And at the benchmarks' rate nothing is refused, with every key tracked.
	for _, lib := range libs {
		t.Run("bench-rate/"+lib.name, func(t *testing.T) {
			keys := rlKeys(5_000)
			l := lib.build(t, rlRate, rlBurst)
			warm(t, lib.name, l, keys, len(keys))
			for _, k := range keys {
				if !l.allow(k) {
					t.Fatal("refused at the benchmark rate")
				}
			}
		})
	}
}

// TestRatelimitMiddlewaresAgree proves the middleware benchmark's setup: each
// middleware allows the benchmark request at the benchmark rate, and refuses the second
// one at 1 per hour with a burst of 1.
func TestRatelimitMiddlewaresAgree(t *testing.T) {
	for _, m := range rlMiddlewares {
		t.Run(m.name, func(t *testing.T) {
			h := m.build(t, rlRate, rlBurst, false, noContent)
			for range 3 {
				w := &discard{h: http.Header{}}
				h.ServeHTTP(w, rlRequest())
				if w.code != http.StatusNoContent {
					t.Fatalf("status %d, want 204", w.code)
				}
			}
			refused(t, m, rlRequest)
		})
	}
}

// TestSethvargoRefill records why the benchmarks give sethvargo's memorystore 2^40
// tokens per 2^40 ns rather than 1e9 per second: at each interval its bucket is set to
// (intervals elapsed) × Interval/Tokens tokens (in nanoseconds over tokens), which is
// a full refill only while Tokens² ≤ Interval in nanoseconds. At 100,000 tokens per
// 10 ms, after the bucket is drained and several intervals pass, it has a few hundred
// tokens, not 100,000. The store reads the wall clock and takes no clock to inject, so
// this test waits (50 ms) for real.
func TestSethvargoRefill(t *testing.T) {
	const tokens = 100_000
	s, err := memorystore.New(&memorystore.Config{Tokens: tokens, Interval: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close(context.Background()) })
	ctx := context.Background()
	take := func() int { // takes until refused, at most 2×tokens
		n := 0
		for ; n < 2*tokens; n++ {
			if _, _, _, ok, err := s.Take(ctx, "k"); err != nil || !ok {
				break
			}
		}
		return n
	}
	take()
	time.Sleep(50 * time.Millisecond) // five intervals: a token bucket is full again
	got := take()
	t.Logf("sethvargo: %d of %d tokens back after five intervals", got, tokens)
	if got >= tokens/2 {
		t.Errorf("tokens back after five intervals: got %d, want fewer than %d (the short refill)", got, tokens/2)
	}

	// phikit at the same rate (1e7/s, burst 100,000) on a fake clock: the whole burst.
	l := newPhikitLimiter(t, tokens/0.010, tokens, 0)
	t0 := time.Unix(1_800_000_000, 0)
	for l.AllowAt("k", 1, t0).Allowed {
	}
	n := 0
	for t1 := t0.Add(50 * time.Millisecond); l.AllowAt("k", 1, t1).Allowed; n++ {
	}
	if n != tokens {
		t.Errorf("phikit: tokens back after five intervals: got %d, want %d", n, tokens)
	}
}
