package web

import (
	"strings"
	"testing"

	"github.com/qrpay/qrpay/merchant"
)

// TestRuleMessagesTranslated: every rule of the merchant package has its Chinese and English
// message in the catalog, so that a form never shows a message key.
func TestRuleMessagesTranslated(t *testing.T) {
	for _, r := range merchant.FieldRules {
		key := "apply.err." + r.Key
		zh, en := translate(LangZH, key), translate(LangEN, key)
		if zh == key || en == key {
			t.Errorf("no message for rule %s", r.Key)
			continue
		}
		if zh == en {
			t.Errorf("rule %s is not translated to Chinese", r.Key)
		}
	}
	for _, ch := range merchant.Channels {
		if translate(LangZH, "channel."+ch) == "channel."+ch {
			t.Errorf("no name for channel %s", ch)
		}
	}
	for _, k := range merchant.DocumentKinds {
		for _, key := range []string{"apply." + k, "console.doc." + k} {
			if translate(LangZH, key) == key {
				t.Errorf("no message %s", key)
			}
		}
	}
	for _, st := range []string{"draft", "submitted", "approved", "rejected", "active", "frozen", "closed"} {
		for _, key := range []string{"console.status." + st, "apply.status_" + st} {
			if translate(LangZH, key) == key {
				t.Errorf("no message %s", key)
			}
		}
	}
}

// TestStickerSheet lays out more stickers than a page holds, with a name that mixes scripts.
func TestStickerSheet(t *testing.T) {
	items := make([]sheetItem, 13)
	for i := range items {
		items[i] = sheetItem{ID: "stk_" + strings.Repeat("x", i+1), URL: "https://pay.example.com/p/k1.stk_x.abc", Label: "门口"}
	}
	pdf, err := stickerSheet("KFC 肯德基（兰州店）名字很长很长很长很长", items)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(pdf), "%PDF") || !strings.Contains(string(pdf), "/Count 2") {
		t.Fatalf("not a two-page PDF: %d bytes", len(pdf))
	}
	// The font is embedded as a subset: the sheet stays small.
	if len(pdf) > 400<<10 {
		t.Errorf("sheet of 13 stickers is %d bytes", len(pdf))
	}
}
