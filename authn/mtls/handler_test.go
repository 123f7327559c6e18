package mtls_test

import (
	"bytes"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/phikit/phikit/audit"
	"github.com/phikit/phikit/authn"
	"github.com/phikit/phikit/authn/mtls"
)

func TestAuthenticatePrincipal(t *testing.T) {
	p := fixtures(t)
	a := newAuth(t, mtls.Config{TrustedProxies: proxies})
	pr, err := a.Authenticate(request("10.0.0.9:1", map[string][]string{"Client-Cert": {sf(p.client.cert.Raw)}}))
	if err != nil {
		t.Fatalf("Authenticate: %v", err)
	}
	want := authn.Principal{
		Subject:        clientURI,
		ExpiresAt:      p.client.cert.NotAfter,
		CertThumbprint: thumbprint(p.client.cert.Raw),
		Method:         authn.MethodMTLS,
	}
	if pr.Subject != want.Subject || !pr.ExpiresAt.Equal(want.ExpiresAt) || pr.CertThumbprint != want.CertThumbprint || pr.Method != want.Method ||
		pr.Issuer != "" || pr.ClientID != "" || pr.Scopes != nil || pr.Roles != nil {
		t.Fatalf("Authenticate: got %+v, want %+v", *pr, want)
	}
}

// TestHandler runs the middleware behind the audit middleware on forwarded requests:
// allowed and refused side by side.
func TestHandler(t *testing.T) {
	p := fixtures(t)
	cases := []struct {
		name       string
		peer       string
		cert       *leaf
		wantStatus int
		wantReason string
	}{
		{"from the proxy", "10.0.0.9:1", p.client, http.StatusOK, ""},
		{"from a stranger", "192.0.2.1:1", p.client, http.StatusUnauthorized, "mtls.untrusted-forwarder"},
		{"no certificate", "10.0.0.9:1", nil, http.StatusUnauthorized, "mtls.no-certificate"},
		{"expired", "10.0.0.9:1", p.expired, http.StatusUnauthorized, "mtls.expired"},
		{"another CA", "10.0.0.9:1", p.otherCAClient, http.StatusUnauthorized, "mtls.unknown-authority"},
		{"server authentication only", "10.0.0.9:1", p.serverOnly, http.StatusUnauthorized, "mtls.usage"},
	}
	a := newAuth(t, mtls.Config{TrustedProxies: proxies})
	ev := &events{}
	aud, err := audit.New(audit.Config{Sink: ev.sink()})
	if err != nil {
		t.Fatal(err)
	}
	var reached *authn.Principal
	h := aud.Handler(a.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		reached, _ = authn.FromContext(r.Context())
	})))
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			reached = nil
			header := map[string][]string{}
			if c.cert != nil {
				header["Client-Cert"] = []string{sf(c.cert.cert.Raw)}
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, request(c.peer, header))
			e := ev.last(t)
			if c.wantStatus == http.StatusOK {
				if w.Code != http.StatusOK || reached == nil || reached.Subject != clientURI {
					t.Fatalf("got status %d and principal %v, want 200 and %q", w.Code, reached, clientURI)
				}
				if e.Agent.Subject != clientURI || e.Agent.AuthMethod != "mtls" || e.Rejection != "" {
					t.Errorf("audit: got %+v, rejection %q; want subject %q, method mtls", e.Agent, e.Rejection, clientURI)
				}
				return
			}
			if reached != nil {
				t.Fatal("the handler ran for a refused request")
			}
			checkRefusal(t, w.Code, w.Header(), w.Body.Bytes(), c.cert)
			if e.Rejection != c.wantReason || e.Agent.Subject != "" {
				t.Errorf("audit: got rejection %q, subject %q; want %q and no subject", e.Rejection, e.Agent.Subject, c.wantReason)
			}
		})
	}
}

// TestHandlerFHIR: a FHIR client gets its refusal as an OperationOutcome.
func TestHandlerFHIR(t *testing.T) {
	a := newAuth(t, mtls.Config{})
	r := request("192.0.2.1:1", nil)
	r.Header.Set("Accept", "application/fhir+json")
	w := httptest.NewRecorder()
	a.Handler(http.NotFoundHandler()).ServeHTTP(w, r)
	if w.Code != http.StatusUnauthorized || w.Header().Get("Content-Type") != "application/fhir+json" {
		t.Fatalf("got %d %q, want 401 application/fhir+json", w.Code, w.Header().Get("Content-Type"))
	}
}

func TestErrorHandler(t *testing.T) {
	var got error
	a := newAuth(t, mtls.Config{ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
		got = err
		w.WriteHeader(http.StatusTeapot)
	}})
	w := httptest.NewRecorder()
	a.Handler(http.NotFoundHandler()).ServeHTTP(w, request("192.0.2.1:1", nil))
	if w.Code != http.StatusTeapot || !errors.Is(got, mtls.ErrNoCertificate) {
		t.Fatalf("got %d and error %v, want 418 and %v", w.Code, got, mtls.ErrNoCertificate)
	}
}

// TestLogger: operators hear of forged or misrouted headers, named by peer, never with
// the header.
func TestLogger(t *testing.T) {
	p := fixtures(t)
	var buf bytes.Buffer
	a := newAuth(t, mtls.Config{TrustedProxies: proxies, Logger: slog.New(slog.NewTextHandler(&buf, nil))})
	h := a.Handler(http.NotFoundHandler())
	good := sf(p.client.cert.Raw)

	h.ServeHTTP(httptest.NewRecorder(), request("10.0.0.9:1", map[string][]string{"Client-Cert": {sf(p.expired.cert.Raw)}}))
	if buf.Len() != 0 {
		t.Errorf("an expired certificate logged %q, want nothing: that is the audit trail's", buf.String())
	}
	h.ServeHTTP(httptest.NewRecorder(), request("192.0.2.1:1234", map[string][]string{"Client-Cert": {good}}))
	log := buf.String()
	if !strings.Contains(log, "level=WARN") || !strings.Contains(log, "peer=192.0.2.1:1234") {
		t.Errorf("log: got %q, want a warning naming the peer", log)
	}
	if strings.Contains(log, good[1:20]) || strings.Contains(log, "client.example") {
		t.Errorf("log %q carries the certificate", log)
	}
}

