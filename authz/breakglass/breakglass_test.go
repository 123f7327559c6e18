package breakglass_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/phikit/phikit/audit"
	"github.com/phikit/phikit/authn"
	"github.com/phikit/phikit/authz/breakglass"
	"github.com/phikit/phikit/internal/reqid"
)

var ctx = context.Background()

func TestNew(t *testing.T) {
	valid := func() breakglass.Config {
		return breakglass.Config{
			Store:         breakglass.NewMemoryStore(),
			EntitledRoles: []string{"emergency"},
			Audit:         &sink{},
			Alert:         func(context.Context, breakglass.Grant) {},
		}
	}
	for _, tc := range []struct {
		name   string
		mod    func(*breakglass.Config)
		wantOK bool
	}{
		{"minimal", func(*breakglass.Config) {}, true},
		{"no store", func(c *breakglass.Config) { c.Store = nil }, false},
		{"no audit sink", func(c *breakglass.Config) { c.Audit = nil }, false},
		{"no alert", func(c *breakglass.Config) { c.Alert = nil }, false},
		{"no entitled roles", func(c *breakglass.Config) { c.EntitledRoles = nil }, false},
		{"empty entitled role", func(c *breakglass.Config) { c.EntitledRoles = []string{""} }, false},
		{"reasons given", func(c *breakglass.Config) { c.Reasons = []string{"ETREAT"} }, true},
		{"reasons empty, not nil", func(c *breakglass.Config) { c.Reasons = []string{} }, false},
		{"reason with a space", func(c *breakglass.Config) { c.Reasons = []string{"E TREAT"} }, false},
		{"duration 4h", func(c *breakglass.Config) { c.Duration = 4 * time.Hour }, true},
		{"duration over 4h", func(c *breakglass.Config) { c.Duration = 4*time.Hour + time.Nanosecond }, false},
		{"negative duration", func(c *breakglass.Config) { c.Duration = -time.Minute }, false},
		{"max auth age 1h", func(c *breakglass.Config) { c.MaxAuthAge = time.Hour }, true},
		{"max auth age over 1h", func(c *breakglass.Config) { c.MaxAuthAge = 2 * time.Hour }, false},
		{"negative max auth age", func(c *breakglass.Config) { c.MaxAuthAge = -1 }, false},
		{"amr hwk", func(c *breakglass.Config) { c.RequireAMR = []string{"hwk"} }, true},
		{"amr with a quote", func(c *breakglass.Config) { c.RequireAMR = []string{`m"fa`} }, false},
		{"acr with a space", func(c *breakglass.Config) { c.ACRValues = []string{"loa 3"} }, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := valid()
			tc.mod(&cfg)
			bg, err := breakglass.New(cfg)
			if (err == nil) != tc.wantOK || (bg != nil) != tc.wantOK {
				t.Errorf("New = %v, %v; want ok %v", bg != nil, err, tc.wantOK)
			}
		})
	}
}

// New copies the slices it is given.
func TestNewCopiesSlices(t *testing.T) {
	roles := []string{"emergency"}
	f := newFixture(t, func(c *breakglass.Config) { c.EntitledRoles = roles })
	roles[0] = "clinician"
	if _, err := f.bg.Open(ctx, clinician(epoch), "pat-3", "ETREAT", justification); err != nil {
		t.Errorf("Open after the caller changed its slice = %v, want nil", err)
	}
}

