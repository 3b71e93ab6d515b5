package unionpay_test

import (
	"encoding/json"
	"os"
	"testing"

	"github.com/qrpay/qrpay/gateway/unionpay"
	"github.com/qrpay/qrpay/qr"
)

// The public vectors in testdata/vectors.json are a trimmed copy of qrpay's shared vector set;
// its "_about" member and each vector's source say where they come from.

type vector struct {
	Kind     string          `json:"kind"`
	Input    json.RawMessage `json:"input"`
	Expected json.RawMessage `json:"expected"`
	Source   string          `json:"source"`
}

func (v vector) input() string {
	var s string
	if err := json.Unmarshal(v.Input, &s); err != nil {
		panic(err)
	}
	return s
}

func loadVectors(t *testing.T, kind string) []vector {
	t.Helper()
	data, err := os.ReadFile("testdata/vectors.json")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Vectors []vector `json:"vectors"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	var out []vector
	for _, v := range doc.Vectors {
		if v.Kind == kind {
			out = append(out, v)
		}
	}
	if len(out) == 0 {
		t.Fatalf("no %s vectors", kind)
	}
	return out
}

// TestLaosTag15 reads the public Laos payload, whose primitive tag 15 is acquirer IIN (8),
// forwarding IIN (8) and merchant id (15), and builds a static code for the same account: tag
// 15 comes out the same.
func TestLaosTag15(t *testing.T) {
	var laos string
	for _, v := range loadVectors(t, "emv_mpm_valid") {
		laos = v.input()
	}
	p, err := qr.Parse(laos)
	if err != nil || !p.CRCValid {
		t.Fatalf("%v %+v", err, p)
	}
	tag15 := p.Field("15")
	if len(tag15) != 31 {
		t.Fatalf("tag 15 %q", tag15)
	}
	testKeys(t)
	cfg := baseConfig("https://up.example", nil)
	cfg.AcquirerIIN, cfg.ForwardingIIN = tag15[:8], tag15[8:16]
	code, err := unionpay.StaticCode(cfg, tag15[16:], p.Field("59"), p.Field("60"), p.Field("52"))
	if err != nil {
		t.Fatal(err)
	}
	ours, err := qr.Parse(code)
	if err != nil || !ours.Valid() {
		t.Fatalf("%v %+v", err, ours)
	}
	if ours.Field("15") != tag15 || ours.Field("01") != p.Field("01") || ours.Field("59") != p.Field("59") {
		t.Fatalf("ours %q, the example %q", code, laos)
	}
}
