package pgstore_test

import (
	"context"
	"fmt"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

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
