package apikey_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"github.com/phikit/phikit/authn/apikey"
)

// The key never appears in an error, a log line, an audit event, a response or a
// Record, and the hash never appears in a printed or logged Record.
func TestKeyNeverLeaks(t *testing.T) {
	f := newFixture(t)
	var logs logBuffer
	keys := newKeys(t, f.store, "live", f.clock, logs.logger())
	key, rec := issue(t, keys, apikey.IssueRequest{Name: "feed", Subject: "svc:lab", Scopes: []string{"system/Observation.c"}, AllowedCIDRs: cidrs("192.0.2.0/24")})
	secret := secretOf(key)

	var out bytes.Buffer // everything that could carry the key
	trail := &auditTrail{}
	for _, r := range []*http.Request{
		request("192.0.2.10:1", key),                                       // allowed
		request("198.51.100.1:1", key),                                     // address
		request("192.0.2.10:1", key, key),                                  // two headers
		request("192.0.2.10:1", key+"a"),                                   // malformed
		request("192.0.2.10:1", key[:len(key)-52]+strings.Repeat("a", 52)), // wrong secret
	} {
		_, err := keys.Authenticate(r.Clone(r.Context()))
		if err != nil {
			fmt.Fprintln(&out, err.Error(), err)
		}
		w := serve(t, trail, keys, r)
		fmt.Fprintln(&out, w.Header(), w.Body.String())
	}
	if err := keys.Revoke(context.Background(), rec.ID); err != nil {
		t.Fatal(err)
	}
	w := serve(t, trail, keys, request("192.0.2.10:1", key))
	fmt.Fprintln(&out, w.Header(), w.Body.String())
	f.store.failWith(errors.New("store down"))
	w = serve(t, trail, keys, request("192.0.2.10:1", key))
	fmt.Fprintln(&out, w.Header(), w.Body.String())
	_, err := keys.Authenticate(request("192.0.2.10:1", key))
	fmt.Fprintln(&out, err)

	for _, j := range trail.json {
		out.WriteString(j)
	}
	out.WriteString(logs.String())

	// The record, printed and logged every way.
	var recOut bytes.Buffer
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x"} {
		fmt.Fprintf(&recOut, verb+"\n", rec)
		fmt.Fprintf(&recOut, verb+"\n", &rec)
		fmt.Fprintf(&recOut, verb+"\n", []apikey.Record{rec})
	}
	fmt.Fprintln(&recOut, rec.String())
	slog.New(slog.NewTextHandler(&recOut, nil)).Info("record", "rec", rec)
	slog.New(slog.NewJSONHandler(&recOut, nil)).Info("record", "rec", rec, "ptr", &rec)
	out.Write(recOut.Bytes())

	text := out.String()
	if strings.Contains(text, secret) {
		t.Errorf("the secret leaked:\n%s", text)
	}
	for _, enc := range []string{
		hex.EncodeToString(rec.Hash),
		base64.StdEncoding.EncodeToString(rec.Hash),
		strings.Trim(fmt.Sprint(rec.Hash), "[]"),
	} {
		if strings.Contains(recOut.String(), enc) {
			t.Errorf("the hash leaked as %q:\n%s", enc, recOut.String())
		}
	}
	if !strings.Contains(recOut.String(), "[redacted]") || !strings.Contains(recOut.String(), rec.ID) {
		t.Errorf("printed record lacks its id or the redaction mark:\n%s", recOut.String())
	}
	// The logs do say what happened, by id.
	if logs := logs.String(); !strings.Contains(logs, "key issued") || !strings.Contains(logs, "key revoked") || !strings.Contains(logs, rec.ID) {
		t.Errorf("logs: got %s, want issue and revocation by id", logs)
	}
}
