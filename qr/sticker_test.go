package qr

import (
	"bytes"
	"strings"
	"testing"

	"github.com/qrpay/qrpay"
)

func testKeys() map[string][]byte {
	return map[string][]byte{
		"k1": bytes.Repeat([]byte{1}, 32),
		"k2": bytes.Repeat([]byte{2}, 48),
	}
}

func TestStickerRoundTrip(t *testing.T) {
	s, err := NewStickerSigner(testKeys(), "k2")
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"stk_01j9w4k2m3n4p5q6r7s8t9v0wx", "1", "a-b_c", strings.Repeat("z", 64),
		strings.Repeat("z", 65), "商户/1", "has.dot", "~tilde", "with space"} {
		tok := s.Token(id)
		if !strings.HasPrefix(tok, "k2.") {
			t.Errorf("token %q is not signed with the current key", tok)
		}
		if _, ok := StickerToken("https://pay.example.com/p/" + tok); !ok {
			t.Errorf("token %q is not URL-safe", tok)
		}
		got, kid, err := s.Verify(tok)
		if err != nil || got != id || kid != "k2" {
			t.Errorf("Verify(Token(%q)) = %q, %q, %v", id, got, kid, err)
		}
	}
	tok := s.Token("stk_01j9w4k2m3n4p5q6r7s8t9v0wx")
	if len(tok) != 56 {
		t.Errorf("token %q is %d characters, want 56", tok, len(tok))
	}
	// A sticker URL with such a token fits a small code: version 5 at level M holds 84 bytes.
	if u := "https://pay.example.com/p/" + tok; len(u) > 84 {
		t.Errorf("sticker URL %q is %d bytes", u, len(u))
	}
}

func TestStickerForgery(t *testing.T) {
	s, _ := NewStickerSigner(testKeys(), "k1")
	tok := s.Token("stk_1")
	kid, rest, _ := strings.Cut(tok, ".")
	sid, mac, _ := strings.Cut(rest, ".")
	flip := func(m string) string {
		b := []byte(m)
		if b[0] == 'A' {
			b[0] = 'B'
		} else {
			b[0] = 'A'
		}
		return string(b)
	}
	other, _ := NewStickerSigner(map[string][]byte{"k1": bytes.Repeat([]byte{9}, 32)}, "k1")
	for _, c := range []struct {
		name, token, code string
	}{
		{"other sticker id", kid + ".stk_2." + mac, qrpay.EUNAUTHORIZED},
		{"tampered mac", kid + "." + sid + "." + flip(mac), qrpay.EUNAUTHORIZED},
		{"other key id", "k2." + sid + "." + mac, qrpay.EUNAUTHORIZED},
		{"unknown key id", "k9." + sid + "." + mac, qrpay.EUNAUTHORIZED},
		{"signed with another key", other.Token("stk_1"), qrpay.EUNAUTHORIZED},
		{"empty", "", qrpay.EINVALID},
		{"one part", "garbage", qrpay.EINVALID},
		{"two parts", "k1.stk_1", qrpay.EINVALID},
		{"four parts", tok + ".x", qrpay.EINVALID},
		{"short mac", kid + "." + sid + "." + mac[:10], qrpay.EINVALID},
		{"mac not base64", kid + "." + sid + ".!!!!!!!!!!!!!!!!!!!!!!", qrpay.EINVALID},
		{"empty sticker id", kid + ".." + mac, qrpay.EINVALID},
		{"empty encoded id", kid + ".~." + mac, qrpay.EINVALID},
		{"bad key id", "k/1." + sid + "." + mac, qrpay.EINVALID},
		{"too long", strings.Repeat("a", 300), qrpay.EINVALID},
	} {
		t.Run(c.name, func(t *testing.T) {
			id, _, err := s.Verify(c.token)
			if !qrpay.IsCode(err, c.code) || id != "" {
				t.Fatalf("Verify(%q) = %q, %v; want %s", c.token, id, err, c.code)
			}
		})
	}
}

