package testserver

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

const (
	// hydraInstall tells how to get the hydra binary when it is missing.
	hydraInstall = "bash scripts/test.sh (it builds ORY Hydra v2.3.0 from tools/hydra into " +
		"$PHIKIT_CACHE/bin, default ~/.cache/phikit/bin, where this helper finds it; " +
		"add that directory to PATH to use it by hand)"
	// hydraReadyTimeout is the overall deadline for hydra to start and answer; it also
	// covers generating the RSA-4096 signing keys on the first JWKS request (about 1 s,
	// but prime search is random and a loaded 2-core machine was seen taking over 20 s).
	hydraReadyTimeout = 90 * time.Second
	// hydraHTTPTimeout bounds each call the helper makes to hydra's APIs.
	hydraHTTPTimeout = 60 * time.Second
	// hydraAccessTokenKeySet is the JSON Web Key Set hydra signs JWT access tokens with.
	hydraAccessTokenKeySet = "hydra.jwt.access-token" // #nosec G101 -- the name of a key set, not a credential
)

// HydraServer is a running ORY Hydra v2 started by [Hydra]: an OAuth2 authorization
// server that issues JWT access tokens, with its data in memory.
type HydraServer struct {
	// PublicURL is the base URL of the public API, with a trailing slash:
	// "http://127.0.0.1:PORT/". The token endpoint is PublicURL+"oauth2/token" and the
	// JWKS is PublicURL+".well-known/jwks.json".
	PublicURL string
	// AdminURL is the base URL of the admin API, without a trailing slash:
	// "http://127.0.0.1:PORT".
	AdminURL string
	// Issuer is the iss claim of the tokens hydra issues; it equals PublicURL, trailing
	// slash included.
	Issuer string

	client *http.Client
	mu     sync.Mutex
	// authMethods maps the ids of the clients made by CreateClient to their token
	// endpoint auth method, so Token and Revoke authenticate the way hydra expects.
	authMethods map[string]string
}

// HydraClient describes an OAuth2 client for [HydraServer.CreateClient]. The client
// may use the client_credentials grant only.
type HydraClient struct {
	// Scopes are the scopes the client may request, such as "patient/*.rs".
	Scopes []string
	// Audience lists the audiences the client may request, such as
	// "https://fhir.example.test".
	Audience []string
	// TokenEndpointAuthMethod is "client_secret_basic" (the default when empty) or
	// "client_secret_post".
	TokenEndpointAuthMethod string
	// Opaque makes hydra issue this client opaque access tokens (to be introspected)
	// instead of JWTs.
	Opaque bool
}

// Hydra starts a fresh ORY Hydra for the test: `hydra serve all --dev` with DSN=memory,
// its public and admin APIs on free ports of 127.0.0.1, JWT access tokens
// (STRATEGIES_ACCESS_TOKEN=jwt) that carry the granted scopes both as the scp array and
// as the space-separated scope string, a one-hour access token lifetime, and a fresh
// random system secret. Hydra is stopped in t.Cleanup; when the test has failed by
// then, the tail of hydra's log is logged.
//
// hydra runs with an environment of PATH, TMPDIR and its own settings only (HOME is
// its temporary directory), so hydra settings in the caller's environment, such as DSN
// or LOG_LEVEL, do not leak in.
//
// The hydra binary is looked up on PATH, then as $PHIKIT_CACHE/bin/hydra and
// ~/.cache/phikit/bin/hydra, where scripts/test.sh builds it. When it is missing the test
// is skipped (failed when PHIKIT_INTEGRATION=1). Hydra starts in well under a second,
// and then takes about a second to generate its RSA-4096 signing keys; this function
// waits for that too, so the test's first token is not slow.
func Hydra(t testing.TB) *HydraServer {
	t.Helper()
	bin := findHydra(t)
	dir := t.TempDir()
	for attempt := 1; ; attempt++ {
		srv, portTaken, err := startHydra(t, bin, dir)
		if err == nil {
			return srv
		}
		if !portTaken || attempt == startAttempts {
			t.Fatalf("testserver: start hydra (attempt %d of %d): %v", attempt, startAttempts, err)
		}
	}
}

