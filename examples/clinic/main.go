// Command clinic is phikit's example service: a small FHIR-style API over synthetic,
// in-memory patients and observations, wrapped in phikit's middleware chain.
//
//	go run ./examples/clinic -demo                       # a scripted tour; exits non-zero on a surprise
//	go run ./examples/clinic -addr 127.0.0.1:8080 -audit-file audit.jsonl
//
// Routes: GET /fhir/Patient/{id}, PUT /fhir/Patient/{id}, GET /fhir/Observation?patient={id},
// POST /fhir/Observation, GET /healthz. The patients are pat-1, pat-2 and pat-3. Every route
// but /healthz needs a bearer token; PUT also needs multi-factor authentication within the
// last 15 minutes (step-up). Without -issuer the clinic runs a development issuer, serves its
// key set at /dev-issuer/jwks.json, and prints tokens for a clinician, a patient app, a
// billing clerk and a lab service.
//
// Requests are rate limited per client address (200 at once, 100 a second), then per user
// (-rate-burst at once, -rate-per-second sustained; a search costs 2), in memory or, with
// -redis, in Redis for every replica, and FHIR requests in flight are bounded by an
// adaptive concurrency limit (10 to 200, shed with 503 when latency climbs). Every FHIR
// route is authorized (package authz): SMART v2 scopes, the patient in context,
// Practitioner/prac-1's care team (pat-1, pat-2), a consent denying research on pat-3,
// purposes of use taken from the tokens (the header may only pick among them),
// identifiers withheld for billing, and
// POST /break-glass for a clinician with the emergency role and recent MFA. Bodies of
// POST /fhir/Observation and PUT /fhir/Patient/{id} go through the strict validate gate.
// POST /fhir/Observation needs an Idempotency-Key (a retry gets the first response, marked
// Idempotent-Replayed; the same key with another body 422); GET /fhir/Patient/{id}
// returns ETag: W/"<versionId>", and PUT needs a matching If-Match (428 without, 412 when
// stale). Idempotency records live in memory, Redis (-redis) or PostgreSQL
// (-database-url), their responses sealed with AES-256-GCM.
//
// Flags (a stable contract for scripts):
//
//	-addr ADDR         listen address (default 127.0.0.1:8080)
//	-audit-file PATH   append audit events, one JSON line per request (default clinic-audit.jsonl, created 0600)
//	-demo              start on a free loopback port, run the tour, print it and exit (with -redis
//	                   and -database-url only: the tour brings its own issuer and limits)
//	-issuer URL        trust this issuer instead of the development one (http only on loopback)
//	-audience AUD      the audience tokens must name (default phikit-clinic)
//	-jwks-url URL      the issuer's key set (default: OIDC discovery)
//	-rate-per-second N requests per second per user, sustained (default 10; the -demo tour uses 0.5)
//	-rate-burst N      requests per user at once (default 20)
//	-redis ADDR        keep rate limits and idempotency records in this Redis server (default: in memory)
//	-database-url DSN  keep idempotency records in this PostgreSQL database (default: Redis with -redis, else memory)
//
// CLINIC_SEALING_KEY (64 hex digits) is the key that seals stored responses; replicas
// sharing a store need the same one. Unset, a random key is made at start.
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"

	"github.com/phikit/phikit/audit"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr, nil); err != nil {
		fmt.Fprintln(os.Stderr, "clinic:", err)
		os.Exit(1)
	}
}

