package session

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"testing"
)

// TestSealedBlobsOfEarlierReleases: blobs sealed by an earlier release
// (testdata/sealed-v1.json) still open, under the current secret and, for
// one sealed before a rotation, under the previous one; and only under
// their own session id.
func TestSealedBlobsOfEarlierReleases(t *testing.T) {
	raw, err := os.ReadFile("testdata/sealed-v1.json")
	if err != nil {
		t.Fatal(err)
	}
	var v struct {
		Secret         string `json:"secret"`
		PreviousSecret string `json:"previous_secret"`
		Blobs          []struct {
			SealedWith string `json:"sealed_with"`
			ID         string `json:"id"`
			Plaintext  string `json:"plaintext"`
			Hex        string `json:"hex"`
		} `json:"blobs"`
	}
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatal(err)
	}
	s, err := newSealer([]byte(v.Secret), [][]byte{[]byte(v.PreviousSecret)})
	if err != nil {
		t.Fatal(err)
	}
	withoutPrevious, err := newSealer([]byte(v.Secret), nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range v.Blobs {
		blob, err := hex.DecodeString(b.Hex)
		if err != nil {
			t.Fatal(err)
		}
		got, err := s.Open(b.ID, blob)
		if err != nil || string(got) != b.Plaintext {
			t.Errorf("Open(%s, blob sealed with the %s) = %q, %v; want %q", b.ID, b.SealedWith, got, err, b.Plaintext)
		}
		if _, err := s.Open(b.ID+"x", blob); !errors.Is(err, errOpen) {
			t.Errorf("blob of %s opened under another id: got %v, want errOpen", b.ID, err)
		}
		_, err = withoutPrevious.Open(b.ID, blob)
		if wantOpen := b.SealedWith == "secret"; (err == nil) != wantOpen {
			t.Errorf("blob sealed with the %s, opened without the previous secret: got %v", b.SealedWith, err)
		}
	}
}