func TestOpenRefusals(t *testing.T) {
	type pmod = func(*authn.Principal)
	for _, tc := range []struct {
		name          string
		principal     []pmod
		nilPrincipal  bool
		patient       string
		reason        string
		justification string
		want          error
	}{
		{name: "allowed", want: nil},
		{name: "nil principal", nilPrincipal: true, want: breakglass.ErrNoPrincipal},
		{name: "no subject", principal: []pmod{func(p *authn.Principal) { p.Subject = "" }}, want: breakglass.ErrNoPrincipal},
		{name: "no roles", principal: []pmod{func(p *authn.Principal) { p.Roles = nil }}, want: breakglass.ErrNotEntitled},
		{name: "unknown reason", reason: "TREAT", want: breakglass.ErrInvalidReason},
		{name: "empty justification", justification: " ", want: breakglass.ErrJustificationRequired},
		{name: "empty patient", patient: "-", want: breakglass.ErrInvalidPatient},
		{name: "patient of 65 characters", patient: strings.Repeat("p", 65), want: breakglass.ErrInvalidPatient},
		{name: "patient of 64 characters", patient: strings.Repeat("p", 64), want: nil},
		{name: "patient with a slash", patient: "pat/3", want: breakglass.ErrInvalidPatient},
		{name: "stale auth_time", principal: []pmod{func(p *authn.Principal) { p.AuthTime = epoch.Add(-6 * time.Minute) }}, want: breakglass.ErrStepUpRequired},
		{name: "auth_time in the future", principal: []pmod{func(p *authn.Principal) { p.AuthTime = epoch.Add(time.Minute) }}, want: nil},
		{name: "no mfa", principal: []pmod{func(p *authn.Principal) { p.AMR = []string{"pwd", "otp"} }}, want: breakglass.ErrStepUpRequired},
		{name: "invalid input and stale: input first", reason: "X", principal: []pmod{func(p *authn.Principal) { p.AMR = nil }}, want: breakglass.ErrInvalidReason},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			p := clinician(epoch, tc.principal...)
			if tc.nilPrincipal {
				p = nil
			}
			patient, reason, just := "pat-3", "ETREAT", justification
			if tc.patient == "-" {
				patient = ""
			} else if tc.patient != "" {
				patient = tc.patient
			}
			if tc.reason != "" {
				reason = tc.reason
			}
			if tc.justification != "" {
				just = tc.justification
			}
			g, err := f.bg.Open(ctx, p, patient, reason, just)
			if !errors.Is(err, tc.want) || (tc.want == nil) != (err == nil) {
				t.Fatalf("Open = %v, want %v", err, tc.want)
			}
			if err != nil {
				if g != (breakglass.Grant{}) {
					t.Errorf("refused Open returned a grant: %v", g)
				}
				if evs := f.sink.all(); len(evs) != 0 {
					t.Errorf("refused Open wrote %d events, want 0", len(evs))
				}
				if pending, _ := f.bg.PendingReview(ctx); len(pending) != 0 {
					t.Errorf("refused Open stored %d grants", len(pending))
				}
				if patient != "" && strings.Contains(err.Error(), patient) || strings.TrimSpace(just) != "" && strings.Contains(err.Error(), just) {
					t.Errorf("error %q names the patient or the justification", err)
				}
			}
		})
	}
}

func TestStepUpErrorCarriesTheRequirement(t *testing.T) {
	f := newFixture(t, func(c *breakglass.Config) { c.MaxAuthAge = 2 * time.Minute })
	_, err := f.bg.Open(ctx, clinician(epoch, func(p *authn.Principal) { p.AuthTime = epoch.Add(-3 * time.Minute) }), "pat-3", "ETREAT", justification)
	if !errors.Is(err, breakglass.ErrStepUpRequired) || !errors.Is(err, authn.ErrInsufficientAuthentication) {
		t.Fatalf("Open = %v, want ErrStepUpRequired and authn.ErrInsufficientAuthentication", err)
	}
	var sue *authn.StepUpError
	if !errors.As(err, &sue) || sue.Required.MaxAge != 2*time.Minute || !slices.Equal(sue.Required.AMR, []string{"mfa"}) {
		t.Errorf("StepUpError = %+v, want MaxAge 2m, AMR [mfa]", sue)
	}
}

func TestOpenGrant(t *testing.T) {
	f := newFixture(t, func(c *breakglass.Config) { c.Duration = time.Hour })
	g := f.open(t, clinician(epoch), "pat-3")
	want := breakglass.Grant{
		ID: g.ID, Actor: "dr-a", ActorRef: "Practitioner/prac-1", Patient: "pat-3", Reason: "ETREAT",
		Justification: justification, OpenedAt: epoch, ExpiresAt: epoch.Add(time.Hour),
	}
	if g != want {
		t.Errorf("Open = %s\nwant %s", dump(g), dump(want))
	}
	if len(g.ID) != 32 || strings.Trim(g.ID, "0123456789abcdef") != "" {
		t.Errorf("ID = %q, want 32 lowercase hex characters", g.ID)
	}
	if other := f.open(t, clinician(epoch), "pat-4"); other.ID == g.ID {
		t.Errorf("two grants share the id %q", g.ID)
	}
}

