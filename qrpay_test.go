package qrpay_test

import (
	"sort"
	"testing"
	"time"

	"github.com/qrpay/qrpay"
)

func TestNewIDSortsByTimeAndFitsEMVReference(t *testing.T) {
	base := time.Date(2026, 11, 25, 8, 0, 0, 0, time.UTC)
	var ids []string
	seen := map[string]bool{}
	for i := 0; i < 1000; i++ {
		id := qrpay.NewID("pay", base.Add(time.Duration(i)*time.Millisecond))
		if len(id) != 25 {
			t.Fatalf("len(%q) = %d, want 25 (EMV tag 62.05 holds 25)", id, len(id))
		}
		if seen[id] {
			t.Fatalf("duplicate id %q", id)
		}
		seen[id] = true
		ids = append(ids, id)
	}
	if !sort.StringsAreSorted(ids) {
		t.Fatal("ids made later do not sort later")
	}
}

// TestNewIDSameMillisecond: ids made one after another in the same millisecond sort in the
// order they were made (a list's "newest first" relies on it), and stay distinct.
func TestNewIDSameMillisecond(t *testing.T) {
	now := time.Date(2026, 11, 25, 8, 0, 0, 0, time.UTC)
	var ids []string
	seen := map[string]bool{}
	for range 1000 {
		id := qrpay.NewID("pay", now)
		if seen[id] || len(id) != 25 {
			t.Fatalf("id %q: duplicate or not 25 characters", id)
		}
		seen[id] = true
		ids = append(ids, id)
	}
	if !sort.StringsAreSorted(ids) {
		t.Fatal("ids made later in the same millisecond do not sort later")
	}
}

func TestRandomTokenAlphabet(t *testing.T) {
	tok := qrpay.RandomToken(20)
	if len(tok) != 32 {
		t.Fatalf("len = %d, want 32", len(tok))
	}
	for _, r := range tok {
		if !(r >= '0' && r <= '9' || r >= 'a' && r <= 'z') || r == 'i' || r == 'l' || r == 'o' || r == 'u' {
			t.Fatalf("token %q has %q outside Crockford base32", tok, r)
		}
	}
}
