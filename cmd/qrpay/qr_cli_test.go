package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/qrpay/qrpay/client"
	"github.com/qrpay/qrpay/qr"
	"github.com/qrpay/qrpay/store"
)

// runCLI runs the qrpay command line and returns its exit code and output.
func runCLI(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := exitCode(run(context.Background(), args, &out, &errOut), &errOut)
	return code, out.String(), errOut.String()
}

const bestTransport = "00020101021229300012D156000000000510A93FO3230Q31280012D15600000001030812345678520441115802CN5914BEST TRANSPORT6007BEIJING64200002ZH0104最佳运输0202北京540523.7253031565502016233030412340603***0708A60086670902ME91320016A0112233449988770708123456786304A13A"

func TestQRCommands(t *testing.T) {
	code, out, _ := runCLI(t, "qr", "parse", bestTransport)
	var rep qr.Report
	if err := json.Unmarshal([]byte(out), &rep); err != nil || code != 0 || !rep.Valid || !rep.CRCValid || rep.MerchantName != "BEST TRANSPORT" || rep.Amount != "23.72" {
		t.Fatalf("parse: exit %d %+v %v", code, rep, err)
	}
	code, out, _ = runCLI(t, "qr", "parse", bestTransport[:len(bestTransport)-4]+"0000")
	json.Unmarshal([]byte(out), &rep)
	if code != 1 || rep.Valid || rep.CRCValid {
		t.Fatalf("a wrong CRC: exit %d %+v", code, rep)
	}
	if code, _, stderr := runCLI(t, "qr", "parse"); code != 2 || !strings.Contains(stderr, "usage") {
		t.Fatalf("no payload: exit %d %q", code, stderr)
	}
	if code, _, _ := runCLI(t, "qr", "frobnicate"); code != 2 {
		t.Fatalf("unknown subcommand: exit %d", code)
	}
	dir := t.TempDir()
	for i, text := range []string{"https://pay.example.com/p/abc", bestTransport, "中文商户 12345"} {
		for _, format := range []string{"png", "svg"} {
			f := filepath.Join(dir, format+string(rune('a'+i))+"."+format)
			if code, _, stderr := runCLI(t, "qr", "render", "--format", format, "--size", "300", "--out", f, text); code != 0 {
				t.Fatalf("render: exit %d %s", code, stderr)
			}
			if format == "svg" {
				b, _ := os.ReadFile(f)
				if !bytes.HasPrefix(bytes.TrimSpace(b), []byte("<")) || !bytes.Contains(b, []byte("<svg")) {
					t.Fatalf("not an SVG: %.80s", b)
				}
				continue
			}
			code, out, _ := runCLI(t, "qr", "decode", f)
			var dec struct{ Text string }
			json.Unmarshal([]byte(out), &dec)
			if code != 0 || dec.Text != text {
				t.Fatalf("decode: exit %d %q, want %q", code, dec.Text, text)
			}
		}
	}
	junk := filepath.Join(dir, "junk.png")
	os.WriteFile(junk, append([]byte("\x89PNG\r\n\x1a\n"), bytes.Repeat([]byte{7}, 100)...), 0o600)
	if code, _, stderr := runCLI(t, "qr", "decode", junk); code != 1 || strings.Contains(stderr, "panic") || strings.Count(stderr, "\n") != 1 {
		t.Fatalf("junk: exit %d %q", code, stderr)
	}
	if code, _, _ := runCLI(t, "qr", "render", "--format", "gif", "--out", filepath.Join(dir, "x"), "x"); code != 2 {
		t.Fatalf("bad format: exit %d", code)
	}
	for text, want := range map[string]string{
		"135112298638468293": "wechat", "28763443825664394": "alipay", "6212345678901234567": "unionpay",
	} {
		_, out, _ := runCLI(t, "qr", "classify", text)
		var sr client.ScanResult
		json.Unmarshal([]byte(out), &sr)
		if sr.Kind != "payment_code" || sr.Channel != want {
			t.Fatalf("classify %s: %+v", text, sr)
		}
	}
	_, out, _ = runCLI(t, "qr", "classify", "00020101021129370016A000000677010111011300668012345675802TH530376463046197")
	var sr client.ScanResult
	json.Unmarshal([]byte(out), &sr)
	if sr.Kind != "foreign_emv" || len(sr.Warnings) == 0 {
		t.Fatalf("classify a foreign code: %+v", sr)
	}
}

// TestScanAPI: POST /v1/scan tells apart the merchant's dynamic codes (from a photo of the
// image), its sticker, another merchant's code, customer payment codes, foreign EMV codes and
// links, and refuses what is not an image.
func TestScanAPI(t *testing.T) {
	ta := startApp(t, store.SQLite, appOptions{})
	ctx := context.Background()
	p, err := ta.Client.CreatePayment(ctx, client.PaymentParams{MerchantOrderNo: "scan-1", Amount: 100, Currency: "CNY", Scene: "qr"})
	if err != nil {
		t.Fatal(err)
	}
	resp, err := ta.Client.HTTP.Get(p.QR.ImageURL)
	if err != nil {
		t.Fatal(err)
	}
	img, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	sr, err := ta.Client.ScanImage(ctx, "code.png", img)
	if err != nil || sr.Kind != "dynamic" || sr.PaymentID != p.ID || sr.Expired == nil || *sr.Expired {
		t.Fatalf("scan of a dynamic code's image: %+v %v", sr, err)
	}
	sr, err = ta.Client.ScanText(ctx, "135112298638468293")
	if err != nil || sr.Kind != "payment_code" || sr.Channel != "wechat" {
		t.Fatalf("payment code: %+v %v", sr, err)
	}
	sr, err = ta.Client.ScanText(ctx, "https://example.com/pay")
	if err != nil || sr.Kind != "url" || len(sr.Warnings) == 0 {
		t.Fatalf("a link: %+v %v", sr, err)
	}
	sr, err = ta.Client.ScanText(ctx, "hello")
	if err != nil || sr.Kind != "unknown" {
		t.Fatalf("text: %+v %v", sr, err)
	}
	_, err = ta.Client.ScanImage(ctx, "x.png", []byte("not an image"))
	apiError(t, err, 400, "invalid", "")
	_, err = ta.Client.ScanText(ctx, "")
	apiError(t, err, 400, "invalid", "text")
}