// findHydra returns the path of the hydra binary: on PATH, else in $PHIKIT_CACHE/bin,
// else in ~/.cache/phikit/bin. When there is none it calls skipOrFail, so the test
// does not continue.
func findHydra(t testing.TB) string {
	t.Helper()
	if path, err := exec.LookPath("hydra"); err == nil {
		return path
	}
	var dirs []string
	if cache := os.Getenv("PHIKIT_CACHE"); cache != "" {
		dirs = append(dirs, filepath.Join(cache, "bin"))
	}
	if home, err := os.UserHomeDir(); err == nil {
		dirs = append(dirs, filepath.Join(home, ".cache", "phikit", "bin"))
	}
	for _, dir := range dirs {
		// LookPath with a path that has a slash checks that file only, not PATH.
		if p, err := exec.LookPath(filepath.Join(dir, "hydra")); err == nil {
			return p
		}
	}
	skipOrFail(t, fmt.Sprintf("hydra not found on PATH, in $PHIKIT_CACHE/bin or in ~/.cache/phikit/bin; build it with: %s", hydraInstall))
	return ""
}

// startHydra makes one attempt to start hydra on fresh ports and wait until it is
// ready. portTaken reports a failure because another process holds a port, which is
// worth a retry.
func startHydra(t testing.TB, bin, dir string) (srv *HydraServer, portTaken bool, err error) {
	publicPort, err := freePort()
	if err != nil {
		return nil, false, err
	}
	adminPort, err := freePort()
	for err == nil && adminPort == publicPort {
		adminPort, err = freePort()
	}
	if err != nil {
		return nil, false, err
	}
	secret, err := randomHex(32)
	if err != nil {
		return nil, false, fmt.Errorf("generate hydra system secret: %w", err)
	}
	publicURL := fmt.Sprintf("http://127.0.0.1:%d/", publicPort)
	srv = &HydraServer{
		PublicURL:   publicURL,
		AdminURL:    fmt.Sprintf("http://127.0.0.1:%d", adminPort),
		Issuer:      publicURL,
		client:      &http.Client{Timeout: hydraHTTPTimeout},
		authMethods: map[string]string{},
	}

	logPath := filepath.Join(dir, fmt.Sprintf("hydra-%d.log", publicPort))
	// #nosec G204 -- runs the hydra binary found by findHydra, with arguments built here.
	cmd := exec.Command(bin, "serve", "all", "--dev", "--sqa-opt-out")
	cmd.Dir = dir
	cmd.Env = []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + dir,
		"DSN=memory",
		"SERVE_PUBLIC_HOST=127.0.0.1",
		"SERVE_PUBLIC_PORT=" + strconv.Itoa(publicPort),
		"SERVE_ADMIN_HOST=127.0.0.1",
		"SERVE_ADMIN_PORT=" + strconv.Itoa(adminPort),
		"URLS_SELF_ISSUER=" + publicURL,
		"STRATEGIES_ACCESS_TOKEN=jwt",
		"STRATEGIES_JWT_SCOPE_CLAIM=both",
		"SECRETS_SYSTEM=" + secret,
		"TTL_ACCESS_TOKEN=1h",
		"LOG_LEVEL=warn",
	}
	if tmp := os.Getenv("TMPDIR"); tmp != "" {
		cmd.Env = append(cmd.Env, "TMPDIR="+tmp)
	}
	p, err := launch(t, cmd, logPath)
	if err != nil {
		return nil, false, err
	}
	// Runs before launch's cleanup stops the process.
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("testserver: hydra (public port %d, admin port %d) log tail:\n%s", publicPort, adminPort, logTail(logPath, 0))
		}
	})

	if err := srv.wait(p.exited); err != nil {
		p.stop()
		tail := logTail(logPath, 0)
		return nil, strings.Contains(tail, "address already in use"),
			fmt.Errorf("%w\n--- hydra log tail ---\n%s", err, tail)
	}
	return srv, false, nil
}

