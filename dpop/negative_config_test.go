package dpop_test

import (
	"strings"
	"testing"
	"time"

	"github.com/apiguard/apiguard/dpop"
)

// TestNewRefusesNegativeSettings holds that a negative size or duration in
// dpop.Config is refused with an error naming the setting, where zero still
// means the default: a negative value is a mistake, not a request for the
// default.
func TestNewRefusesNegativeSettings(t *testing.T) {
	key := []byte(strings.Repeat("k", 32))
	for _, tc := range []struct {
		name    string
		cfg     dpop.Config
		setting string // "" when accepted
	}{
		{"NonceLifetime -1ns", dpop.Config{NonceKey: key, NonceLifetime: -1}, "Config.NonceLifetime"},
		{"NonceLifetime -5m", dpop.Config{NonceKey: key, NonceLifetime: -5 * time.Minute}, "Config.NonceLifetime"},
		{"NonceLifetime -1ns without NonceKey", dpop.Config{NonceLifetime: -1}, "Config.NonceLifetime"},
		{"NonceLifetime 0", dpop.Config{NonceKey: key}, ""},
		{"ReplayCacheSize -1", dpop.Config{ReplayCacheSize: -1}, "Config.ReplayCacheSize"},
		{"ReplayCacheSize 0", dpop.Config{}, ""},
		{"ReplayCacheSize 1", dpop.Config{ReplayCacheSize: 1}, ""},
		{"Window -1ns", dpop.Config{Window: -1}, "Config.Window"},
		{"Window 0", dpop.Config{Window: 0}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := dpop.New(tc.cfg)
			switch {
			case tc.setting == "" && err != nil:
				t.Errorf("dpop.New: %v, want accepted (0 means the default)", err)
			case tc.setting != "" && err == nil:
				t.Errorf("dpop.New accepted it, want an error naming %s", tc.setting)
			case tc.setting != "" && !strings.Contains(err.Error(), tc.setting):
				t.Errorf("dpop.New: %q does not name %s", err, tc.setting)
			}
		})
	}
}