func TestJustificationIsTrimmed(t *testing.T) {
	f := newFixture(t)
	g, err := f.bg.Open(ctx, clinician(epoch), "pat-3", "ETREAT", "\n  "+justification+"\t ")
	if err != nil || g.Justification != justification {
		t.Errorf("Open = %q, %v, want the trimmed justification", g.Justification, err)
	}
}

// A grant covers exactly its actor and its patient, and only while the actor is still
// entitled.
func TestActiveScope(t *testing.T) {
	f := newFixture(t)
	f.open(t, clinician(epoch), "pat-3")
	for _, tc := range []struct {
		name    string
		p       *authn.Principal
		patient string
		want    bool
	}{
		{"actor, patient in the grant", clinician(epoch), "pat-3", true},
		{"same actor, a token from another login", clinician(epoch, func(p *authn.Principal) { p.AuthTime = epoch.Add(-time.Hour); p.AMR = nil }), "pat-3", true},
		{"other patient", clinician(epoch), "pat-4", false},
		{"patient as a reference", clinician(epoch), "Patient/pat-3", false},
		{"empty patient", clinician(epoch), "", false},
		{"other actor, entitled", clinician(epoch, func(p *authn.Principal) { p.Subject = "dr-b" }), "pat-3", false},
		{"same actor, no longer entitled", clinician(epoch, func(p *authn.Principal) { p.Roles = []string{"clinician"} }), "pat-3", false},
		{"nil principal", nil, "pat-3", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, ok, err := f.bg.Active(ctx, tc.p, tc.patient)
			if err != nil || ok != tc.want {
				t.Errorf("Active = %v, %v, want %v, nil", ok, err, tc.want)
			}
		})
	}
}

// A grant is active strictly before ExpiresAt, on the fake clock.
func TestGrantExpires(t *testing.T) {
	f := newFixture(t) // 15 minutes
	p := clinician(epoch)
	f.open(t, p, "pat-3")
	for _, step := range []struct {
		advance time.Duration
		want    bool
	}{
		{0, true},
		{14 * time.Minute, true},
		{59*time.Second + 999*time.Millisecond, true},
		{time.Millisecond, false}, // exactly at ExpiresAt
		{time.Hour, false},
	} {
		f.clock.Advance(step.advance)
		if got := f.active(t, p, "pat-3"); got != step.want {
			t.Errorf("at %v: Active = %v, want %v", f.clock.Now().Sub(epoch), got, step.want)
		}
	}
	// Once expired, opening again opens a new grant (with a fresh step-up).
	g, err := f.bg.Open(ctx, clinician(f.clock.Now()), "pat-3", "ETREAT", justification)
	if err != nil || !g.OpenedAt.Equal(f.clock.Now()) {
		t.Errorf("Open after expiry = %v, %v, want a new grant", g, err)
	}
	if _, err := f.bg.Open(ctx, p, "pat-3", "ETREAT", justification); !errors.Is(err, breakglass.ErrStepUpRequired) {
		t.Errorf("Open after expiry with the old login = %v, want ErrStepUpRequired", err)
	}
}

