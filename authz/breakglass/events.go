package breakglass

import (
	"context"

	"github.com/phikit/phikit/audit"
	"github.com/phikit/phikit/authn"
	"github.com/phikit/phikit/internal/reqid"
)

// The event types (audit.Event.Type) of the emergency-override events: DICOM
// (http://dicom.nema.org/resources/ontology/DCM) codes 110127 and 110138.
const (
	EventOverrideStarted = "DCM#110127" // Emergency Override Started
	EventOverrideStopped = "DCM#110138" // Emergency Override Stopped
)

// EntityType is the audit.Entity Type under which events record a grant
// (Kind audit.EntityResource, ID the grant's ID), so that an override's start, its stop
// and the requests made under it can be matched up.
const EntityType = "BreakGlassGrant"

// eventType sets e's DICOM event type. It is the one place that does.
func eventType(e *audit.Event, code string) { e.Type = code }

// event returns the emergency-override event of type code for g: action execute, the
// actor as agent (with p's details when p is the actor; p is nil for a sweep), the
// patient and the grant as entities, the grant's reason as purpose of use, and the
// request's correlation ids when ctx carries them. Its Decision says what the override
// now allows — Allow true for a start, false for a stop — with why as the reason
// ("breakglass.opened", "breakglass.closed", "breakglass.expired",
// "breakglass.store-failed").
func (b *BreakGlass) event(ctx context.Context, code string, g Grant, p *authn.Principal, outcome audit.Outcome, why string) *audit.Event {
	e := &audit.Event{
		Time:         b.now().UTC(),
		Action:       audit.ActionExecute,
		Outcome:      outcome,
		Agent:        audit.Agent{Subject: g.Actor},
		Source:       audit.Source{Service: b.service},
		PurposeOfUse: []string{g.Reason},
		Decision:     &audit.Decision{Allow: code == EventOverrideStarted, Reasons: []string{why}},
	}
	eventType(e, code)
	if p != nil && p.Subject == g.Actor {
		e.Agent.Issuer = p.Issuer
		e.Agent.Client = p.ClientID
		e.Agent.Roles = p.Roles
		e.Agent.AuthMethod = string(p.Method)
	}
	if ids, ok := reqid.FromContext(ctx); ok {
		e.RequestID, e.TraceID, e.SpanID = ids.RequestID, ids.TraceID, ids.SpanID
	}
	e.AddPatient(g.Patient)
	e.AddResource(EntityType, g.ID)
	return e
}
