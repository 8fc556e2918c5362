package gateway

import (
	"net/http"
	"strings"

	"github.com/apiguard/apiguard"
)

// Identity headers the gateway sends upstream (and answers /auth with).
// Any inbound header with the X-Auth- prefix is removed first.
const (
	HeaderSubject  = "X-Auth-Subject"   // the token's sub
	HeaderClientID = "X-Auth-Client-Id" // cid / client_id / azp
	HeaderScopes   = "X-Auth-Scopes"    // granted scopes, space-separated
	HeaderGroups   = "X-Auth-Groups"    // groups, comma-separated
)

// setIdentity adds the identity headers for claims (none when nil).
func setIdentity(h http.Header, c *apiguard.Claims) {
	if c == nil {
		return
	}
	if c.Subject != "" {
		h.Set(HeaderSubject, c.Subject)
	}
	if c.ClientID != "" {
		h.Set(HeaderClientID, c.ClientID)
	}
	if len(c.Scopes) > 0 {
		h.Set(HeaderScopes, strings.Join(c.Scopes, " "))
	}
	if len(c.Groups) > 0 {
		h.Set(HeaderGroups, strings.Join(c.Groups, ","))
	}
}