func TestActiveFailsClosed(t *testing.T) {
	t.Run("store error", func(t *testing.T) {
		f := newFixture(t)
		f.store.failWith("Active", errBackend)
		_, ok, err := f.bg.Active(ctx, clinician(epoch), "pat-3")
		if ok || !errors.Is(err, breakglass.ErrStore) || !errors.Is(err, errBackend) {
			t.Errorf("Active = %v, %v, want false, ErrStore wrapping the cause", ok, err)
		}
	})
	for _, tc := range []struct {
		name string
		g    breakglass.Grant
	}{
		{"another actor's grant", breakglass.Grant{Actor: "dr-b", Patient: "pat-3", ExpiresAt: epoch.Add(time.Hour)}},
		{"another patient's grant", breakglass.Grant{Actor: "dr-a", Patient: "pat-4", ExpiresAt: epoch.Add(time.Hour)}},
		{"an expired grant", breakglass.Grant{Actor: "dr-a", Patient: "pat-3", ExpiresAt: epoch}},
		{"a closed grant", breakglass.Grant{Actor: "dr-a", Patient: "pat-3", ExpiresAt: epoch.Add(time.Hour), ClosedAt: epoch}},
	} {
		t.Run("store answers "+tc.name, func(t *testing.T) {
			f := newFixture(t)
			f.store.activeResult = &tc.g
			_, ok, err := f.bg.Active(ctx, clinician(epoch), "pat-3")
			if ok || !errors.Is(err, breakglass.ErrStore) {
				t.Errorf("Active = %v, %v, want false, ErrStore", ok, err)
			}
		})
	}
}

func TestOpenEvent(t *testing.T) {
	f := newFixture(t)
	ids := reqid.New(nil)
	g, err := f.bg.Open(reqid.NewContext(ctx, ids), clinician(epoch), "pat-3", "ETREAT", justification)
	if err != nil {
		t.Fatal(err)
	}
	evs := f.sink.all()
	if len(evs) != 1 {
		t.Fatalf("%d events, want 1", len(evs))
	}
	e := evs[0]
	want := audit.Event{
		Time:         epoch,
		RequestID:    ids.RequestID,
		TraceID:      ids.TraceID,
		SpanID:       ids.SpanID,
		Type:         "DCM#110127",
		Action:       audit.ActionExecute,
		Outcome:      audit.OutcomeSuccess,
		Agent:        audit.Agent{Subject: "dr-a", Issuer: "https://login.example-hospital.org/", Client: "ehr-app", Roles: []string{"clinician", "emergency"}, AuthMethod: "jwt"},
		Source:       audit.Source{Service: "clinic"},
		Entities:     []audit.Entity{{Kind: audit.EntityPatient, ID: "pat-3"}, {Kind: audit.EntityResource, Type: breakglass.EntityType, ID: g.ID}},
		PurposeOfUse: []string{"ETREAT"},
		Decision:     &audit.Decision{Allow: true, Reasons: []string{"breakglass.opened"}},
	}
	if got, wantJSON := jsonOf(t, e), jsonOf(t, want); got != wantJSON {
		t.Errorf("event =\n%s\nwant\n%s", got, wantJSON)
	}
	if strings.Contains(jsonOf(t, e), "Unconscious") {
		t.Error("the event holds the justification")
	}
}

// dump prints every field of g, which its own Format redacts.
func dump(g breakglass.Grant) string {
	return fmt.Sprintf("{ID:%q Actor:%q ActorRef:%q Patient:%q Reason:%q Justification:%q OpenedAt:%v ExpiresAt:%v ClosedAt:%v ReviewedAt:%v Reviewer:%q ReviewNote:%q}",
		g.ID, g.Actor, g.ActorRef, g.Patient, g.Reason, g.Justification, g.OpenedAt, g.ExpiresAt, g.ClosedAt, g.ReviewedAt, g.Reviewer, g.ReviewNote)
}

func jsonOf(t *testing.T, e audit.Event) string {
	t.Helper()
	var buf bytes.Buffer
	if err := audit.NewJSONLines(&buf).Write(ctx, &e); err != nil {
		t.Fatal(err)
	}
	return buf.String()
}

