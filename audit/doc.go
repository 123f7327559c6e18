// Package audit records one audit event for every request: who called, what they did to
// which patient's data, why, what was decided, and how it ended. The Event is shaped after
// FHIR AuditEvent and the IHE Basic Audit Log Patterns (BALP).
//
// The Middleware opens the record when a request arrives and puts it in the request
// context. phikit's other packages and the team's handlers add to it with Annotate (a
// no-op where no audit middleware runs). When the response is done — normally, with
// nothing written, after a panic, after a hijack, or with the client gone — the
// middleware emits exactly one Event to a Sink.
//
//	f, err := os.OpenFile("audit.jsonl", os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
//	if err != nil {
//		return err
//	}
//	aud, err := audit.New(audit.Config{Sink: audit.NewJSONLines(f), Service: "clinic"})
//	if err != nil {
//		return err
//	}
//	mux.HandleFunc("GET /fhir/Patient/{id}", func(w http.ResponseWriter, r *http.Request) {
//		id := r.PathValue("id")
//		audit.Annotate(r.Context(), func(e *audit.Event) { e.AddPatient(id) })
//		…
//	})
//	http.ListenAndServe(addr, phikit.Chain(phikit.RequestID, phikit.SecureHeaders, aud.Handler)(mux))
//
// Sinks: JSONLines writes one JSON object per line to any io.Writer; FanOut sends each
// event to several sinks and fails when a required one fails. Durable, tamper-evident
// sinks build on the same Sink interface.
//
// # Security considerations
//
// The audit trail is itself PHI: it names patients and the people who looked at them.
// Store it with the same protection as the clinical data, and keep it apart from
// operational logs, which must stay PHI-free. This package logs to Config.Logger only
// operational facts: a sink's failure, a panic's type and stack — never an event's
// contents or a panic's value. A Sink's errors are logged, so a Sink must not put event
// contents in them.
//
// The middleware fails closed. If the sink fails, the request is answered 503 when its
// handler had not yet written, or its connection is aborted when it had (so that net/http
// never sends what it still holds back), and every later request is refused with a 503
// problem before its handler runs, until an event is written again. A sink that blocks
// holds up requests rather than letting them complete unrecorded. A response large enough
// to have been partly sent before the sink failed arrives truncated; the failure is logged
// with the request id.
//
// Route: the middleware records the http.ServeMux pattern that matched when the mux sits
// directly inside it; with other middleware in between, wrap the mux in RecordRoute.
//
// The network address recorded by default is the connection's peer. Behind a proxy, a
// trusted-proxy resolver (package ratelimit) annotates the real client address.
//
// Events are written synchronously: a slow sink adds its latency to every request. The
// JSONLines encoder does not allocate and costs less than logging the same fields with
// log/slog (see the package benchmarks).
package audit
