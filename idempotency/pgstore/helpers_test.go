package pgstore_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/phikit/phikit/idempotency"
	"github.com/phikit/phikit/idempotency/pgstore"
)

// t0 is the fake clock's start, years away from the database server's clock: records
// are compared with the caller's time only.
var t0 = time.Date(2031, 5, 6, 7, 8, 9, 123456789, time.UTC)

const (
	lease = 30 * time.Second
	ttl   = 24 * time.Hour
)

// newPool returns a pool on url, closed when the test ends. configure, when not nil,
// changes the pool's configuration first.
func newPool(tb testing.TB, url string, configure func(*pgxpool.Config)) *pgxpool.Pool {
	tb.Helper()
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		tb.Fatalf("pgxpool.ParseConfig = %v", err)
	}
	cfg.MaxConns = 64
	if configure != nil {
		configure(cfg)
	}
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		tb.Fatalf("pgxpool.NewWithConfig = %v", err)
	}
	tb.Cleanup(pool.Close)
	return pool
}

// tables names a table per call, so that stores of one server share nothing.
var tables atomic.Int64

func newTable() string { return fmt.Sprintf("idem_%d", tables.Add(1)) }

// newStore returns a store on pool whose table has been created; an empty table is a
// new one.
func newStore(tb testing.TB, pool *pgxpool.Pool, table string) *pgstore.Store {
	tb.Helper()
	if table == "" {
		table = newTable()
	}
	s, err := pgstore.New(pgstore.Config{Pool: pool, Table: table})
	if err != nil {
		tb.Fatalf("New = %v", err)
	}
	if err := s.CreateSchema(context.Background()); err != nil {
		tb.Fatalf("CreateSchema = %v", err)
	}
	return s
}

// queryCounter is a pgx.QueryTracer that counts statements (Query, QueryRow, Exec).
type queryCounter struct{ n atomic.Int64 }

func (c *queryCounter) TraceQueryStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceQueryStartData) context.Context {
	c.n.Add(1)
	return ctx
}
func (c *queryCounter) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

// writeCounter counts the writes on the pool's connections: each is a round trip, as
// pgx sends what a statement needs in one write and then waits for the answer.
type writeCounter struct{ n atomic.Int64 }

func (c *writeCounter) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	conn, err := (&net.Dialer{}).DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	return &countingConn{Conn: conn, n: &c.n}, nil
}

type countingConn struct {
	net.Conn
	n *atomic.Int64
}

func (c *countingConn) Write(b []byte) (int, error) {
	c.n.Add(1)
	return c.Conn.Write(b)
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