// wait polls the admin API's /health/ready until it answers 200, the process exits, or
// hydraReadyTimeout passes. Then it checks that the public and the admin port are
// served by one hydra, not partly by another process that holds one of the ports: the
// signing key the admin API names must be in the public JWKS. Fetching the JWKS also
// makes hydra generate its signing keys now rather than on the test's first token.
func (h *HydraServer) wait(exited <-chan struct{}) error {
	deadline := time.Now().Add(hydraReadyTimeout)
	ready := h.AdminURL + "/health/ready"
	for {
		status, body, err := h.get(ready, time.Second)
		if err == nil && status == http.StatusOK {
			break
		}
		if err == nil {
			err = fmt.Errorf("GET %s: %d %s", ready, status, tailString(body))
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("hydra not ready after %s: %w", hydraReadyTimeout, err)
		}
		select {
		case <-exited:
			return errors.New("hydra exited before it was ready")
		case <-time.After(pollInterval):
		}
	}

	public, err := h.keyIDs(h.PublicURL + ".well-known/jwks.json")
	if err != nil {
		return err
	}
	admin, err := h.keyIDs(h.AdminURL + "/admin/keys/" + hydraAccessTokenKeySet)
	if err != nil {
		return err
	}
	if len(admin) == 0 {
		return fmt.Errorf("hydra's admin API lists no keys in %s", hydraAccessTokenKeySet)
	}
	for kid := range admin {
		if !public[kid] {
			return fmt.Errorf("key %q of the admin API (%s) is not in the public JWKS (%s): the two ports are served by different processes",
				kid, h.AdminURL, h.PublicURL)
		}
	}
	select {
	case <-exited:
		return errors.New("hydra exited right after it was ready")
	default:
		return nil
	}
}

// keyIDs fetches the JSON Web Key Set at u and returns the set of its key ids.
func (h *HydraServer) keyIDs(u string) (map[string]bool, error) {
	status, body, err := h.get(u, hydraHTTPTimeout)
	if err != nil {
		return nil, err
	}
	if status != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %d %s", u, status, tailString(body))
	}
	var set struct {
		Keys []struct {
			Kid string `json:"kid"`
		} `json:"keys"`
	}
	if err := json.Unmarshal(body, &set); err != nil {
		return nil, fmt.Errorf("GET %s: decode JWKS: %w", u, err)
	}
	kids := make(map[string]bool, len(set.Keys))
	for _, k := range set.Keys {
		kids[k.Kid] = true
	}
	return kids, nil
}

// CreateClient registers a client_credentials client through the admin API (POST
// /admin/clients) and returns the client id and secret hydra generated. It fails the
// test when hydra refuses the client.
func (h *HydraServer) CreateClient(t testing.TB, c HydraClient) (id, secret string) {
	t.Helper()
	method := c.TokenEndpointAuthMethod
	switch method {
	case "":
		method = "client_secret_basic"
	case "client_secret_basic", "client_secret_post":
	default:
		t.Fatalf("testserver: CreateClient: token endpoint auth method %q is not supported; use client_secret_basic or client_secret_post", method)
	}
	req := map[string]any{
		"grant_types":                []string{"client_credentials"},
		"scope":                      strings.Join(c.Scopes, " "),
		"audience":                   nonNil(c.Audience),
		"token_endpoint_auth_method": method,
	}
	if c.Opaque {
		req["access_token_strategy"] = "opaque"
	}
	var resp struct {
		ClientID     string `json:"client_id"`
		ClientSecret string `json:"client_secret"`
	}
	h.doJSON(t, "CreateClient", http.MethodPost, h.AdminURL+"/admin/clients", req, http.StatusCreated, &resp)
	if resp.ClientID == "" || resp.ClientSecret == "" {
		t.Fatalf("testserver: CreateClient: hydra returned no client_id or client_secret")
	}
	h.mu.Lock()
	h.authMethods[resp.ClientID] = method
	h.mu.Unlock()
	return resp.ClientID, resp.ClientSecret
}

// Token performs the client_credentials grant at PublicURL+"oauth2/token" and returns
// the access token: a JWT signed with the newest key of the access-token key set, or an
// opaque token for a client created with Opaque.
// Scopes and audience may be empty. The client authenticates as it was registered by
// CreateClient (HTTP basic auth for other client ids). It fails the test unless hydra
// answers 200 with an access token.
func (h *HydraServer) Token(t testing.TB, clientID, secret string, scopes []string, audience []string) string {
	t.Helper()
	form := url.Values{"grant_type": {"client_credentials"}}
	if len(scopes) > 0 {
		form.Set("scope", strings.Join(scopes, " "))
	}
	if len(audience) > 0 {
		form.Set("audience", strings.Join(audience, " "))
	}
	status, body := h.postForm(t, "Token", h.PublicURL+"oauth2/token", form, clientID, secret)
	if status != http.StatusOK {
		t.Fatalf("testserver: Token: POST %soauth2/token: %d %s", h.PublicURL, status, tailString(body))
	}
	var resp struct {
		AccessToken string `json:"access_token"`
		TokenType   string `json:"token_type"`
	}
	if err := json.Unmarshal(body, &resp); err != nil {
		t.Fatalf("testserver: Token: decode response: %v: %s", err, tailString(body))
	}
	if resp.AccessToken == "" {
		t.Fatalf("testserver: Token: response has no access_token: %s", tailString(body))
	}
	return resp.AccessToken
}

