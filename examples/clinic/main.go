// Command clinic is phikit's example service: a small FHIR-style API over synthetic,
// in-memory patients and observations, wrapped in phikit's middleware chain.
//
//	go run ./examples/clinic -demo                       # a scripted tour; exits non-zero on a surprise
//	go run ./examples/clinic -addr 127.0.0.1:8080 -audit-file audit.jsonl
//
// Routes: GET /fhir/Patient/{id}, PUT /fhir/Patient/{id}, GET /fhir/Observation?patient={id},
// POST /fhir/Observation, GET /healthz. The patients are pat-1, pat-2 and pat-3.
//
// Flags (a stable contract for scripts):
//
//	-addr ADDR         listen address (default 127.0.0.1:8080)
//	-audit-file PATH   append audit events, one JSON line per request (default clinic-audit.jsonl, created 0600)
//	-demo              start on a free loopback port, run the tour, print it and exit
package main

import (
	"context"
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
	demo := fs.Bool("demo", false, "start on a free loopback port, run a scripted tour, print it and exit")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if *demo {
		return runDemo(ctx, stdout)
	}

	// The audit trail names patients: it goes to its own 0600 file, never to the
	// operational log.
	f, err := os.OpenFile(*auditFile, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	defer f.Close()
	logger := slog.New(slog.NewTextHandler(stderr, nil))
	aud, err := audit.New(audit.Config{Sink: audit.NewJSONLines(f), Service: "clinic", Logger: logger})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	fmt.Fprintf(stderr, "WARNING: the clinic is UNAUTHENTICATED: anyone who can reach %s can read and change every record.\n", ln.Addr())
	fmt.Fprintf(stderr, "clinic: listening on http://%s (synthetic data only)\n", ln.Addr())
	if ready != nil {
		ready(ln.Addr())
	}
	return serve(ctx, ln, newHandler(newStore(), aud), logger)
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
