package audit

import (
	"net/http"
	"time"
)

// Event is the audit record of one request, shaped after FHIR AuditEvent and the IHE Basic
// Audit Log Patterns (BALP): who did what to which patient's data, why, what was decided,
// and how it ended. The audit middleware fills the request's own facts; phikit's other
// packages and the team's handlers add theirs with Annotate.
//
// The JSON form (AppendJSON, and encoding/json through the struct tags, which give the same
// bytes) is stable: fields are only ever added.
type Event struct {
	// Time is when the response was done (the event's recorded time), in UTC.
	Time time.Time `json:"time"`
	// RequestID, TraceID and SpanID correlate the event with the response's X-Request-Id
	// header, problem bodies, traces and operational logs.
	RequestID string `json:"request_id"`
	TraceID   string `json:"trace_id,omitempty"`
	SpanID    string `json:"span_id,omitempty"`

	// Type classifies an event that is not an ordinary request, as a code with its
	// system: "DCM#110127" (Emergency Override Started), "DCM#110138" (Emergency
	// Override Stopped). Empty for the per-request events of the middleware.
	Type string `json:"type,omitempty"`
	// Action is what the request did: create, read, update, delete or execute. The
	// middleware derives it from the method; a handler may correct it (a FHIR search sent as
	// POST is a read; an $operation is an execute).
	Action Action `json:"action"`
	// Outcome summarises how the request ended; see the Outcome constants.
	Outcome Outcome `json:"outcome"`

	// Method, Path and Route describe the request: Route is the http.ServeMux pattern that
	// matched ("GET /fhir/Patient/{id}"), empty when no pattern matched.
	Method string `json:"method"`
	Path   string `json:"path"`
	Route  string `json:"route,omitempty"`

	// Status is the HTTP status the client received; 499 when the client went away before
	// any response was written. Bytes is the number of response body bytes written.
	Status int   `json:"status"`
	Bytes  int64 `json:"bytes"`
	// Latency is the time from the request reaching the middleware to the response being
	// done.
	Latency time.Duration `json:"latency_ns"`
	// ClientGone reports that the request's context was cancelled before the response was
	// done: the client disconnected or the server is shutting down.
	ClientGone bool `json:"client_gone,omitempty"`

	// Agent is who made the request.
	Agent Agent `json:"agent"`
	// Source is the service that observed and recorded the request.
	Source Source `json:"source"`
	// Entities are the patients, resources and queries the request touched.
	Entities []Entity `json:"entity,omitempty"`
	// PurposeOfUse holds the HL7 PurposeOfUse codes (TREAT, ETREAT, HPAYMT, …) the request
	// was made under.
	PurposeOfUse []string `json:"purpose_of_use,omitempty"`
	// Decision is the authorization decision; nil when no authorization step ran.
	Decision *Decision `json:"decision,omitempty"`
	// Rejection names the category of a request phikit refused before the handler ran
	// ("audit.unavailable", "validate.unknown-field", …); empty otherwise.
	Rejection string `json:"rejection,omitempty"`
	// Notes are facts a layer recorded that are neither a decision nor a refusal, such as
	// "ratelimit.fallback": the limit was decided in this process while the shared store
	// was failing.
	Notes []string `json:"notes,omitempty"`
}

// Agent is the party that made the request (AuditEvent.agent).
type Agent struct {
	// Subject is the authenticated user or system (the token's sub).
	Subject string `json:"subject,omitempty"`
	// Issuer is the identity provider that vouched for Subject.
	Issuer string `json:"issuer,omitempty"`
	// Client is the OAuth client (for a SMART app, its client_id).
	Client string `json:"client,omitempty"`
	// Roles are the roles the caller acted under.
	Roles []string `json:"roles,omitempty"`
	// AuthMethod is how the caller authenticated ("jwt", "introspection", "mtls",
	// "api-key", …); empty when unauthenticated.
	AuthMethod string `json:"auth_method,omitempty"`
	// Address is the caller's network address: the connection's peer by default, the
	// resolved client address when a trusted-proxy resolver ran.
	Address string `json:"address,omitempty"`
}