// Revoke revokes token at PublicURL+"oauth2/revoke", authenticating as the client. A
// revoked JWT still verifies offline: only introspection
// (AdminURL+"/admin/oauth2/introspect") reports it inactive. It fails the test unless
// hydra answers 200.
func (h *HydraServer) Revoke(t testing.TB, clientID, secret, token string) {
	t.Helper()
	status, body := h.postForm(t, "Revoke", h.PublicURL+"oauth2/revoke", url.Values{"token": {token}}, clientID, secret)
	if status != http.StatusOK {
		t.Fatalf("testserver: Revoke: POST %soauth2/revoke: %d %s", h.PublicURL, status, tailString(body))
	}
}

// CreateKey generates a signing key with algorithm alg (such as "ES256" or "RS256")
// and key id kid in the access-token key set (POST
// /admin/keys/hydra.jwt.access-token). Hydra signs the tokens issued afterwards with
// it, and the public JWKS lists it next to the older keys, for key rotation tests.
//
// Hydra's introspection checks a JWT against the newest key only: after CreateKey it
// reports the tokens signed with older keys inactive, though they still verify offline
// against the JWKS.
func (h *HydraServer) CreateKey(t testing.TB, alg, kid string) {
	t.Helper()
	req := map[string]string{"alg": alg, "use": "sig", "kid": kid}
	h.doJSON(t, "CreateKey", http.MethodPost, h.AdminURL+"/admin/keys/"+hydraAccessTokenKeySet, req, http.StatusCreated, nil)
}

// doJSON sends in as JSON and fails the test unless the answer has status want; it
// decodes the answer into out when out is not nil.
func (h *HydraServer) doJSON(t testing.TB, op, method, u string, in any, want int, out any) {
	t.Helper()
	payload, err := json.Marshal(in)
	if err != nil {
		t.Fatalf("testserver: %s: encode request: %v", op, err)
	}
	req, err := http.NewRequestWithContext(t.Context(), method, u, bytes.NewReader(payload))
	if err != nil {
		t.Fatalf("testserver: %s: %v", op, err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	status, body, err := h.do(req)
	if err != nil {
		t.Fatalf("testserver: %s: %v", op, err)
	}
	if status != want {
		t.Fatalf("testserver: %s: %s %s: %d (want %d) %s", op, method, u, status, want, tailString(body))
	}
	if out != nil {
		if err := json.Unmarshal(body, out); err != nil {
			t.Fatalf("testserver: %s: decode response: %v: %s", op, err, tailString(body))
		}
	}
}

// postForm posts form to u with the client's credentials, sent as its registered
// token endpoint auth method requires (RFC 6749 section 2.3.1), and returns the status
// and body. Transport errors fail the test.
func (h *HydraServer) postForm(t testing.TB, op, u string, form url.Values, clientID, secret string) (int, []byte) {
	t.Helper()
	h.mu.Lock()
	method := h.authMethods[clientID]
	h.mu.Unlock()
	if method == "client_secret_post" {
		form.Set("client_id", clientID)
		form.Set("client_secret", secret)
	}
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, u, strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatalf("testserver: %s: %v", op, err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	if method != "client_secret_post" {
		req.SetBasicAuth(url.QueryEscape(clientID), url.QueryEscape(secret))
	}
	status, body, err := h.do(req)
	if err != nil {
		t.Fatalf("testserver: %s: %v", op, err)
	}
	return status, body
}

// get sends a GET request to u, which must answer within timeout, and returns the
// status and body.
func (h *HydraServer) get(u string, timeout time.Duration) (int, []byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return 0, nil, err
	}
	return h.do(req)
}

// do sends req and returns the status and the body, read in full (at most 1 MiB).
func (h *HydraServer) do(req *http.Request) (int, []byte, error) {
	resp, err := h.client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return 0, nil, fmt.Errorf("%s %s: read response: %w", req.Method, req.URL, err)
	}
	return resp.StatusCode, body, nil
}

// randomHex returns n random bytes from crypto/rand, hex-encoded (2n characters).
func randomHex(n int) (string, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return hex.EncodeToString(b), nil
}

// nonNil returns s, or an empty slice when s is nil, so that it encodes as [] rather
// than null.
func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
