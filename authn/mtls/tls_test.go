package mtls_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/phikit/phikit/audit"
	"github.com/phikit/phikit/authn"
	"github.com/phikit/phikit/authn/mtls"
)

// events is an audit sink that keeps what it is given.
type events struct {
	mu  sync.Mutex
	all []audit.Event
}

func (s *events) sink() audit.Sink {
	return audit.SinkFunc(func(_ context.Context, e *audit.Event) error {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.all = append(s.all, *e)
		return nil
	})
}

func (s *events) last(t *testing.T) audit.Event {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.all) == 0 {
		t.Fatal("no audit event")
	}
	return s.all[len(s.all)-1]
}

// startServer starts a real TLS server with tlsCfg whose routes go through the audit
// middleware and a, and answer with the caller's subject.
func startServer(t *testing.T, a *mtls.Authenticator, tlsCfg *tls.Config) (*httptest.Server, *events) {
	t.Helper()
	ev := &events{}
	aud, err := audit.New(audit.Config{Sink: ev.sink()})
	if err != nil {
		t.Fatal(err)
	}
	app := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, ok := authn.FromContext(r.Context())
		if !ok {
			t.Error("handler: no Principal in the context")
			return
		}
		io.WriteString(w, p.Subject)
	})
	srv := httptest.NewUnstartedServer(aud.Handler(a.Handler(app)))
	srv.TLS = tlsCfg
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshakes
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv, ev
}

// client returns an HTTP client that trusts the test CA for the server and presents
// cert (none when nil), whatever CAs the server asks for.
func client(t *testing.T, cert *leaf, maxVersion uint16) *http.Client {
	p := fixtures(t)
	serverRoots := x509.NewCertPool()
	serverRoots.AddCert(p.ca)
	tr := &http.Transport{
		DisableKeepAlives: true,
		TLSClientConfig: &tls.Config{
			RootCAs:    serverRoots,
			MaxVersion: maxVersion,
			GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
				if cert == nil {
					return &tls.Certificate{}, nil
				}
				c := cert.tlsCert()
				return &c, nil
			},
		},
	}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr}
}

