package main

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/go-playground/validator/v10"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"

	"github.com/phikit/phikit"
	"github.com/phikit/phikit/audit"
	"github.com/phikit/phikit/authn"
	"github.com/phikit/phikit/authn/authntest"
	"github.com/phikit/phikit/authz"
	"github.com/phikit/phikit/authz/breakglass"
	"github.com/phikit/phikit/authz/consent"
	"github.com/phikit/phikit/idempotency"
	"github.com/phikit/phikit/idempotency/pgstore"
	idemredis "github.com/phikit/phikit/idempotency/redisstore"
	"github.com/phikit/phikit/problem"
	"github.com/phikit/phikit/ratelimit"
	"github.com/phikit/phikit/ratelimit/redisstore"
	"github.com/phikit/phikit/validate"
	"github.com/phikit/phikit/validate/ident"
)

// options are the clinic's tunables and the shared stores it may keep its state in.
type options struct {
	ratePerSecond float64 // per user, after authentication
	rateBurst     int
	// redis, when set, keeps the rate limits and idempotency records (shared by every
	// replica); nil keeps them in this process.
	redis redis.UniversalClient
	// db, when set, keeps the idempotency records in PostgreSQL (before Redis).
	db *pgxpool.Pool
	// sealingKey seals stored responses (they hold PHI): 32 bytes, the same on every
	// replica sharing a store.
	sealingKey []byte
}

// defaultOptions suit a demo: a person never notices the limits, a script soon does.
func defaultOptions() options { return options{ratePerSecond: 10, rateBurst: 20} }

// trust names the issuer whose tokens the clinic accepts. An empty issuer means the
// clinic's own development issuer.
type trust struct {
	issuer, audience, jwksURL string
}

// service is the clinic's handler and, when it runs one, its development issuer.
type service struct {
	handler http.Handler
	dev     *authntest.Issuer
	alerts  *alerts // break-glass alerts fired
}

// careTeams is the clinic's (synthetic) treatment-relationship directory.
type careTeams map[string][]string

// OnCareTeam implements authz.CareTeam.
func (c careTeams) OnCareTeam(_ context.Context, user, patient string) (bool, error) {
	return slices.Contains(c[user], patient), nil
}

// alerts counts and logs break-glass alerts; a real service pages its privacy officer.
type alerts struct {
	mu     sync.Mutex
	n      int
	logger *slog.Logger
}

func (a *alerts) fire(ctx context.Context, g breakglass.Grant) {
	a.mu.Lock()
	a.n++
	a.mu.Unlock()
	a.logger.LogAttrs(ctx, slog.LevelWarn, "BREAK-GLASS ALERT: emergency access opened", slog.String("grant", g.ID), slog.String("reason", g.Reason))
}

func (a *alerts) count() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.n
}

// devIssuerPath is where the development issuer lives on the clinic's own address.
const devIssuerPath = "/dev-issuer/"

