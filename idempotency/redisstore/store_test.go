package redisstore_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/phikit/phikit/idempotency"
	"github.com/phikit/phikit/idempotency/idempotencytest"
	"github.com/phikit/phikit/idempotency/redisstore"
	"github.com/phikit/phikit/internal/testserver"
)

// t0 is the fake clock's start. It is years away from the Redis server's clock on
// purpose: records are compared with the caller's time only.
var t0 = time.Date(2031, 5, 6, 7, 8, 9, 123456789, time.UTC)

const (
	lease = 30 * time.Second
	ttl   = 24 * time.Hour
)

func newClient(tb testing.TB, addr string) *redis.Client {
	tb.Helper()
	c := redis.NewClient(&redis.Options{
		Addr:         addr,
		MaxRetries:   -1,
		DialTimeout:  200 * time.Millisecond,
		ReadTimeout:  time.Second,
		WriteTimeout: time.Second,
		PoolSize:     64,
	})
	tb.Cleanup(func() { _ = c.Close() })
	return c
}

var prefixes atomic.Int64

// newStore returns a store on c with a prefix of its own.
func newStore(tb testing.TB, c redis.UniversalClient) *redisstore.Store {
	tb.Helper()
	s, err := redisstore.New(redisstore.Config{Client: c, Prefix: fmt.Sprintf("test%d:", prefixes.Add(1))})
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

func TestNew(t *testing.T) {
	if _, err := redisstore.New(redisstore.Config{}); !errors.Is(err, redisstore.ErrInvalidConfig) {
		t.Errorf("New without Client: %v, want ErrInvalidConfig", err)
	}
	if _, err := redisstore.New(redisstore.Config{Client: redis.NewClient(&redis.Options{})}); err != nil {
		t.Errorf("New with a Client: %v, want nil", err)
	}
}

// step is one call on a store: a Claim (the default), a Complete or a Release, at t0 +
// at, with its expected outcome.
type step struct {
	op       string // "claim", "complete", "release"
	token    string
	fp       string
	response []byte
	at       time.Duration

	acquired  bool
	completed bool
	wantFP    string
	wantResp  []byte
	wantLease time.Duration // LeaseExpires - t0, for an in-progress record
	wantErr   error
}

func run(t *testing.T, s idempotency.Store, key string, steps []step) {
	t.Helper()
	ctx := context.Background()
	for i, st := range steps {
		now := t0.Add(st.at)
		switch st.op {
		case "claim":
			c, err := s.Claim(ctx, key, st.token, []byte(st.fp), now, lease)
			if err != nil {
				t.Fatalf("step %d: Claim: %v", i, err)
			}
			if c.Acquired != st.acquired {
				t.Fatalf("step %d: Claim by %s: got Acquired %v, want %v", i, st.token, c.Acquired, st.acquired)
			}
			if st.acquired {
				continue
			}
			if c.Completed != st.completed || string(c.Fingerprint) != st.wantFP {
				t.Errorf("step %d: Claim: got Completed %v, fingerprint %q; want %v, %q", i, c.Completed, c.Fingerprint, st.completed, st.wantFP)
			}
			if (c.Response == nil) != (st.wantResp == nil) || !bytes.Equal(c.Response, st.wantResp) {
				t.Errorf("step %d: Claim: got Response %q (nil %v), want %q (nil %v)", i, c.Response, c.Response == nil, st.wantResp, st.wantResp == nil)
			}
			var wantLease time.Time
			if !st.completed {
				wantLease = t0.Add(st.wantLease)
			}
			if !c.LeaseExpires.Equal(wantLease) {
				t.Errorf("step %d: Claim: got LeaseExpires %v, want %v", i, c.LeaseExpires, wantLease)
			}
		case "complete":
			if err := s.Complete(ctx, key, st.token, st.response, now, ttl); !errors.Is(err, st.wantErr) {
				t.Fatalf("step %d: Complete by %s: got %v, want %v", i, st.token, err, st.wantErr)
			}
		case "release":
			if err := s.Release(ctx, key, st.token, now); !errors.Is(err, st.wantErr) {
				t.Fatalf("step %d: Release by %s: got %v, want %v", i, st.token, err, st.wantErr)
			}
		default:
			t.Fatalf("step %d: unknown op %q", i, st.op)
		}
	}
}

// steps are the record's life cycles, allowed and refused calls side by side.
var steps = []struct {
	name  string
	steps []step
}{
	{"claim, duplicate, complete, replay", []step{
		{op: "claim", token: "a", fp: "fp-a", acquired: true},
		{op: "claim", token: "b", fp: "fp-a", at: time.Second, wantFP: "fp-a", wantLease: lease},
		{op: "claim", token: "c", fp: "fp-other", at: 2 * time.Second, wantFP: "fp-a", wantLease: lease},
		{op: "complete", token: "a", response: []byte("sealed\x00response"), at: 3 * time.Second},
		{op: "claim", token: "d", fp: "fp-a", at: 4 * time.Second, completed: true, wantFP: "fp-a", wantResp: []byte("sealed\x00response")},
	}},
	{"not replayable (nil) and empty responses differ", []step{
		{op: "claim", token: "a", fp: "fp", acquired: true},
		{op: "complete", token: "a", response: nil},
		{op: "claim", token: "b", fp: "fp", completed: true, wantFP: "fp", wantResp: nil},
	}},
	{"empty response", []step{
		{op: "claim", token: "a", fp: "fp", acquired: true},
		{op: "complete", token: "a", response: []byte{}},
		{op: "claim", token: "b", fp: "fp", completed: true, wantFP: "fp", wantResp: []byte{}},
	}},
	{"a crashed holder's lease expires: the next claim acquires, the old token has lost it", []step{
		{op: "claim", token: "a", fp: "fp", acquired: true},
		{op: "claim", token: "b", fp: "fp", at: lease - time.Nanosecond, wantFP: "fp", wantLease: lease},
		{op: "claim", token: "b", fp: "fp2", at: lease, acquired: true},
		{op: "complete", token: "a", response: []byte("late"), at: lease, wantErr: idempotency.ErrLeaseLost},
		{op: "release", token: "a", at: lease, wantErr: idempotency.ErrLeaseLost},
		{op: "claim", token: "c", fp: "fp3", at: lease + time.Second, wantFP: "fp2", wantLease: 2 * lease},
		{op: "complete", token: "b", response: []byte("b's"), at: lease + time.Second},
		{op: "claim", token: "c", fp: "fp", at: lease + 2*time.Second, completed: true, wantFP: "fp2", wantResp: []byte("b's")},
	}},
	{"complete at the lease's end is too late", []step{
		{op: "claim", token: "a", fp: "fp", acquired: true},
		{op: "complete", token: "a", response: []byte("x"), at: lease, wantErr: idempotency.ErrLeaseLost},
		{op: "release", token: "a", at: lease, wantErr: idempotency.ErrLeaseLost},
		{op: "complete", token: "a", response: []byte("x"), at: lease - time.Nanosecond},
	}},
	{"wrong token", []step{
		{op: "claim", token: "a", fp: "fp", acquired: true},
		{op: "complete", token: "b", response: []byte("x"), wantErr: idempotency.ErrLeaseLost},
		{op: "release", token: "b", wantErr: idempotency.ErrLeaseLost},
		{op: "complete", token: "", response: []byte("x"), wantErr: idempotency.ErrLeaseLost},
		{op: "claim", token: "c", fp: "fp", wantFP: "fp", wantLease: lease},
		{op: "complete", token: "a", response: []byte("a's")},
		{op: "claim", token: "c", fp: "fp", completed: true, wantFP: "fp", wantResp: []byte("a's")},
	}},
	{"no record", []step{
		{op: "complete", token: "a", response: []byte("x"), wantErr: idempotency.ErrLeaseLost},
		{op: "release", token: "a", wantErr: idempotency.ErrLeaseLost},
		{op: "claim", token: "a", fp: "fp", acquired: true},
	}},
	{"release lets the next claim acquire", []step{
		{op: "claim", token: "a", fp: "fp", acquired: true},
		{op: "release", token: "a", at: time.Second},
		{op: "release", token: "a", at: time.Second, wantErr: idempotency.ErrLeaseLost},
		{op: "complete", token: "a", response: []byte("x"), at: time.Second, wantErr: idempotency.ErrLeaseLost},
		{op: "claim", token: "b", fp: "fp2", at: time.Second, acquired: true},
	}},
	{"a completed record is final for its token", []step{
		{op: "claim", token: "a", fp: "fp", acquired: true},
		{op: "complete", token: "a", response: []byte("first")},
		{op: "complete", token: "a", response: []byte("second"), wantErr: idempotency.ErrLeaseLost},
		{op: "release", token: "a", wantErr: idempotency.ErrLeaseLost},
		{op: "claim", token: "b", fp: "fp", completed: true, wantFP: "fp", wantResp: []byte("first")},
	}},
	{"an expired completed record is replaced", []step{
		{op: "claim", token: "a", fp: "fp", acquired: true},
		{op: "complete", token: "a", response: []byte("old")},
		{op: "claim", token: "b", fp: "fp2", at: ttl - time.Nanosecond, completed: true, wantFP: "fp", wantResp: []byte("old")},
		{op: "claim", token: "b", fp: "fp2", at: ttl, acquired: true},
		{op: "claim", token: "c", fp: "fp2", at: ttl + time.Second, wantFP: "fp2", wantLease: ttl + lease},
		{op: "complete", token: "b", response: nil, at: ttl + time.Second},
		{op: "claim", token: "c", fp: "fp2", at: ttl + 2*time.Second, completed: true, wantFP: "fp2", wantResp: nil},
	}},
	{"binary fingerprint", []step{
		{op: "claim", token: "a", fp: "\x00\xff\x00", acquired: true},
		{op: "claim", token: "b", fp: "x", wantFP: "\x00\xff\x00", wantLease: lease},
	}},
}

func TestRedis(t *testing.T) {
	srv := testserver.Redis(t)
	c := newClient(t, srv.Addr)
	t.Run("Conformance", func(t *testing.T) {
		idempotencytest.RunStoreTests(t, func(t *testing.T) idempotency.Store { return newStore(t, c) })
	})
	for _, tc := range steps {
		t.Run(tc.name, func(t *testing.T) {
			run(t, newStore(t, c), "k", tc.steps)
		})
	}
	for _, tc := range []struct {
		name string
		fn   func(*testing.T, *redis.Client)
	}{
		{"ConcurrentClaims", testConcurrentClaims},
		{"KeyPrefixAndExpiry", testKeyPrefixAndExpiry},
		{"PrefixesAreSeparate", testPrefixesAreSeparate},
		{"ScriptReloadedAfterFlush", testScriptReloadedAfterFlush},
		{"Canceled", testCanceled},
		{"CorruptRecord", testCorruptRecord},
		{"InvalidDurations", testInvalidDurations},
	} {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, c) })
	}
}

