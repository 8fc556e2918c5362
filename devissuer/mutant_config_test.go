package devissuer_test

import (
	"strings"
	"testing"

	"github.com/apiguard/apiguard/devissuer"
)

// TestNewNamesTheIncompleteUser: a user without a password is refused with
// an error counting users from 1, as a person reading the configuration
// does.
func TestNewNamesTheIncompleteUser(t *testing.T) {
	cfg := testConfig()
	cfg.Issuer = "http://127.0.0.1:9/oauth2/default"
	cfg.Users[0].Password = ""
	_, err := devissuer.New(cfg)
	if err == nil || !strings.Contains(err.Error(), "user 1 needs a username and a password") {
		t.Errorf("New with user 1 lacking a password: %v, want it named as user 1", err)
	}
}
