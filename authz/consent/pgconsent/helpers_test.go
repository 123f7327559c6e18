package pgconsent_test

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/phikit/phikit/authz/consent/pgconsent"
)

// newPool returns a pool on url, closed when the test ends. configure, when not nil,
// changes the pool's configuration first.
func newPool(tb testing.TB, url string, configure func(*pgxpool.Config)) *pgxpool.Pool {
	tb.Helper()
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		tb.Fatalf("pgxpool.ParseConfig = %v", err)
	}
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

// newStore returns a store on pool whose table has been created.
func newStore(tb testing.TB, pool *pgxpool.Pool, cfg pgconsent.Config) *pgconsent.Store {
	tb.Helper()
	s, err := pgconsent.New(context.Background(), pool, cfg)
	if err != nil {
		tb.Fatalf("New(%+v) = %v", cfg, err)
	}
	if err := s.CreateSchema(context.Background()); err != nil {
		tb.Fatalf("CreateSchema = %v", err)
	}
	return s
}

// tables names a table per call, so that stores of one server share nothing.
var tables atomic.Int64

func newTable(prefix string) string { return fmt.Sprintf("%s_%d", prefix, tables.Add(1)) }

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

// proxy forwards TCP connections to a target and can freeze: while frozen it forwards
// nothing either way, as a network partition that drops packets would.
type proxy struct {
	ln     net.Listener
	target string

	mu     sync.Mutex
	cond   *sync.Cond
	frozen bool
	closed bool
	conns  []net.Conn
}

// newProxy starts a proxy to target on a free loopback port, stopped when the test ends.
func newProxy(tb testing.TB, target string) *proxy {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	p := &proxy{ln: ln, target: target}
	p.cond = sync.NewCond(&p.mu)
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			up, err := net.Dial("tcp", target)
			if err != nil {
				_ = c.Close()
				continue
			}
			if !p.track(c, up) {
				return
			}
			wg.Go(func() { p.pipe(up, c) })
			wg.Go(func() { p.pipe(c, up) })
		}
	})
	tb.Cleanup(func() {
		p.mu.Lock()
		p.closed = true
		for _, c := range p.conns {
			_ = c.Close()
		}
		p.cond.Broadcast()
		p.mu.Unlock()
		_ = ln.Close()
		wg.Wait()
	})
	return p
}

func (p *proxy) track(conns ...net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		for _, c := range conns {
			_ = c.Close()
		}
		return false
	}
	p.conns = append(p.conns, conns...)
	return true
}

// pipe copies src to dst, holding what it reads while the proxy is frozen.
func (p *proxy) pipe(dst, src net.Conn) {
	defer dst.Close()
	defer src.Close()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			p.mu.Lock()
			for p.frozen && !p.closed {
				p.cond.Wait()
			}
			closed := p.closed
			p.mu.Unlock()
			if closed {
				return
			}
			if _, err := dst.Write(buf[:n]); err != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

func (p *proxy) freeze() { p.set(true) }

// thaw forwards again what was held and what comes next.
func (p *proxy) thaw() { p.set(false) }

func (p *proxy) set(frozen bool) {
	p.mu.Lock()
	p.frozen = frozen
	p.cond.Broadcast()
	p.mu.Unlock()
}

// via returns dbURL with its host and port replaced by the proxy's.
func (p *proxy) via(tb testing.TB, dbURL string) string {
	tb.Helper()
	u, err := url.Parse(dbURL)
	if err != nil {
		tb.Fatal(err)
	}
	u.Host = p.ln.Addr().String()
	return u.String()
}

func itoa(n int) string { return fmt.Sprint(n) }
