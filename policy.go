package apiguard

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
)

// A Policy decides whether verified claims may use a route. It returns nil
// to allow, or an error wrapping [ErrForbidden] (usually a
// *[ForbiddenError]) to refuse with 403.
type Policy func(*Claims) error

// RequireScopes allows tokens granted every one of scopes.
func RequireScopes(scopes ...string) Policy {
	return func(c *Claims) error {
		var missing []string
		for _, s := range scopes {
			if !c.HasScope(s) {
				missing = append(missing, s)
			}
		}
		if missing != nil {
			return &ForbiddenError{Scopes: missing, Detail: "missing scope " + strings.Join(missing, " ")}
		}
		return nil
	}
}

// RequireGroups allows tokens whose groups claim holds at least one of
// groups. Only the claim named "groups" counts: claim names are
// case-sensitive, and a "Groups" claim is another claim (see [Claims]).
func RequireGroups(groups ...string) Policy {
	return func(c *Claims) error {
		if slices.ContainsFunc(groups, c.InGroup) {
			return nil
		}
		return &ForbiddenError{Detail: "not in any of the groups " + strings.Join(groups, ", ")}
	}
}

// RequireClaim allows tokens whose claim name equals one of values or, for
// an array claim, contains one of them. Numbers and booleans compare by
// their JSON text ("1", "true"). With no values, the claim must be present.
// The name matches exactly: RequireClaim("groups") is not met by a "Groups"
// claim.
func RequireClaim(name string, values ...string) Policy {
	return func(c *Claims) error {
		var all map[string]json.RawMessage
		_ = json.Unmarshal(c.payload(), &all) // raw was decoded once already: it is valid JSON
		raw, ok := all[name]
		if !ok || string(raw) == "null" {
			return &ForbiddenError{Detail: fmt.Sprintf("no %s claim", name)}
		}
		if len(values) == 0 {
			return nil
		}
		var items []json.RawMessage
		if raw[0] != '[' || json.Unmarshal(raw, &items) != nil {
			items = []json.RawMessage{raw}
		}
		for _, item := range items {
			text := string(item)
			var s string
			if json.Unmarshal(item, &s) == nil {
				text = s
			}
			if slices.Contains(values, text) {
				return nil
			}
		}
		return &ForbiddenError{Detail: fmt.Sprintf("%s claim is not one of %s", name, strings.Join(values, ", "))}
	}
}