// run is the whole program: it parses args, then serves until ctx is done (or runs the
// demo). ready, when not nil, is told the address the server listens on.
func run(ctx context.Context, args []string, stdout, stderr io.Writer, ready func(net.Addr)) error {
	fs := flag.NewFlagSet("clinic", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", "127.0.0.1:8080", "listen `address`")
	auditFile := fs.String("audit-file", "clinic-audit.jsonl", "append audit events to `path`, one JSON line per request (created 0600)")
	demo := fs.Bool("demo", false, "start on a free loopback port, run a scripted tour, print it and exit (takes only -redis and -database-url)")
	issuer := fs.String("issuer", "", "trust access tokens from this issuer `URL` (default: a development issuer inside the clinic)")
	audience := fs.String("audience", "phikit-clinic", "the `audience` tokens must name")
	jwksURL := fs.String("jwks-url", "", "the issuer's key set `URL` (default: OIDC discovery from -issuer)")
	opts := defaultOptions()
	fs.Float64Var(&opts.ratePerSecond, "rate-per-second", opts.ratePerSecond, "requests a user may make per `second`, sustained (a search counts 2)")
	fs.IntVar(&opts.rateBurst, "rate-burst", opts.rateBurst, "requests a user may make at once")
	redisAddr := fs.String("redis", "", "keep rate limits and idempotency records in the Redis server at `host:port` (default: in memory)")
	databaseURL := fs.String("database-url", "", "keep idempotency records in the PostgreSQL database at this `DSN` (default: Redis with -redis, else memory)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if *demo {
		// The tour runs its own server, issuer and per-user limit: a flag it would
		// ignore is refused rather than silently dropped.
		var ignored error
		fs.Visit(func(f *flag.Flag) {
			switch f.Name {
			case "demo", "redis", "database-url":
			default:
				if ignored == nil {
					ignored = fmt.Errorf("-%s does not apply to -demo, which takes only -redis and -database-url", f.Name)
				}
			}
		})
		if ignored != nil {
			return ignored
		}
	}
	tr := trust{issuer: *issuer, audience: *audience, jwksURL: *jwksURL}
	if tr.issuer == "" && tr.jwksURL != "" {
		return errors.New("-jwks-url needs -issuer")
	}
	if *redisAddr != "" {
		client := redis.NewClient(&redis.Options{Addr: *redisAddr})
		defer client.Close()
		if err := client.Ping(ctx).Err(); err != nil {
			return fmt.Errorf("-redis: %w", err)
		}
		opts.redis = client
	}
	if *databaseURL != "" {
		pool, err := pgxpool.New(ctx, *databaseURL)
		if err != nil {
			return errors.New("-database-url: not a PostgreSQL connection string") // the DSN may hold a password: not quoted
		}
		defer pool.Close()
		if err := pool.Ping(ctx); err != nil {
			return errors.New("-database-url: the database cannot be reached")
		}
		opts.db = pool
	}
	var err error
	if opts.sealingKey, err = sealingKey(os.Getenv(sealingKeyEnv)); err != nil {
		return err
	}
	if *demo {
		return runDemo(ctx, stdout, opts)
	}

	// The audit trail names patients: it goes to its own 0600 file, never to the
	// operational log.
	f, err := os.OpenFile(*auditFile, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	defer f.Close()
	logger := slog.New(slog.NewTextHandler(stderr, nil))
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	svc, err := newService(ln.Addr(), tr, opts, newStore(), audit.NewJSONLines(f), logger)
	if err != nil {
		_ = ln.Close()
		return err
	}
	fmt.Fprintf(stderr, "clinic: listening on http://%s (synthetic data only); audit trail in %s\n", ln.Addr(), *auditFile)
	if svc.dev != nil {
		tokens, err := devTokens(svc.dev, tr.audience)
		if err != nil {
			_ = ln.Close()
			return err
		}
		fmt.Fprintf(stderr, "DEVELOPMENT ISSUER %s: never trust it in production. Tokens, valid for one hour:\n", svc.dev.URL())
		for _, name := range []string{"CLINICIAN", "PATIENT_APP", "LAB_SERVICE", "BILLING"} {
			fmt.Fprintf(stderr, "export %s_TOKEN=%s\n", name, tokens[name])
		}
		fmt.Fprintf(stderr, "try: curl -H \"Authorization: Bearer $CLINICIAN_TOKEN\" http://%s/fhir/Patient/pat-1\n", ln.Addr())
	} else {
		fmt.Fprintf(stderr, "clinic: trusting tokens from %s for audience %s\n", tr.issuer, tr.audience)
	}
	if ready != nil {
		ready(ln.Addr())
	}
	return serve(ctx, ln, svc.handler, logger)
}

// sealingKeyEnv names the environment variable holding the key that seals stored
// responses: 64 hex digits, the same on every replica sharing a store. Unset, a random
// key is made at start, and responses stored before a restart cannot be replayed.
const sealingKeyEnv = "CLINIC_SEALING_KEY"

func sealingKey(hexKey string) ([]byte, error) {
	if hexKey == "" {
		key := make([]byte, 32)
		_, err := rand.Read(key)
		return key, err
	}
	key, err := hex.DecodeString(hexKey)
	if err != nil || len(key) != 32 {
		return nil, errors.New(sealingKeyEnv + " must be 64 hex digits (32 bytes)")
	}
	return key, nil
}

// serve serves h on ln until ctx is done, then shuts down gracefully.
func serve(ctx context.Context, ln net.Listener, h http.Handler, logger *slog.Logger) error {
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return err
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
