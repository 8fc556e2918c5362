package session

import (
	"context"
	"errors"
	"time"
)

// Store keeps session blobs by session id. Implementations are safe for
// concurrent use.
type Store interface {
	// Get returns the blob saved under id. It returns an error wrapping
	// ErrNotFound when there is none (or it expired), and one wrapping
	// ErrUnavailable when the store cannot be reached.
	Get(ctx context.Context, id string) ([]byte, error)
	// Save stores data under id for ttl, replacing any previous blob.
	Save(ctx context.Context, id string, data []byte, ttl time.Duration) error
	// Delete removes id. Deleting an absent id is not an error.
	Delete(ctx context.Context, id string) error
}

var (
	// ErrNotFound is wrapped by Store.Get when no live session has the id.
	ErrNotFound = errors.New("session not found")
	// ErrUnavailable is wrapped by every error caused by a store that cannot
	// be reached (Redis down, timeouts); handlers answer 503 Service
	// Unavailable, never "logged out".
	ErrUnavailable = errors.New("session store unavailable")
	// ErrNoSession is returned by Manager.Load when the request has no
	// session cookie.
	ErrNoSession = errors.New("no session cookie")
	// ErrExpired is returned by Manager.Load when the cookie names no live
	// session: it timed out, was deleted at logout, or never existed.
	ErrExpired = errors.New("session expired")
)
