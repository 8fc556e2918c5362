package gateway

import (
	"net/http"
	"net/url"
)

// serveAuth answers a forward-auth decision for the request described by
// X-Forwarded-Method/X-Forwarded-Uri (Traefik) or
// X-Original-Method/X-Original-URI (nginx). The token and a DPoP proof are
// read from the decision request's Authorization and DPoP headers (the
// proxy copies the client's); the proof's htm must be the forwarded method
// and its htu the DPoP checker's PublicURL plus the forwarded path.
// X-Forwarded-Proto and X-Forwarded-Host are not used: /auth may be
// reachable by clients, who could set them to anything.
func (g *Gateway) serveAuth(w http.ResponseWriter, r *http.Request) {
	sw := &statusWriter{ResponseWriter: w}
	name, reason := "", ""
	defer func() { g.metrics.count("auth", name, sw.status, reason) }()

	method := firstNonEmpty(r.Header.Get("X-Forwarded-Method"), r.Header.Get("X-Original-Method"), r.Method)
	uri := firstNonEmpty(r.Header.Get("X-Forwarded-Uri"), r.Header.Get("X-Original-Uri"))
	if uri == "" {
		reason = "bad_request"
		writeJSON(sw, http.StatusBadRequest, "invalid_request", "missing X-Forwarded-Uri or X-Original-URI")
		return
	}
	u, err := url.ParseRequestURI(uri)
	if err != nil {
		reason = "bad_request"
		writeJSON(sw, http.StatusBadRequest, "invalid_request", "unparsable forwarded URI")
		return
	}
	p, err := routePath(u)
	if err != nil {
		reason = "bad_path"
		writeJSON(sw, http.StatusBadRequest, "invalid_request", "path is not in canonical form")
		return
	}
	ru, canonical, err := g.rules.Load().resolve(method, p)
	if err == nil && canonical != method {
		// The proxy in front forwards the method as the client spelt it;
		// an upstream may route it differently from the canonical one.
		err = errMethodSpelling
	}
	if err != nil {
		reason = "bad_request"
		writeJSON(sw, http.StatusBadRequest, "invalid_request", err.Error())
		return
	}
	if ru == nil {
		reason = "no_route"
		writeJSON(sw, http.StatusNotFound, "not_found", "no route matches")
		return
	}
	name = ru.name
	if !ru.public {
		// Checked as the request it describes: a DPoP proof is for that
		// method and URL, not for GET /auth.
		fr := r.WithContext(r.Context())
		fr.Method, fr.URL, fr.RequestURI = method, u, uri
		claims, err := g.mw.Check(fr, ru.policies...)
		if err != nil {
			reason = g.refuse(sw, r, err)
			return
		}
		setIdentity(sw.Header(), claims)
	}
	sw.Header().Set("Cache-Control", "no-store")
	sw.WriteHeader(http.StatusOK)
}

func firstNonEmpty(vals ...string) string {
	for _, v := range vals {
		if v != "" {
			return v
		}
	}
	return ""
}
