package authz

import (
	"context"
	"fmt"
	"strings"
)

// RolePolicy returns a Policy that maps roles to permissions for requests made in the
// user context: a user's request is permitted only when one of the principal's roles
// grants it, on top of what the token's scopes allow (effective access is the
// intersection). grants maps a role to permissions written like a scope's resource part:
// "Patient.rs", "Observation.cruds", "*.r". Requests in the patient and system contexts
// are NotApplicable.
func RolePolicy(grants map[string][]string) (Policy, error) {
	type grant struct {
		typ   string
		perms Perms
	}
	table := map[string][]grant{}
	for role, list := range grants {
		if role == "" {
			return nil, fmt.Errorf("authz: RolePolicy: empty role name")
		}
		for _, g := range list {
			sc, err := ParseScope("user/" + g)
			if err != nil || sc.Query != nil {
				return nil, fmt.Errorf("authz: RolePolicy: role %q: permission %q is not Type.perms", role, g)
			}
			table[role] = append(table[role], grant{sc.Type, sc.Perms})
		}
	}
	return PolicyFunc(func(_ context.Context, req *Request) (Effect, string, error) {
		if req.Context != ContextUser {
			return NotApplicable, "", nil
		}
		perm := req.Target.Interaction.Perm()
		for _, role := range req.Principal.Roles {
			for _, g := range table[role] {
				if g.perms&perm != 0 && (g.typ == "*" || g.typ == req.Target.Type) {
					return Permit, "role " + role + " grants " + g.typ + "." + perm.String(), nil
				}
			}
		}
		return Deny, "no role grants " + req.Target.Type + "." + perm.String() + " (roles: " + strings.Join(req.Principal.Roles, ",") + ")", nil
	}), nil
}