// TestLoggerForgedThrottled: any client can send the header, so the warning is logged at
// most once a minute, while the audit trail records every refusal.
func TestLoggerForgedThrottled(t *testing.T) {
	p := fixtures(t)
	var buf bytes.Buffer
	now := p.base
	a := newAuth(t, mtls.Config{TrustedProxies: proxies, Logger: slog.New(slog.NewTextHandler(&buf, nil)),
		Now: func() time.Time { return now }})
	h := a.Handler(http.NotFoundHandler())
	forged := map[string][]string{"Client-Cert": {sf(p.client.cert.Raw)}}
	for _, step := range []struct {
		name    string
		advance time.Duration
		n       int
		want    int // warnings logged so far
	}{
		{"the first forgery", 0, 1, 1},
		{"a flood within the minute", 0, 100, 1},
		{"a second before the minute is up", 59 * time.Second, 1, 1},
		{"a minute after the first", time.Second, 1, 2},
		{"a flood within the next minute", 30 * time.Second, 100, 2},
	} {
		now = now.Add(step.advance)
		for range step.n {
			h.ServeHTTP(httptest.NewRecorder(), request("192.0.2.1:1234", forged))
		}
		if got := strings.Count(buf.String(), "level=WARN"); got != step.want {
			t.Errorf("%s: got %d warnings, want %d", step.name, got, step.want)
		}
	}
}

func TestIdentity(t *testing.T) {
	p := fixtures(t)
	errDirectory := errors.New("directory: unknown device")
	byOrg := func(c *x509.Certificate) (string, error) {
		if len(c.Subject.Organization) != 1 {
			return "", errDirectory
		}
		return "org:" + c.Subject.Organization[0], nil
	}
	cases := []struct {
		name     string
		identity func(*x509.Certificate) (string, error)
		cert     *leaf
		want     string
		wantErrs []error
	}{
		{"default: the URI SAN", nil, p.client, clientURI, nil},
		{"default: the Common Name", nil, p.expired, "expired.example", nil},
		{"custom mapping", byOrg, p.client, "org:Hospital", nil},
		{"custom mapping fails", byOrg, p.viaInter, "", []error{mtls.ErrNoIdentity, errDirectory}},
		{"custom mapping returns nothing", func(*x509.Certificate) (string, error) { return "", nil }, p.client, "", []error{mtls.ErrNoIdentity}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			// Now is just before the certificate's NotAfter, so that the expired one verifies.
			a := newAuth(t, mtls.Config{Identity: c.identity, Now: fixedClock(c.cert.cert.NotAfter.Add(-time.Minute))})
			pr, err := a.Authenticate(withTLS(request("192.0.2.1:1", nil), c.cert))
			if c.wantErrs == nil {
				if err != nil || pr.Subject != c.want {
					t.Fatalf("Authenticate: got (%v, %v), want subject %q", pr, err, c.want)
				}
				return
			}
			for _, want := range c.wantErrs {
				if !errors.Is(err, want) {
					t.Errorf("Authenticate: got error %v, want one matching %v", err, want)
				}
			}
			var me *mtls.Error
			if !errors.As(err, &me) || me.Reason() != "mtls.no-identity" {
				t.Errorf("Authenticate: got error %v, want an *mtls.Error with reason mtls.no-identity", err)
			}
		})
	}
}

func TestDefaultIdentity(t *testing.T) {
	u := func(s string) *url.URL { v, _ := url.Parse(s); return v }
	cases := []struct {
		name    string
		cert    *x509.Certificate
		want    string
		wantErr error
	}{
		{"one URI SAN", &x509.Certificate{URIs: []*url.URL{u("spiffe://h.example/a")}, DNSNames: []string{"a.example"}, Subject: pkix.Name{CommonName: "cn"}}, "spiffe://h.example/a", nil},
		{"two URI SANs: the first DNS SAN", &x509.Certificate{URIs: []*url.URL{u("spiffe://h.example/a"), u("spiffe://h.example/b")}, DNSNames: []string{"a.example", "b.example"}, Subject: pkix.Name{CommonName: "cn"}}, "a.example", nil},
		{"two URI SANs and no DNS SAN: the CN", &x509.Certificate{URIs: []*url.URL{u("spiffe://h.example/a"), u("spiffe://h.example/b")}, Subject: pkix.Name{CommonName: "cn"}}, "cn", nil},
		{"DNS SANs", &x509.Certificate{DNSNames: []string{"a.example", "b.example"}, Subject: pkix.Name{CommonName: "cn"}}, "a.example", nil},
		{"CN only", &x509.Certificate{Subject: pkix.Name{CommonName: "cn", Organization: []string{"o"}}}, "cn", nil},
		{"nothing", &x509.Certificate{Subject: pkix.Name{Organization: []string{"o"}}, EmailAddresses: []string{"a@h.example"}}, "", mtls.ErrNoIdentity},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := mtls.DefaultIdentity(c.cert)
			if got != c.want || !errors.Is(err, c.wantErr) || (err == nil) != (c.wantErr == nil) {
				t.Fatalf("DefaultIdentity: got (%q, %v), want (%q, %v)", got, err, c.want, c.wantErr)
			}
		})
	}
}