// newService wires the clinic's routes over st into phikit's chain, in the recommended
// order, for a server listening on addr. Each later phikit package adds its layer here.
func newService(addr net.Addr, tr trust, opts options, st *store, sink audit.Sink, logger *slog.Logger) (*service, error) {
	aud, err := audit.New(audit.Config{Sink: sink, Service: "clinic", Logger: logger})
	if err != nil {
		return nil, err
	}
	svc := &service{alerts: &alerts{logger: logger}}
	ic := authn.IssuerConfig{Issuer: tr.issuer, JWKSURL: tr.jwksURL, Audiences: []string{tr.audience},
		Algorithms: []string{"RS256", "ES256", "EdDSA"}}
	if tr.issuer == "" {
		if svc.dev, err = authntest.NewIssuer("http://" + addr.String() + devIssuerPath); err != nil {
			return nil, err
		}
		ic.Issuer, ic.JWKSURL, ic.Algorithms = svc.dev.URL(), svc.dev.URL()+"jwks.json", []string{"ES256"}
	}
	// Plain http only for an issuer (and key set) on this machine.
	ic.InsecureAllowHTTP = authn.IsLoopbackURL(ic.Issuer) && (ic.JWKSURL == "" || authn.IsLoopbackURL(ic.JWKSURL))
	auth, err := authn.New(authn.Config{Issuers: []authn.IssuerConfig{ic}, Realm: "clinic", Logger: logger})
	if err != nil {
		return nil, err
	}
	// Changing a patient's record needs multi-factor authentication in the last 15 minutes.
	stepUp, err := auth.RequireStepUp(authn.StepUp{AMR: []string{"mfa"}, MaxAge: 15 * time.Minute})
	if err != nil {
		return nil, err
	}

	// Authorization: SMART scopes, patient binding, the care team, consent, break-glass,
	// roles, purpose of use (treatment unless the request says otherwise), and minimum
	// necessary for billing.
	bg, err := breakglass.New(breakglass.Config{
		Store: breakglass.NewMemoryStore(), EntitledRoles: []string{"emergency"},
		Audit: sink, Service: "clinic", Alert: svc.alerts.fire, Logger: logger,
	})
	if err != nil {
		return nil, err
	}
	consents := consent.NewMemoryStore(nil)
	if err := consents.Put(context.Background(), consent.Rule{ID: "pat-3-no-research", Patient: "pat-3", Purpose: "HRESCH", Decision: consent.Deny}); err != nil {
		return nil, err
	}
	roles, err := authz.RolePolicy(map[string][]string{
		"physician": {"*.cruds"},
		"billing":   {"Patient.r"},
	})
	if err != nil {
		return nil, err
	}
	az, err := authz.New(authz.Config{
		CareTeam:   careTeams{"Practitioner/prac-1": {"pat-1", "pat-2"}},
		Consent:    consents,
		BreakGlass: bg,
		Policies:   []authz.Policy{roles},
		// The purpose of use is the issuer's word (the purpose_of_use claim), not the
		// client's: a billing clerk cannot drop HPAYMT to see identifiers, nor a
		// researcher HRESCH to escape a consent.
		RequireTokenPurpose: true,
		Withhold:            map[string][]string{"HPAYMT": {"Patient.identifier", "Patient.address", "Patient.telecom"}},
		Logger:              logger,
	})
	if err != nil {
		return nil, err
	}

	// Input: the strict JSON gate (64 KiB, duplicates, unknown fields, exact names) and
	// the healthcare tags, before the handlers.
	gate, err := validate.New(validate.Config{Register: func(v *validator.Validate) error {
		return v.RegisterValidation("patient_ref", func(fl validator.FieldLevel) bool {
			id, ok := strings.CutPrefix(fl.Field().String(), "Patient/")
			return ok && ident.FHIRID(id)
		})
	}, Logger: logger})
	if err != nil {
		return nil, err
	}
	patients, err := validate.NewBody[patient](gate)
	if err != nil {
		return nil, err
	}
	observations, err := validate.NewBody[observation](gate)
	if err != nil {
		return nil, err
	}

	// How much: per client address (no proxies in front of the clinic) before any token
	// work, then per user after authentication, where a search costs twice a read and a
	// bulk export a hundred times. With -redis the limits are shared by every replica.
	var store ratelimit.Store
	if opts.redis != nil {
		if store, err = redisstore.New(redisstore.Config{Client: opts.redis}); err != nil {
			return nil, err
		}
	}
	perAddress, err := newLimit(ratelimit.LimiterConfig{Rate: 100, Burst: 200}, ratelimit.Config{Store: store, Policy: "per-address", Logger: logger})
	if err != nil {
		return nil, err
	}
	costs := ratelimit.FHIRCosts("/fhir")
	costs["GET /fhir/{type}"] = 2
	cost, err := ratelimit.RouteCosts(1, costs)
	if err != nil {
		return nil, err
	}
	perUser, err := newLimit(ratelimit.LimiterConfig{Rate: opts.ratePerSecond, Burst: opts.rateBurst},
		ratelimit.Config{Store: store, Key: authn.KeyBySubject, Cost: cost, Policy: "per-user", Logger: logger})
	if err != nil {
		return nil, err
	}
	// Safe retries: a POST /fhir/Observation needs an Idempotency-Key (a retry gets the
	// first response, sealed at rest), and a PUT /fhir/Patient/{id} an If-Match naming the
	// version it read (FHIR's W/"versionId").
	idemStore, err := idempotencyStore(opts)
	if err != nil {
		return nil, err
	}
	sealer, err := idempotency.NewAESGCM(opts.sealingKey)
	if err != nil {
		return nil, err
	}
	idem, err := idempotency.New(idempotency.Config{Store: idemStore, Sealer: sealer, Key: authn.KeyBySubject,
		Logger: logger})
	if err != nil {
		return nil, err
	}
	pre, err := idempotency.NewPreconditions(idempotency.PreconditionConfig{
		Versioner: idempotency.VersionerFunc(func(r *http.Request) (string, bool, error) {
			p, ok := st.patient(r.PathValue("id"))
			if !ok {
				return "", false, nil
			}
			etag, err := idempotency.FHIRVersionETag(p.Meta.VersionID)
			return etag, true, err
		}),
		FHIR:   true,
		Logger: logger,
	})
	if err != nil {
		return nil, err
	}

	// And an adaptive bound on the requests in flight, which sheds with 503 when latency
	// climbs, before the clinic falls over.
	conc, err := ratelimit.NewConcurrency(ratelimit.ConcurrencyConfig{MinLimit: 10, MaxLimit: 200, Logger: logger})
	if err != nil {
		return nil, err
	}

	fhir := http.NewServeMux()
	fhir.HandleFunc("GET /fhir/Patient/{id}", st.getPatient)
	fhir.Handle("PUT /fhir/Patient/{id}", stepUp(patients.Handler(pre.Handler(http.HandlerFunc(st.putPatient)))))
	fhir.HandleFunc("GET /fhir/Observation", st.searchObservations)
	fhir.Handle("POST /fhir/Observation", observations.Handler(idem.Handler(http.HandlerFunc(st.postObservation))))

	root := http.NewServeMux()
	root.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"status":"ok"}`))
	})
	if svc.dev != nil {
		root.Handle("GET "+devIssuerPath+"jwks.json", svc.dev.JWKSHandler())
	}
	// A token, the user's limit, a slot in flight, a decision.
	root.Handle("/fhir/", auth.Handler(perUser.Handler(conc.Handler(az.Handler(audit.RecordRoute(fhir))))))
	root.Handle("POST /break-glass", auth.Handler(bg.Handler()))
	root.Handle("/", auth.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		problem.Write(w, r, problem.NotFound)
	})))
	svc.handler = phikit.Chain(
		phikit.RequestID,
		phikit.SecureHeaders,
		aud.Handler,
		perAddress.Handler,
	)(root)
	return svc, nil
}

// idempotencyStore is where idempotency records live: PostgreSQL, Redis, or memory.
func idempotencyStore(opts options) (idempotency.Store, error) {
	switch {
	case opts.db != nil:
		s, err := pgstore.New(pgstore.Config{Pool: opts.db})
		if err != nil {
			return nil, err
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		return s, s.CreateSchema(ctx)
	case opts.redis != nil:
		return idemredis.New(idemredis.Config{Client: opts.redis})
	}
	return idempotency.NewMemoryStore(idempotency.MemoryStoreConfig{})
}

// newLimit makes a rate-limit middleware with its limiter.
func newLimit(lc ratelimit.LimiterConfig, cfg ratelimit.Config) (*ratelimit.Middleware, error) {
	var err error
	if cfg.Limiter, err = ratelimit.NewLimiter(lc); err != nil {
		return nil, err
	}
	return ratelimit.New(cfg)
}

// devTokens mints the development issuer's ready-to-use tokens, by role.
func devTokens(dev *authntest.Issuer, audience string) (map[string]string, error) {
	now := time.Now().Unix()
	claims := map[string]map[string]any{
		// A physician in the clinic's EHR, signed in with MFA just now.
		// prac-1 is on the care team of pat-1 and pat-2, and may break the glass.
		"CLINICIAN": {"sub": "practitioner-1", "aud": audience, "client_id": "clinic-ehr",
			"fhirUser": "Practitioner/prac-1", "roles": []string{"physician", "emergency"},
			"scope": "user/Patient.rus user/Observation.crs", "amr": []string{"pwd", "mfa"}, "auth_time": now,
			"purpose_of_use": []string{"TREAT", "HRESCH"}},
		// A billing clerk, who sees patients without their identifiers (minimum necessary).
		"BILLING": {"sub": "billing-1", "aud": audience, "client_id": "clinic-billing",
			"fhirUser": "Practitioner/prac-1", "roles": []string{"billing"}, "scope": "user/Patient.r",
			"purpose_of_use": []string{"HPAYMT"}},
		// A SMART patient-facing app launched for pat-1 (scopes as an scp array).
		"PATIENT_APP": {"sub": "patient-user-1", "aud": audience, "client_id": "smart-patient-app",
			"patient": "pat-1", "scp": []string{"patient/Patient.rs", "patient/Observation.rs"}, "amr": []string{"pwd"}, "auth_time": now,
			"purpose_of_use": []string{"PATRQT"}},
		// A back-end lab feed using client credentials.
		"LAB_SERVICE": {"sub": "lab-feed", "aud": audience, "client_id": "lab-feed", "scope": "system/Observation.c",
			"purpose_of_use": []string{"TREAT"}},
	}
	out := map[string]string{}
	for name, c := range claims {
		tok, err := dev.Mint(c)
		if err != nil {
			return nil, err
		}
		out[name] = tok
	}
	return out, nil
}

func (st *store) getPatient(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	annotatePatient(r, id) // attempts on unknown ids are recorded too: they can be probes
	p, ok := st.patient(id)
	if !ok {
		problem.Write(w, r, problem.NotFound)
		return
	}
	writeVersioned(w, r, http.StatusOK, p)
}

// writeVersioned writes p with its version as the ETag a later If-Match names.
func writeVersioned(w http.ResponseWriter, r *http.Request, status int, p patient) {
	if etag, err := idempotency.FHIRVersionETag(p.Meta.VersionID); err == nil {
		w.Header().Set("ETag", etag)
	}
	writeFHIR(w, r, status, p)
}

func (st *store) putPatient(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	annotatePatient(r, id)
	p, _ := validate.FromContext[patient](r.Context()) // decoded and valid
	if p.ID != id {
		problem.Write(w, r, problem.InvalidRequest)
		return
	}
	// Write only over the version the If-Match was checked against: another update may
	// have landed since the check.
	checked, _ := idempotency.CheckedFromContext(r.Context())
	updated, err := st.updatePatient(p, checked.ETag.Opaque)
	switch {
	case errors.Is(err, errNotFound):
		problem.Write(w, r, problem.NotFound)
	case errors.Is(err, errVersionConflict):
		problem.Write(w, r, problem.PreconditionFailed)
	default:
		writeVersioned(w, r, http.StatusOK, updated)
	}
}

func annotatePatient(r *http.Request, id string) {
	audit.Annotate(r.Context(), func(e *audit.Event) {
		e.AddPatient(id)
		e.AddResource("Patient", id)
	})
}

type bundle struct {
	ResourceType string        `json:"resourceType"`
	Type         string        `json:"type"`
	Total        int           `json:"total"`
	Entry        []bundleEntry `json:"entry"`
}

type bundleEntry struct {
	Resource observation `json:"resource"`
}

func (st *store) searchObservations(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	values := q["patient"]
	if len(values) != 1 {
		problem.Write(w, r, problem.InvalidRequest)
		return
	}
	id := strings.TrimPrefix(values[0], "Patient/")
	audit.Annotate(r.Context(), func(e *audit.Event) {
		e.AddQuery("Observation", "patient="+id)
		e.AddPatient(id)
	})
	if _, ok := st.patient(id); !ok {
		problem.Write(w, r, problem.NotFound)
		return
	}
	obs := st.observationsFor(id)
	b := bundle{ResourceType: "Bundle", Type: "searchset", Total: len(obs), Entry: make([]bundleEntry, 0, len(obs))}
	for _, o := range obs {
		b.Entry = append(b.Entry, bundleEntry{Resource: o})
	}
	audit.Annotate(r.Context(), func(e *audit.Event) {
		for _, o := range obs {
			e.AddResource("Observation", o.ID)
		}
	})
	writeFHIR(w, r, http.StatusOK, b)
}

func (st *store) postObservation(w http.ResponseWriter, r *http.Request) {
	o, _ := validate.FromContext[observation](r.Context()) // decoded and valid
	patientID := strings.TrimPrefix(o.Subject.Reference, "Patient/")
	if _, ok := st.patient(patientID); !ok {
		problem.Write(w, r, problem.InvalidRequest)
		return
	}
	created := st.addObservation(o)
	audit.Annotate(r.Context(), func(e *audit.Event) {
		e.AddPatient(patientID)
		e.AddResource("Observation", created.ID)
	})
	w.Header().Set("Location", "/fhir/Observation/"+created.ID)
	writeFHIR(w, r, http.StatusCreated, created)
}

func writeFHIR(w http.ResponseWriter, r *http.Request, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil { // the clinic's own types always marshal
		problem.Write(w, r, problem.Internal)
		return
	}
	w.Header().Set("Content-Type", problem.ContentTypeFHIR)
	w.WriteHeader(status)
	_, _ = w.Write(body)
}
