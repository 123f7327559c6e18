package breakglass_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/phikit/phikit/audit"
	"github.com/phikit/phikit/authn"
	"github.com/phikit/phikit/authz/breakglass"
)

// A clinician with the emergency role, just authenticated with MFA, breaks the glass for
// a patient outside their care team; the authorizer then finds the grant; the clinician
// closes it when done.
func Example() {
	now := time.Date(2026, 11, 26, 2, 10, 0, 0, time.UTC)
	bg, err := breakglass.New(breakglass.Config{
		Store:         breakglass.NewMemoryStore(),
		EntitledRoles: []string{"emergency"},
		Audit: audit.SinkFunc(func(_ context.Context, e *audit.Event) error {
			fmt.Println("audit:", e.Type, e.Agent.Subject, e.Entities[0].ID, e.PurposeOfUse)
			return nil
		}),
		Alert: func(_ context.Context, g breakglass.Grant) {
			fmt.Println("alert: privacy officer paged about", g.Actor, "until", g.ExpiresAt.Format(time.Kitchen))
		},
		Service: "clinic",
		Now:     func() time.Time { return now },
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	ctx := context.Background()
	p := &authn.Principal{ // as authn.FromContext returns it
		Subject:  "prac-1",
		Roles:    []string{"clinician", "emergency"},
		AMR:      []string{"pwd", "mfa"},
		AuthTime: now.Add(-2 * time.Minute),
	}

	g, err := bg.Open(ctx, p, "pat-3", "ETREAT", "Unconscious in the ED; no records reachable.")
	if err != nil {
		fmt.Println(err)
		return
	}
	_, ok, _ := bg.Active(ctx, p, "pat-3")
	fmt.Println("pat-3 covered:", ok)
	_, ok, _ = bg.Active(ctx, p, "pat-4")
	fmt.Println("pat-4 covered:", ok)

	if err := bg.Close(ctx, p, g.ID); err != nil {
		fmt.Println(err)
		return
	}
	_, ok, _ = bg.Active(ctx, p, "pat-3")
	fmt.Println("pat-3 covered after close:", ok)
	// Output:
	// audit: DCM#110127 prac-1 pat-3 [ETREAT]
	// alert: privacy officer paged about prac-1 until 2:25AM
	// pat-3 covered: true
	// pat-4 covered: false
	// audit: DCM#110138 prac-1 pat-3 [ETREAT]
	// pat-3 covered after close: false
}

// Without a recent multi-factor login, Open asks for step-up.
func ExampleBreakGlass_Open_stepUp() {
	now := time.Date(2026, 11, 26, 2, 10, 0, 0, time.UTC)
	bg, _ := breakglass.New(breakglass.Config{
		Store:         breakglass.NewMemoryStore(),
		EntitledRoles: []string{"emergency"},
		Audit:         audit.SinkFunc(func(context.Context, *audit.Event) error { return nil }),
		Alert:         func(context.Context, breakglass.Grant) {},
		Now:           func() time.Time { return now },
	})
	p := &authn.Principal{
		Subject:  "prac-1",
		Roles:    []string{"emergency"},
		AMR:      []string{"pwd"},
		AuthTime: now.Add(-time.Hour),
	}
	_, err := bg.Open(context.Background(), p, "pat-3", "ETREAT", "Unconscious in the ED; no records reachable.")
	fmt.Println(errors.Is(err, breakglass.ErrStepUpRequired))
	// Output: true
}