// testConcurrentClaims: of 50 concurrent Claims of one key, exactly one acquires, and
// every other sees its in-progress record.
func testConcurrentClaims(t *testing.T, c *redis.Client) {
	s := newStore(t, c)
	const n = 50
	var (
		wg       sync.WaitGroup
		acquired atomic.Int64
		winner   atomic.Value
		start    = make(chan struct{})
		claims   = make([]idempotency.Claim, n)
		errs     = make([]error, n)
	)
	for i := range n {
		wg.Go(func() {
			<-start
			fp := fmt.Sprintf("fp-%d", i)
			claims[i], errs[i] = s.Claim(context.Background(), "k", fmt.Sprint("tok-", i), []byte(fp), t0, lease)
			if errs[i] == nil && claims[i].Acquired {
				acquired.Add(1)
				winner.Store(fp)
			}
		})
	}
	close(start)
	wg.Wait()
	if got := acquired.Load(); got != 1 {
		t.Fatalf("got %d acquired of %d concurrent claims, want 1", got, n)
	}
	for i, cl := range claims {
		if errs[i] != nil {
			t.Errorf("claim %d: %v", i, errs[i])
			continue
		}
		if !cl.Acquired && (cl.Completed || string(cl.Fingerprint) != winner.Load() || !cl.LeaseExpires.Equal(t0.Add(lease))) {
			t.Errorf("claim %d: got %+v, want the winner's in-progress record", i, cl)
		}
	}
}