// The audit sink failing on open leaves no grant: nothing stored, no alert, not active.
func TestOpenAuditFailureOpensNothing(t *testing.T) {
	f := newFixture(t)
	f.sink.setErr(errBackend)
	p := clinician(epoch)
	g, err := f.bg.Open(ctx, p, "pat-3", "ETREAT", justification)
	if !errors.Is(err, breakglass.ErrAudit) || !errors.Is(err, errBackend) || g != (breakglass.Grant{}) {
		t.Fatalf("Open = %v, %v, want no grant, ErrAudit wrapping the cause", g, err)
	}
	if f.active(t, p, "pat-3") {
		t.Error("the grant is active without its 110127 event")
	}
	if pending, _ := f.bg.PendingReview(ctx); len(pending) != 0 {
		t.Errorf("%d grants stored, want 0", len(pending))
	}
	if n := len(f.alerts.all()); n != 0 {
		t.Errorf("Alert called %d times, want 0", n)
	}
	// The trail recovers: the next Open works.
	f.sink.setErr(nil)
	f.open(t, p, "pat-3")
}

// The store failing after the 110127 event: the grant is closed in case the write landed,
// and a 110138 follows, so the trail shows the override ended.
func TestOpenStoreFailureRecordsTheStop(t *testing.T) {
	for _, method := range []string{"Open", "Open after storing"} {
		t.Run(method, func(t *testing.T) {
			f := newFixture(t)
			f.store.failWith(method, errBackend)
			p := clinician(epoch)
			_, err := f.bg.Open(ctx, p, "pat-3", "ETREAT", justification)
			if !errors.Is(err, breakglass.ErrStore) || !errors.Is(err, errBackend) {
				t.Fatalf("Open = %v, want ErrStore wrapping the cause", err)
			}
			evs := f.sink.all()
			if len(evs) != 2 || evs[0].Type != breakglass.EventOverrideStarted || evs[1].Type != breakglass.EventOverrideStopped ||
				evs[1].Outcome != audit.OutcomeSeriousFailure || evs[0].Entities[1] != evs[1].Entities[1] {
				t.Errorf("events = %+v, want 110127 then 110138 (serious-failure) for the same grant", evs)
			}
			if n := len(f.alerts.all()); n != 0 {
				t.Errorf("Alert called %d times, want 0", n)
			}
			if f.active(t, p, "pat-3") {
				t.Error("grant active after a failed store")
			}
		})
	}
}

func TestOpenActiveLookupFailure(t *testing.T) {
	f := newFixture(t)
	f.store.failWith("Active", errBackend)
	if _, err := f.bg.Open(ctx, clinician(epoch), "pat-3", "ETREAT", justification); !errors.Is(err, breakglass.ErrStore) {
		t.Errorf("Open = %v, want ErrStore", err)
	}
	if n := len(f.sink.all()); n != 0 {
		t.Errorf("%d events, want 0", n)
	}
}

func TestAlertFiredOnceWithTheGrant(t *testing.T) {
	f := newFixture(t)
	p := clinician(epoch)
	g := f.open(t, p, "pat-3")
	f.open(t, p, "pat-3") // the grant held: no new alert
	got := f.alerts.all()
	if len(got) != 1 || got[0] != g {
		t.Fatalf("alerts = %d, first %v; want exactly one, with %v", len(got), got, g)
	}
	if got[0].Justification != justification || got[0].Patient != "pat-3" {
		t.Error("the alert's grant lacks the patient or the justification")
	}
}

// Alert runs after the grant is stored, and a panic in it is recovered and logged
// without the grant's contents; the grant stays open.
func TestAlertPanic(t *testing.T) {
	var logs bytes.Buffer
	var f *fixture
	storedWhenAlerted := false
	f = newFixture(t, func(c *breakglass.Config) {
		c.Logger = slog.New(slog.NewJSONHandler(&logs, nil))
		c.Alert = func(ctx context.Context, g breakglass.Grant) {
			_, storedWhenAlerted, _ = f.store.Get(ctx, g.ID)
			panic(fmt.Sprintf("pager down while paging about %s: %s", g.Patient, g.Justification))
		}
	})
	p := clinician(epoch)
	g := f.open(t, p, "pat-3")
	if !storedWhenAlerted {
		t.Error("Alert ran before the grant was stored")
	}
	if !f.active(t, p, "pat-3") {
		t.Error("the grant is not active after Alert panicked")
	}
	if !strings.Contains(logs.String(), "Alert panicked") || !strings.Contains(logs.String(), g.ID) {
		t.Errorf("log = %s, want the panic reported with the grant id", logs.String())
	}
	if strings.Contains(logs.String(), "pat-3") || strings.Contains(logs.String(), "Unconscious") {
		t.Errorf("log leaks the panic value: %s", logs.String())
	}
}