func TestStickerRotation(t *testing.T) {
	old, _ := NewStickerSigner(map[string][]byte{"k1": testKeys()["k1"]}, "k1")
	oldTok := old.Token("stk_old")
	rotated, err := NewStickerSigner(testKeys(), "k2")
	if err != nil {
		t.Fatal(err)
	}
	if id, kid, err := rotated.Verify(oldTok); err != nil || id != "stk_old" || kid != "k1" {
		t.Errorf("old token after rotation: %q, %q, %v", id, kid, err)
	}
	newTok := rotated.Token("stk_new")
	if !strings.HasPrefix(newTok, "k2.") {
		t.Errorf("new token %q does not use k2", newTok)
	}
	if _, _, err := old.Verify(newTok); !qrpay.IsCode(err, qrpay.EUNAUTHORIZED) {
		t.Errorf("a signer without k2 accepted %q: %v", newTok, err)
	}
	retired, _ := NewStickerSigner(map[string][]byte{"k2": testKeys()["k2"]}, "k2")
	if _, _, err := retired.Verify(oldTok); !qrpay.IsCode(err, qrpay.EUNAUTHORIZED) {
		t.Errorf("a retired key still verifies: %v", err)
	}
}

func TestNewStickerSignerErrors(t *testing.T) {
	for name, c := range map[string]struct {
		keys    map[string][]byte
		current string
	}{
		"short key":       {map[string][]byte{"k1": make([]byte, 31)}, "k1"},
		"no current":      {testKeys(), "k3"},
		"empty key id":    {map[string][]byte{"": make([]byte, 32)}, ""},
		"dotted key id":   {map[string][]byte{"k.1": make([]byte, 32)}, "k.1"},
		"long key id":     {map[string][]byte{strings.Repeat("k", 17): make([]byte, 32)}, strings.Repeat("k", 17)},
		"no keys at all":  {nil, "k1"},
		"key id is ~ b64": {map[string][]byte{"~k": make([]byte, 32)}, "~k"},
	} {
		if _, err := NewStickerSigner(c.keys, c.current); !qrpay.IsCode(err, qrpay.EINVALID) {
			t.Errorf("%s: %v, want EINVALID", name, err)
		}
	}
	// The signer keeps its own copy of the keys.
	keys := testKeys()
	s, _ := NewStickerSigner(keys, "k1")
	tok := s.Token("x")
	keys["k1"][0] ^= 0xFF
	if _, _, err := s.Verify(tok); err != nil {
		t.Errorf("changing the caller's key slice changed the signer: %v", err)
	}
}

func TestStickerToken(t *testing.T) {
	for in, want := range map[string]string{
		"https://pay.example.com/p/k1.stk_1.AAAA":          "k1.stk_1.AAAA",
		"http://127.0.0.1:8080/p/k1.stk_1.AAAA":            "k1.stk_1.AAAA",
		"HTTPS://PAY.EXAMPLE.COM/p/k1.stk_1.AAAA":          "k1.stk_1.AAAA",
		"https://pay.example.com/p/k1.stk_1.AAAA/":         "k1.stk_1.AAAA",
		"https://pay.example.com/p/k1.stk_1.AAAA?from=app": "k1.stk_1.AAAA",
		"https://pay.example.com/p/k1.stk_1.AAAA#x":        "k1.stk_1.AAAA",
		"  https://pay.example.com/p/k1.~5ZWG.AAAA\n":      "k1.~5ZWG.AAAA",
		"https://pay.example.com/p/":                       "",
		"https://pay.example.com/p":                        "",
		"https://pay.example.com/x/p/k1.a.b":               "",
		"https://pay.example.com/p/a/b":                    "",
		"https://pay.example.com/p/a%2Fb":                  "",
		"https://pay.example.com/P/k1.a.b":                 "",
		"ftp://pay.example.com/p/k1.a.b":                   "",
		"/p/k1.a.b":                                        "",
		"pay.example.com/p/k1.a.b":                         "",
		"https:///p/k1.a.b":                                "",
		"00020101021115312031041800520446JDBMSZZXE44BFS0":  "",
		"": "",
		"https://pay.example.com/p/" + strings.Repeat("a", 300): "",
	} {
		got, ok := StickerToken(in)
		if got != want || ok != (want != "") {
			t.Errorf("StickerToken(%q) = %q, %v; want %q", in, got, ok, want)
		}
	}
}