// testKeyPrefixAndExpiry: the record is at Prefix + key, unchanged, and Redis expires it
// the lease (then the ttl) plus ExpiryMargin after the write, whatever the caller's
// clock says.
func testKeyPrefixAndExpiry(t *testing.T, c *redis.Client) {
	ctx := context.Background()
	s, err := redisstore.New(redisstore.Config{Client: c})
	if err != nil {
		t.Fatal(err)
	}
	key := "c2NvcGVkLWFuZC1oYXNoZWQ" + fmt.Sprint(prefixes.Add(1))
	rkey := redisstore.DefaultPrefix + key
	if _, err := s.Claim(ctx, key, "a", []byte("fp"), t0, lease); err != nil {
		t.Fatal(err)
	}
	checkTTL := func(want time.Duration) {
		t.Helper()
		got, err := c.PTTL(ctx, rkey).Result()
		if err != nil {
			t.Fatal(err)
		}
		if got > want || got < want-5*time.Second {
			t.Errorf("PTTL %s: got %v, want about %v", rkey, got, want)
		}
	}
	checkTTL(lease + redisstore.ExpiryMargin)
	if err := s.Complete(ctx, key, "a", []byte("r"), t0, ttl); err != nil {
		t.Fatal(err)
	}
	checkTTL(ttl + redisstore.ExpiryMargin)
	if err := c.Del(ctx, rkey).Err(); err != nil {
		t.Fatal(err)
	}
	if cl, err := s.Claim(ctx, key, "b", []byte("fp2"), t0, lease); err != nil || !cl.Acquired {
		t.Errorf("Claim after the key was deleted: got %+v, %v; want acquired", cl, err)
	}
}