// TestRealTLS runs a TLS server on loopback and clients presenting certificates. With
// TLSConfig the handshake refuses what does not verify; with a server that requests a
// certificate without verifying it, the Authenticator alone refuses the same.
func TestRealTLS(t *testing.T) {
	p := fixtures(t)
	a, err := mtls.New(mtls.Config{Roots: p.roots}) // the wall clock: the handshake uses it too
	if err != nil {
		t.Fatal(err)
	}
	verifying, verifyingEvents := startServer(t, a, mtls.TLSConfig(p.roots, p.server))
	requesting, requestingEvents := startServer(t, a, &tls.Config{
		MinVersion:   tls.VersionTLS12,
		Certificates: []tls.Certificate{p.server},
		ClientAuth:   tls.RequestClientCert, // no verification at the handshake
	})

	const (
		ok        = "200"
		handshake = "handshake" // the TLS handshake fails: no HTTP response, no event
		refused   = "401"
	)
	cases := []struct {
		name       string
		cert       *leaf
		maxVersion uint16
		header     string // a Client-Cert header the client adds itself
		verifying  string // outcome with TLSConfig
		requesting string // outcome when only the Authenticator verifies
		reason     string // audit Rejection of a 401
	}{
		{name: "valid client certificate", cert: p.client, verifying: ok, requesting: ok},
		{name: "valid, over TLS 1.2", cert: p.client, maxVersion: tls.VersionTLS12, verifying: ok, requesting: ok},
		{name: "no certificate", verifying: refused, requesting: refused, reason: "mtls.no-certificate"},

		{name: "issued by an intermediate the client sends", cert: p.viaInter, verifying: ok, requesting: ok},
		{name: "expired", cert: p.expired, verifying: handshake, requesting: refused, reason: "mtls.expired"},

		{name: "not yet valid", cert: p.notYetValid, verifying: handshake, requesting: refused, reason: "mtls.expired"},
		{name: "another CA", cert: p.otherCAClient, verifying: handshake, requesting: refused, reason: "mtls.unknown-authority"},

		{name: "server authentication only", cert: p.serverOnly, verifying: handshake, requesting: refused, reason: "mtls.usage"},
		{name: "no extended key usage", cert: p.noEKU, verifying: refused, requesting: refused, reason: "mtls.usage"},

		{name: "valid certificate and a forged header", cert: p.client, header: sf(p.client.cert.Raw), verifying: refused, requesting: refused, reason: "mtls.untrusted-forwarder"},
		{name: "TLS 1.1", cert: p.client, maxVersion: tls.VersionTLS11, verifying: handshake, requesting: handshake},
	}
	for _, c := range cases {
		for _, s := range []struct {
			name string
			srv  *httptest.Server
			ev   *events
			want string
		}{
			{"TLSConfig", verifying, verifyingEvents, c.verifying},
			{"RequestClientCert", requesting, requestingEvents, c.requesting},
		} {
			t.Run(c.name+"/"+s.name, func(t *testing.T) {
				req, err := http.NewRequest(http.MethodGet, s.srv.URL+"/fhir/Patient/p1", nil)
				if err != nil {
					t.Fatal(err)
				}
				if c.header != "" {
					req.Header.Set("Client-Cert", c.header)
				}
				resp, err := client(t, c.cert, c.maxVersion).Do(req)
				if s.want == handshake {
					if err == nil {
						resp.Body.Close()
						t.Fatalf("got status %d, want a failed handshake", resp.StatusCode)
					}
					return
				}
				if err != nil {
					t.Fatalf("got error %v, want status %s", err, s.want)
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				ev := s.ev.last(t)
				switch s.want {
				case ok:
					if resp.StatusCode != http.StatusOK {
						t.Fatalf("got status %d, want 200", resp.StatusCode)
					}
					want, _ := mtls.DefaultIdentity(c.cert.cert)
					if string(body) != want {
						t.Errorf("subject: got %q, want %q", body, want)
					}
					if ev.Agent.Subject != want || ev.Agent.AuthMethod != "mtls" || ev.Rejection != "" {
						t.Errorf("audit: got subject %q, method %q, rejection %q; want %q, %q, none", ev.Agent.Subject, ev.Agent.AuthMethod, ev.Rejection, want, "mtls")
					}
				case refused:
					checkRefusal(t, resp.StatusCode, resp.Header, body, c.cert)
					if ev.Rejection != c.reason || ev.Agent.Subject != "" || ev.Agent.AuthMethod != "" {
						t.Errorf("audit: got rejection %q, subject %q, method %q; want %q and no agent", ev.Rejection, ev.Agent.Subject, ev.Agent.AuthMethod, c.reason)
					}
				}
			})
		}
	}
}

// checkRefusal checks a 401 answer: a problem body without a challenge and without
// anything from the certificate.
func checkRefusal(t *testing.T, status int, h http.Header, body []byte, cert *leaf) {
	t.Helper()
	if status != http.StatusUnauthorized {
		t.Fatalf("got status %d, want 401", status)
	}
	if got := h.Get("WWW-Authenticate"); got != "" {
		t.Errorf("WWW-Authenticate: got %q, want none", got)
	}
	if got := h.Get("Content-Type"); got != "application/problem+json" {
		t.Errorf("Content-Type: got %q, want application/problem+json", got)
	}
	var prob struct{ Type string }
	if err := json.Unmarshal(body, &prob); err != nil || prob.Type != "https://phikit.github.io/problems/unauthenticated" {
		t.Errorf("body: got %s (%v), want the unauthenticated problem", body, err)
	}
	for _, s := range []string{"mtls", "certificate", ".example", "spiffe", "expired", "authority"} {
		if strings.Contains(strings.ToLower(string(body)), s) {
			t.Errorf("body %s mentions %q", body, s)
		}
	}
	if cert != nil && strings.Contains(string(body), mtls.Thumbprint(cert.cert)) {
		t.Errorf("body %s carries the thumbprint", body)
	}
}

func TestTLSConfig(t *testing.T) {
	p := fixtures(t)
	cases := []struct {
		name      string
		roots     *x509.CertPool
		wantEmpty bool
	}{
		{"roots", p.roots, false},
		{"nil roots: an empty pool, never the system's", nil, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg := mtls.TLSConfig(c.roots, p.server)
			if cfg.MinVersion != tls.VersionTLS12 {
				t.Errorf("MinVersion: got %#x, want TLS 1.2", cfg.MinVersion)
			}
			if cfg.ClientAuth != tls.VerifyClientCertIfGiven {
				t.Errorf("ClientAuth: got %v, want VerifyClientCertIfGiven", cfg.ClientAuth)
			}
			if len(cfg.Certificates) != 1 || !cfg.Certificates[0].Leaf.Equal(p.server.Leaf) {
				t.Errorf("Certificates: got %d, want the server certificate", len(cfg.Certificates))
			}
			if cfg.ClientCAs == nil {
				t.Fatal("ClientCAs: got nil (the system roots), want a pool")
			}
			if got := cfg.ClientCAs.Equal(x509.NewCertPool()); got != c.wantEmpty {
				t.Errorf("ClientCAs empty: got %v, want %v", got, c.wantEmpty)
			}
			if c.roots != nil && cfg.ClientCAs == c.roots {
				t.Error("ClientCAs: got the caller's pool, want a copy")
			}
		})
	}
}