func TestClose(t *testing.T) {
	for _, tc := range []struct {
		name   string
		closer func(*authn.Principal)
		id     string // "" means the grant's
		want   error
	}{
		{name: "by its actor", want: nil},
		{name: "by its actor, no longer entitled", closer: func(p *authn.Principal) { p.Roles = nil }, want: nil},
		{name: "by another actor", closer: func(p *authn.Principal) { p.Subject = "dr-b" }, want: breakglass.ErrGrantNotFound},
		{name: "unknown id", id: "0123456789abcdef0123456789abcdef", want: breakglass.ErrGrantNotFound},
		{name: "overlong id", id: strings.Repeat("a", 129), want: breakglass.ErrGrantNotFound},
		{name: "no subject", closer: func(p *authn.Principal) { p.Subject = "" }, want: breakglass.ErrNoPrincipal},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			p := clinician(epoch)
			g := f.open(t, p, "pat-3")
			f.clock.Advance(3 * time.Minute)
			closer := clinician(epoch)
			if tc.closer != nil {
				tc.closer(closer)
			}
			id := tc.id
			if id == "" {
				id = g.ID
			}
			err := f.bg.Close(ctx, closer, id)
			if !errors.Is(err, tc.want) || (tc.want == nil) != (err == nil) {
				t.Fatalf("Close = %v, want %v", err, tc.want)
			}
			stops := f.sink.ofType(breakglass.EventOverrideStopped)
			if closed := tc.want == nil; closed {
				if f.active(t, p, "pat-3") {
					t.Error("grant still active after Close")
				}
				if len(stops) != 1 || stops[0].Agent.Subject != "dr-a" || !stops[0].Time.Equal(epoch.Add(3*time.Minute)) ||
					stops[0].Decision.Reasons[0] != "breakglass.closed" {
					t.Errorf("110138 events = %+v, want one for dr-a at +3m", stops)
				}
				stored, _, _ := f.store.Get(ctx, g.ID)
				if !stored.ClosedAt.Equal(epoch.Add(3 * time.Minute)) {
					t.Errorf("ClosedAt = %v, want %v", stored.ClosedAt, epoch.Add(3*time.Minute))
				}
				// Closing again does nothing.
				if err := f.bg.Close(ctx, p, g.ID); err != nil || len(f.sink.ofType(breakglass.EventOverrideStopped)) != 1 {
					t.Errorf("second Close = %v with %d stop events, want nil and still 1", err, len(f.sink.ofType(breakglass.EventOverrideStopped)))
				}
			} else {
				if !f.active(t, p, "pat-3") {
					t.Error("a refused Close closed the grant")
				}
				if len(stops) != 0 {
					t.Errorf("%d 110138 events, want 0", len(stops))
				}
			}
		})
	}
}

// Closing after expiry records the expiry as ClosedAt: that is when access ended.
func TestCloseAfterExpiry(t *testing.T) {
	f := newFixture(t)
	p := clinician(epoch)
	g := f.open(t, p, "pat-3")
	f.clock.Advance(time.Hour)
	if err := f.bg.Close(ctx, p, g.ID); err != nil {
		t.Fatal(err)
	}
	if stored, _, _ := f.store.Get(ctx, g.ID); !stored.ClosedAt.Equal(g.ExpiresAt) {
		t.Errorf("ClosedAt = %v, want ExpiresAt %v", stored.ClosedAt, g.ExpiresAt)
	}
}

// The sink failing on Close: the grant is closed anyway, and Close says the event is
// missing.
func TestCloseAuditFailureStillCloses(t *testing.T) {
	f := newFixture(t)
	p := clinician(epoch)
	g := f.open(t, p, "pat-3")
	f.sink.setErr(errBackend)
	if err := f.bg.Close(ctx, p, g.ID); !errors.Is(err, breakglass.ErrAudit) {
		t.Errorf("Close = %v, want ErrAudit", err)
	}
	if f.active(t, p, "pat-3") {
		t.Error("grant still active")
	}
}