// Source is the service that recorded the event (AuditEvent.source).
type Source struct {
	// Service is the name given in Config.Service.
	Service string `json:"service,omitempty"`
}

// EntityKind says what an Entity is.
type EntityKind string

// Entity kinds, after the BALP entity roles.
const (
	// EntityPatient is a patient whose data the request touched; ID is the patient id.
	EntityPatient EntityKind = "patient"
	// EntityResource is a resource the request touched; Type and ID name it.
	EntityResource EntityKind = "resource"
	// EntityQuery is a search the request ran; Type is the resource type searched and
	// Query the query string.
	EntityQuery EntityKind = "query"
)

// Entity is one thing the request touched (AuditEvent.entity).
type Entity struct {
	Kind  EntityKind `json:"kind"`
	Type  string     `json:"type,omitempty"`
	ID    string     `json:"id,omitempty"`
	Query string     `json:"query,omitempty"`
}

// Decision is an authorization decision and why it was taken.
type Decision struct {
	Allow   bool     `json:"allow"`
	Reasons []string `json:"reasons,omitempty"`
}

// AddPatient records that the request touched the data of the patient with this id.
// Repeated ids are recorded once.
func (e *Event) AddPatient(id string) { e.addEntity(Entity{Kind: EntityPatient, ID: id}) }

// AddResource records that the request touched the resource typ/id.
// Repeated resources are recorded once.
func (e *Event) AddResource(typ, id string) {
	e.addEntity(Entity{Kind: EntityResource, Type: typ, ID: id})
}

// AddQuery records a search over resources of type typ with the given query string.
func (e *Event) AddQuery(typ, query string) {
	e.addEntity(Entity{Kind: EntityQuery, Type: typ, Query: query})
}

func (e *Event) addEntity(n Entity) {
	for _, have := range e.Entities {
		if have == n {
			return
		}
	}
	e.Entities = append(e.Entities, n)
}

// Action is what a request did, as FHIR AuditEvent.action codes it.
type Action string

// The FHIR AuditEvent actions.
const (
	ActionCreate  Action = "C"
	ActionRead    Action = "R"
	ActionUpdate  Action = "U"
	ActionDelete  Action = "D"
	ActionExecute Action = "E"
)

// ActionForMethod returns the action an HTTP method usually performs: POST creates, GET
// and HEAD read, PUT and PATCH update, DELETE deletes, anything else executes.
func ActionForMethod(method string) Action {
	switch method {
	case http.MethodGet, http.MethodHead:
		return ActionRead
	case http.MethodPost:
		return ActionCreate
	case http.MethodPut, http.MethodPatch:
		return ActionUpdate
	case http.MethodDelete:
		return ActionDelete
	default:
		return ActionExecute
	}
}

// Outcome summarises how a request ended, after FHIR AuditEvent.outcome (codes 0, 4, 8
// and 12).
type Outcome string

// The outcomes.
const (
	// OutcomeSuccess (0): a 1xx, 2xx or 3xx response.
	OutcomeSuccess Outcome = "success"
	// OutcomeMinorFailure (4): a 4xx response, or a client that went away.
	OutcomeMinorFailure Outcome = "minor-failure"
	// OutcomeSeriousFailure (8): a 5xx response.
	OutcomeSeriousFailure Outcome = "serious-failure"
	// OutcomeMajorFailure (12): the handler panicked.
	OutcomeMajorFailure Outcome = "major-failure"
)

func outcomeForStatus(status int) Outcome {
	switch {
	case status >= 500:
		return OutcomeSeriousFailure
	case status >= 400:
		return OutcomeMinorFailure
	default:
		return OutcomeSuccess
	}
}
