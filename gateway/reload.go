package gateway

import "fmt"

// Reload validates rules and, if they are good, swaps them in atomically
// for new requests; requests in flight keep the rules they started with.
// Bad rules return an error (a problem in a route is a *RouteError) and the
// running rules stay. Options cannot change at run time.
func (g *Gateway) Reload(rules Rules) error {
	rs, err := compile(rules)
	if err == nil {
		err = bind(rs, g.mw)
	}
	if err != nil {
		return fmt.Errorf("gateway: invalid rules: %w", err)
	}
	g.rules.Store(rs)
	return nil
}