func TestCloseStoreFailure(t *testing.T) {
	f := newFixture(t)
	p := clinician(epoch)
	g := f.open(t, p, "pat-3")
	f.store.failWith("Close", errBackend)
	if err := f.bg.Close(ctx, p, g.ID); !errors.Is(err, breakglass.ErrStore) {
		t.Errorf("Close = %v, want ErrStore", err)
	}
	if n := len(f.sink.ofType(breakglass.EventOverrideStopped)); n != 0 {
		t.Errorf("%d stop events for a grant not closed, want 0", n)
	}
}

func TestSweepExpired(t *testing.T) {
	f := newFixture(t)
	p := clinician(epoch)
	expiring := f.open(t, p, "pat-1")
	closed := f.open(t, p, "pat-2")
	if err := f.bg.Close(ctx, p, closed.ID); err != nil {
		t.Fatal(err)
	}
	f.clock.Advance(10 * time.Minute)
	later := f.open(t, clinician(f.clock.Now()), "pat-3") // expires at +25m

	for _, step := range []struct {
		advance time.Duration
		want    int
	}{
		{0, 0},
		{5 * time.Minute, 1}, // +15m: the first expires
		{time.Minute, 0},     // swept already
		{9 * time.Minute, 1}, // +25m: the third
		{time.Hour, 0},
	} {
		f.clock.Advance(step.advance)
		n, err := f.bg.SweepExpired(ctx)
		if err != nil || n != step.want {
			t.Errorf("at +%v: SweepExpired = %d, %v, want %d, nil", f.clock.Now().Sub(epoch), n, err, step.want)
		}
	}
	stops := f.sink.ofType(breakglass.EventOverrideStopped)
	var swept []string
	for _, e := range stops {
		if e.Decision.Reasons[0] == "breakglass.expired" {
			swept = append(swept, e.Entities[1].ID)
			if e.Agent.Subject != "dr-a" || e.Outcome != audit.OutcomeSuccess {
				t.Errorf("sweep event agent %q outcome %q", e.Agent.Subject, e.Outcome)
			}
		}
	}
	if want := []string{expiring.ID, later.ID}; !slices.Equal(swept, want) {
		t.Errorf("swept %v, want %v", swept, want)
	}
	if g, _, _ := f.store.Get(ctx, expiring.ID); !g.ClosedAt.Equal(expiring.ExpiresAt) {
		t.Errorf("swept grant ClosedAt = %v, want its ExpiresAt %v", g.ClosedAt, expiring.ExpiresAt)
	}
}

// Replicas sweeping at once write each grant's stop exactly once.
func TestSweepExpiredConcurrent(t *testing.T) {
	f := newFixture(t)
	for i := range 20 {
		f.open(t, clinician(epoch), fmt.Sprintf("pat-%d", i))
	}
	f.clock.Advance(time.Hour)
	var wg sync.WaitGroup
	counts := make([]int, 4)
	for i := range counts {
		wg.Go(func() {
			n, err := f.bg.SweepExpired(ctx)
			if err != nil {
				t.Errorf("SweepExpired = %v", err)
			}
			counts[i] = n
		})
	}
	wg.Wait()
	total := 0
	for _, n := range counts {
		total += n
	}
	if stops := len(f.sink.ofType(breakglass.EventOverrideStopped)); total != 20 || stops != 20 {
		t.Errorf("sweeps closed %d and wrote %d stop events, want 20 and 20", total, stops)
	}
}