func testPrefixesAreSeparate(t *testing.T, c *redis.Client) {
	ctx := context.Background()
	a, b := newStore(t, c), newStore(t, c)
	for _, s := range []*redisstore.Store{a, b} {
		if cl, err := s.Claim(ctx, "k", "a", []byte("fp"), t0, lease); err != nil || !cl.Acquired {
			t.Errorf("Claim on its own prefix: got %+v, %v; want acquired", cl, err)
		}
	}
	// Same prefix, another Store value: one record.
	same, err := redisstore.New(redisstore.Config{Client: c, Prefix: fmt.Sprintf("test%d:", prefixes.Load())})
	if err != nil {
		t.Fatal(err)
	}
	if cl, err := same.Claim(ctx, "k", "b", []byte("fp"), t0, lease); err != nil || cl.Acquired {
		t.Errorf("Claim on a shared prefix: got %+v, %v; want the record held by the other store", cl, err)
	}
}

// testScriptReloadedAfterFlush: each script is sent again with EVAL when Redis answers
// NOSCRIPT (a restarted or flushed Redis).
func testScriptReloadedAfterFlush(t *testing.T, c *redis.Client) {
	ctx := context.Background()
	s := newStore(t, c)
	flush := func() {
		t.Helper()
		if err := c.ScriptFlush(ctx).Err(); err != nil {
			t.Fatal(err)
		}
	}
	flush()
	if cl, err := s.Claim(ctx, "k", "a", []byte("fp"), t0, lease); err != nil || !cl.Acquired {
		t.Fatalf("Claim after SCRIPT FLUSH: got %+v, %v; want acquired", cl, err)
	}
	flush()
	if err := s.Complete(ctx, "k", "a", []byte("r"), t0, ttl); err != nil {
		t.Fatalf("Complete after SCRIPT FLUSH: %v", err)
	}
	if _, err := s.Claim(ctx, "k2", "a", []byte("fp"), t0, lease); err != nil {
		t.Fatal(err)
	}
	flush()
	if err := s.Release(ctx, "k2", "a", t0); err != nil {
		t.Fatalf("Release after SCRIPT FLUSH: %v", err)
	}
}