func TestSweepExpiredErrors(t *testing.T) {
	f := newFixture(t)
	f.open(t, clinician(epoch), "pat-1")
	f.open(t, clinician(epoch), "pat-2")
	f.clock.Advance(time.Hour)
	f.sink.setErr(errBackend)
	n, err := f.bg.SweepExpired(ctx)
	if n != 2 || !errors.Is(err, breakglass.ErrAudit) {
		t.Errorf("SweepExpired with a failing sink = %d, %v; want 2 closed, ErrAudit", n, err)
	}
	f.store.failWith("Close", errBackend)
	f.sink.setErr(nil)
	f.open(t, clinician(f.clock.Now()), "pat-3")
	f.clock.Advance(time.Hour)
	if n, err := f.bg.SweepExpired(ctx); n != 0 || !errors.Is(err, breakglass.ErrStore) {
		t.Errorf("SweepExpired with a failing store = %d, %v; want 0, ErrStore", n, err)
	}
}

func TestReviewQueue(t *testing.T) {
	f := newFixture(t)
	a := f.open(t, clinician(epoch), "pat-1")
	f.clock.Advance(time.Minute)
	b := f.open(t, clinician(f.clock.Now(), func(p *authn.Principal) { p.Subject = "dr-b" }), "pat-1")
	f.clock.Advance(time.Minute)
	c := f.open(t, clinician(f.clock.Now()), "pat-2")

	pending := func() []string {
		t.Helper()
		gs, err := f.bg.PendingReview(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, g := range gs {
			ids = append(ids, g.ID)
		}
		return ids
	}
	if got, want := pending(), []string{a.ID, b.ID, c.ID}; !slices.Equal(got, want) {
		t.Fatalf("PendingReview = %v, want %v (oldest first)", got, want)
	}

	for _, tc := range []struct {
		name, id, reviewer, note string
		want                     error
	}{
		{"by a privacy officer", b.ID, "privacy-officer", "Appropriate: ED admission.", nil},
		{"again", b.ID, "privacy-officer", "", breakglass.ErrAlreadyReviewed},
		{"by the actor", a.ID, "dr-a", "Fine by me.", breakglass.ErrSelfReview},
		{"without a reviewer", a.ID, "", "", breakglass.ErrInvalidReview},
		{"note too long", a.ID, "privacy-officer", strings.Repeat("n", breakglass.MaxReviewNote+1), breakglass.ErrInvalidReview},
		{"note at the limit", a.ID, "privacy-officer", strings.Repeat("n", breakglass.MaxReviewNote), nil},
		{"unknown grant", "0123456789abcdef0123456789abcdef", "privacy-officer", "", breakglass.ErrGrantNotFound},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := f.bg.Review(ctx, tc.id, tc.reviewer, tc.note)
			if !errors.Is(err, tc.want) || (tc.want == nil) != (err == nil) {
				t.Errorf("Review = %v, want %v", err, tc.want)
			}
		})
	}
	if got, want := pending(), []string{c.ID}; !slices.Equal(got, want) {
		t.Errorf("PendingReview after reviews = %v, want %v", got, want)
	}
	if g, _, _ := f.store.Get(ctx, b.ID); g.Reviewer != "privacy-officer" || !g.ReviewedAt.Equal(f.clock.Now()) {
		t.Errorf("reviewed grant = %q at %v", g.Reviewer, g.ReviewedAt)
	}
}

// A Grant printed or logged shows neither the patient nor the justification.
func TestGrantRedacted(t *testing.T) {
	g := breakglass.Grant{
		ID: "g1", Actor: "dr-a", Patient: "pat-secret", Reason: "ETREAT", Justification: "overdose suspected",
		OpenedAt: epoch, ExpiresAt: epoch.Add(time.Minute), ReviewNote: "note-secret",
	}
	var logs bytes.Buffer
	slog.New(slog.NewJSONHandler(&logs, nil)).Info("grant", "grant", g)
	for _, s := range []string{fmt.Sprint(g), fmt.Sprintf("%+v", g), fmt.Sprintf("%#v", g), fmt.Sprintf("%s", g), fmt.Sprintf("%v", &g), logs.String()} {
		if strings.Contains(s, "pat-secret") || strings.Contains(s, "overdose") || strings.Contains(s, "note-secret") {
			t.Errorf("leaks: %s", s)
		}
		if !strings.Contains(s, "g1") {
			t.Errorf("no id: %s", s)
		}
	}
}