// testCanceled: a cancelled context returns its error and writes nothing.
func testCanceled(t *testing.T, c *redis.Client) {
	s := newStore(t, c)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := s.Claim(ctx, "k", "a", []byte("fp"), t0, lease); !errors.Is(err, context.Canceled) {
		t.Errorf("Claim: got %v, want context.Canceled", err)
	}
	if err := s.Complete(ctx, "k", "a", []byte("r"), t0, ttl); !errors.Is(err, context.Canceled) {
		t.Errorf("Complete: got %v, want context.Canceled", err)
	}
	if err := s.Release(ctx, "k", "a", t0); !errors.Is(err, context.Canceled) {
		t.Errorf("Release: got %v, want context.Canceled", err)
	}
	if cl, err := s.Claim(context.Background(), "k", "b", []byte("fp"), t0, lease); err != nil || !cl.Acquired {
		t.Errorf("Claim after the cancelled one: got %+v, %v; want acquired (nothing was written)", cl, err)
	}
	// A deadline that passes during the call.
	ctx, cancel = context.WithTimeout(context.Background(), time.Nanosecond)
	defer cancel()
	<-ctx.Done()
	if _, err := s.Claim(ctx, "k3", "a", []byte("fp"), t0, lease); err == nil {
		t.Error("Claim with an expired deadline: got nil error, want one")
	}
}

// testCorruptRecord: a key that does not hold a record this package wrote is an error,
// never a claim, and the error does not quote it.
func testCorruptRecord(t *testing.T, c *redis.Client) {
	ctx := context.Background()
	s := newStore(t, c)
	prefix := fmt.Sprintf("test%d:", prefixes.Load())
	for _, tc := range []struct {
		name   string
		fields []any
	}{
		{"unknown state", []any{"st", "x", "fp", "fp", "us", "9999999999", "un", "0"}},
		{"no fingerprint", []any{"st", "p", "us", "9999999999", "un", "0"}},
		{"bad nanoseconds", []any{"st", "p", "fp", "fp", "us", "9999999999", "un", "1e9x"}},
	} {
		key := strings.ReplaceAll(tc.name, " ", "-")
		if err := c.HSet(ctx, prefix+key, tc.fields...).Err(); err != nil {
			t.Fatal(err)
		}
		if cl, err := s.Claim(ctx, key, "a", []byte("SECRET-fp"), t0, lease); err == nil || cl.Acquired || strings.Contains(err.Error(), "SECRET") {
			t.Errorf("%s: got %+v, %v; want an error without the record's content", tc.name, cl, err)
		}
	}
	if err := c.Set(ctx, prefix+"string", "x", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if cl, err := s.Claim(ctx, "string", "a", []byte("fp"), t0, lease); err == nil || cl.Acquired {
		t.Errorf("a string key: got %+v, %v; want an error", cl, err)
	}
}

func testInvalidDurations(t *testing.T, c *redis.Client) {
	ctx := context.Background()
	s := newStore(t, c)
	for _, d := range []time.Duration{0, -time.Second} {
		if cl, err := s.Claim(ctx, "k", "a", []byte("fp"), t0, d); err == nil || cl.Acquired {
			t.Errorf("Claim with lease %v: got %+v, %v; want an error", d, cl, err)
		}
	}
	if _, err := s.Claim(ctx, "k", "a", []byte("fp"), t0, lease); err != nil {
		t.Fatal(err)
	}
	for _, d := range []time.Duration{0, -time.Second} {
		if err := s.Complete(ctx, "k", "a", []byte("r"), t0, d); err == nil {
			t.Errorf("Complete with ttl %v: got nil, want an error", d)
		}
	}
	// The longest lease is accepted (its Redis expiry is capped).
	if cl, err := s.Claim(ctx, "long", "a", []byte("fp"), t0, time.Duration(1<<63-1)); err != nil || !cl.Acquired {
		t.Errorf("Claim with the longest lease: got %+v, %v; want acquired", cl, err)
	}
}
