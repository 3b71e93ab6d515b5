package main

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"image"
	"image/png"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/qrpay/qrpay/client"
	"github.com/qrpay/qrpay/qr"
	"github.com/qrpay/qrpay/store"
	"github.com/qrpay/qrpay/store/storetest"
)

// Personal data of the merchants these tests onboard: values that appear nowhere else, so that
// finding one in a file means it leaked. The ID number is a public test vector (hutool's).
const (
	piiID      = "321083197812162119"
	piiPhone   = "13912345678"
	piiAccount = "6222600260001072444"
)

// application returns a valid application (CONTRACT.md's fields) with a credit code of the
// public vectors.
func application(uscc string) map[string]any {
	return map[string]any{"legal_name": "兰州拉面研究所有限公司", "short_name": "拉面研究所", "uscc": uscc,
		"legal_person_name": "马某", "legal_person_id": piiID, "phone": piiPhone, "city": "兰州",
		"address": "城关区张掖路1号", "mcc": "5812", "bank_name": "兰州银行", "bank_account": piiAccount}
}

// onboard creates, approves and keys a merchant through the operator API; it returns the
// merchant's id and a client with its new test-mode key.
func onboard(t *testing.T, ta *testApp, uscc string) (string, *client.Client) {
	t.Helper()
	st, m := adminCall(t, ta, "POST", "/admin/v1/merchants", application(uscc))
	if st != http.StatusCreated || str(m, "status") != "submitted" {
		t.Fatalf("create merchant: %d %v", st, m)
	}
	id := str(m, "id")
	if st, m = adminCall(t, ta, "POST", "/admin/v1/merchants/"+id+"/approve", map[string]any{}); st != 200 || str(m, "status") != "active" {
		t.Fatalf("approve: %d %v", st, m)
	}
	st, k := adminCall(t, ta, "POST", "/admin/v1/merchants/"+id+"/api_keys", map[string]any{"mode": "test"})
	if st != http.StatusCreated || str(k, "secret") == "" {
		t.Fatalf("api key: %d %v", st, k)
	}
	return id, client.New(ta.URL, str(k, "id"), str(k, "secret"))
}

// TestMerchantAPIValidation sends a wrong value of each field and expects 400 invalid naming it.
func TestMerchantAPIValidation(t *testing.T) {
	storetest.Each(t, func(t *testing.T, dialect string) {
		ta := startApp(t, dialect, appOptions{})
		const uscc = "91310115591693856A"
		cases := []struct {
			field string
			value any
		}{
			{"legal_name", ""}, {"legal_name", "X"}, {"legal_name", "名\u200b称有零宽字符"},
			{"short_name", ""}, {"short_name", strings.Repeat("长", 21)},
			{"uscc", "91350200M000000510"}, {"uscc", "91350100M000100Y4"}, {"uscc", "91350100M000100Y4I"},
			{"uscc", "Z1350100M000100Y43"}, {"uscc", "91350100M000100Y44"},
			{"legal_person_name", "马1"}, {"legal_person_name", ""},
			{"legal_person_id", "110105194912310021"}, {"legal_person_id", "11010519491331002X"}, {"legal_person_id", "12345"},
			{"legal_person_id", "990105194912310028"}, {"legal_person_id", "11010521491231002X"},
			{"phone", "12345"}, {"phone", "12893100000"}, {"phone", "1389310000a"},
			{"city", ""}, {"address", ""}, {"address", strings.Repeat("路", 201)},
			{"mcc", "58"}, {"mcc", "7995"}, {"mcc", 5812},
			{"bank_name", ""}, {"bank_account", "6226-0900-abc"}, {"bank_account", "12345"},
			{"settlement_cycle", "T9"}, {"nickname", "x"},
		}
		for _, c := range cases {
			body := application(uscc)
			body[c.field] = c.value
			st, m := adminCall(t, ta, "POST", "/admin/v1/merchants", body)
			code, param := errOf(m)
			if st != http.StatusBadRequest || code != "invalid" || param != c.field {
				t.Errorf("%s = %v: %d %s param %q, want 400 invalid param %s", c.field, c.value, st, code, param, c.field)
			}
		}
		// A Luhn failure is a warning for the reviewer, not an error.
		body := application(uscc)
		body["bank_account"] = "6222600260001072445"
		st, m := adminCall(t, ta, "POST", "/admin/v1/merchants", body)
		w, _ := m["warnings"].(map[string]any)
		if st != http.StatusCreated || w["bank_account"] != "bank_account.luhn" {
			t.Fatalf("Luhn failure: %d %v", st, m)
		}
		// Personal fields come back masked.
		if str(m, "legal_person_id") != "3210**********2119" || str(m, "bank_account") != "****2445" || str(m, "phone") != "139****5678" {
			t.Errorf("masking: %v", m)
		}
		// While it is under review, the same business cannot apply again.
		st, m = adminCall(t, ta, "POST", "/admin/v1/merchants", application(uscc))
		if code, param := errOf(m); st != http.StatusConflict || code != "conflict" || param != "uscc" {
			t.Errorf("second application: %d %v", st, m)
		}
		// Without the operator token: 401.
		resp, err := http.Post(ta.URL+"/admin/v1/merchants", "application/json", strings.NewReader("{}"))
		if err != nil || resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("without a token: %v %v", resp.StatusCode, err)
		}
		resp.Body.Close()
	})
}

// TestMerchantLifecycleAPI walks a merchant through every step the operator API offers, and the
// refused ones.
func TestMerchantLifecycleAPI(t *testing.T) {
	storetest.Each(t, func(t *testing.T, dialect string) {
		ta := startApp(t, dialect, appOptions{})
		st, m := adminCall(t, ta, "POST", "/admin/v1/merchants", map[string]any{"draft": true,
			"legal_name": "兰州拉面研究所有限公司", "short_name": "拉面研究所", "uscc": "91110000802100433B", "legal_person_name": "马某",
			"legal_person_id": piiID, "phone": piiPhone, "city": "兰州", "address": "张掖路1号", "mcc": "5812",
			"bank_name": "兰州银行", "bank_account": piiAccount})
		if st != http.StatusCreated || str(m, "status") != "draft" {
			t.Fatalf("draft: %d %v", st, m)
		}
		id := str(m, "id")
		base := "/admin/v1/merchants/" + id
		steps := []struct {
			action string
			body   map[string]any
			status int
			want   string
		}{
			{"approve", nil, 422, ""}, {"submit", nil, 200, "submitted"}, {"freeze", nil, 422, ""},
			{"reject", map[string]any{}, 400, ""}, {"reject", map[string]any{"reason": "营业执照照片不清晰"}, 200, "rejected"},
			{"approve", nil, 422, ""}, {"submit", nil, 200, "submitted"}, {"approve", map[string]any{}, 200, "active"},
			{"approve", nil, 422, ""}, {"unfreeze", nil, 422, ""}, {"freeze", map[string]any{"reason": "风险排查"}, 200, "frozen"},
			{"freeze", nil, 422, ""}, {"unfreeze", nil, 200, "active"}, {"freeze", nil, 200, "frozen"}, {"close", nil, 200, "closed"},
			{"unfreeze", nil, 422, ""}, {"submit", nil, 422, ""},
		}
		for i, s := range steps {
			st, m := adminCall(t, ta, "POST", base+"/"+s.action, s.body)
			if st != s.status || (s.want != "" && str(m, "status") != s.want) {
				t.Fatalf("step %d %s: %d %v, want %d %s", i, s.action, st, m, s.status, s.want)
			}
			if s.status == 422 {
				if code, _ := errOf(m); code != "invalid_state" {
					t.Errorf("step %d %s: code %s, want invalid_state", i, s.action, code)
				}
			}
		}
		st, h := adminCall(t, ta, "GET", base+"/history", nil)
		data, _ := h["data"].([]any)
		if st != 200 || len(data) != 9 {
			t.Fatalf("history: %d %d entries %v", st, len(data), h)
		}
		first, _ := data[0].(map[string]any)
		rej, _ := data[2].(map[string]any)
		if str(first, "to") != "draft" || str(rej, "to") != "rejected" || str(rej, "reason") != "营业执照照片不清晰" {
			t.Errorf("history: %v", data)
		}
		// An unknown merchant is 404 everywhere.
		if st, _ := adminCall(t, ta, "GET", "/admin/v1/merchants/mch_nope/stores", nil); st != 404 {
			t.Errorf("unknown merchant's stores: %d", st)
		}
	})
}

// TestMerchantSetupAPI sets up a merchant as an acquirer's script would: fee rates, bindings,
// a store, a terminal, stickers (image and sheet), keys, users, and reads the audit log.
func TestMerchantSetupAPI(t *testing.T) {
	storetest.Each(t, func(t *testing.T, dialect string) {
		ta := startApp(t, dialect, appOptions{})
		id, c := onboard(t, ta, "91110000802100433B")
		base := "/admin/v1/merchants/" + id
		if st, m := adminCall(t, ta, "PUT", base+"/fee_rates", map[string]any{"alipay": 60, "wechat": 55}); st != 200 {
			t.Fatalf("fee rates: %d %v", st, m)
		} else if rates, _ := m["fee_rates"].(map[string]any); rates["alipay"] != float64(60) || rates["unionpay"] != float64(30) {
			t.Errorf("fee rates: %v", rates)
		}
		if st, m := adminCall(t, ta, "PUT", base+"/fee_rates", map[string]any{"alipay": -1}); st != 400 {
			t.Errorf("negative rate: %d %v", st, m)
		}
		if st, m := adminCall(t, ta, "GET", base+"/fee_rates/history", nil); st != 200 || len(m["data"].([]any)) != 6 {
			t.Errorf("fee history: %d %v", st, m)
		}
		st, m := adminCall(t, ta, "PUT", base+"/bindings", []map[string]any{{"channel": "mockpay", "account_id": "mockpay",
			"sub_merchant_id": "sub-001", "weight": 3}})
		if st != 200 || len(m["data"].([]any)) != 1 {
			t.Fatalf("bindings: %d %v", st, m)
		}
		if st, m := adminCall(t, ta, "POST", base+"/bindings", map[string]any{"channel": "alipay", "account_id": "nope", "sub_merchant_id": "x"}); st != 400 {
			t.Errorf("binding to an unknown account: %d %v", st, m)
		} else if _, p := errOf(m); p != "account_id" {
			t.Errorf("binding to an unknown account: param %s", p)
		}
		st, shop := adminCall(t, ta, "POST", base+"/stores", map[string]any{"name": "张掖路店", "city": "兰州"})
		if st != 201 {
			t.Fatalf("store: %d %v", st, shop)
		}
		st, term := adminCall(t, ta, "POST", base+"/terminals", map[string]any{"store_id": str(shop, "id"), "name": "1号台"})
		if st != 201 || len(str(term, "pin")) != 6 {
			t.Fatalf("terminal: %d %v", st, term)
		}
		if st, m := adminCall(t, ta, "POST", base+"/terminals/"+str(term, "id")+"/reset_pin", map[string]any{"pin": "4321"}); st != 200 || str(m, "pin") != "4321" {
			t.Errorf("reset pin: %d %v", st, m)
		}
		st, sl := adminCall(t, ta, "POST", base+"/stickers", map[string]any{"store_id": str(shop, "id"), "count": 3, "label": "桌贴"})
		stickers, _ := sl["data"].([]any)
		if st != 201 || len(stickers) != 3 {
			t.Fatalf("stickers: %d %v", st, sl)
		}
		first, _ := stickers[0].(map[string]any)
		sid := str(first, "id")
		// The sticker's PNG decodes to its signed URL, which scan verification recognises.
		img := adminGet(t, ta, base+"/stickers/"+sid+"/image?format=png")
		texts, err := qr.Decode(bytes.NewReader(img), qr.DecodeOptions{})
		if err != nil || texts[0] != str(first, "url") || !strings.HasPrefix(texts[0], ta.URL+"/p/") {
			t.Fatalf("sticker image decodes to %v, %v; want %s", texts, err, str(first, "url"))
		}
		scan, err := c.ScanText(context.Background(), texts[0])
		if err != nil || scan.Kind != "sticker" || scan.Genuine == nil || !*scan.Genuine {
			t.Errorf("scan of the sticker: %+v %v", scan, err)
		}
		if svg := adminGet(t, ta, base+"/stickers/"+sid+"/image?format=svg"); !bytes.Contains(svg, []byte("<svg")) {
			t.Errorf("svg: %.40s", svg)
		}
		if pdf := adminGet(t, ta, base+"/stickers/sheet.pdf?batch_id="+str(first, "batch_id")); !bytes.HasPrefix(pdf, []byte("%PDF")) {
			t.Errorf("sheet: %.20s", pdf)
		}
		if st, m := adminCall(t, ta, "POST", base+"/stickers/"+sid+"/revoke", nil); st != 200 || str(m, "status") != "revoked" {
			t.Errorf("revoke: %d %v", st, m)
		}
		if scan, err := c.ScanText(context.Background(), texts[0]); err != nil || scan.Status != "revoked" {
			t.Errorf("scan of a revoked sticker: %+v %v", scan, err)
		}
		// Keys: rotate with an overlap, then revoke.
		st, keys := adminCall(t, ta, "GET", base+"/api_keys", nil)
		kl, _ := keys["data"].([]any)
		if st != 200 || len(kl) != 1 {
			t.Fatalf("keys: %d %v", st, keys)
		}
		k0, _ := kl[0].(map[string]any)
		st, rot := adminCall(t, ta, "POST", base+"/api_keys/"+str(k0, "id")+"/rotate", nil)
		if st != 201 || str(rot, "secret") == "" {
			t.Fatalf("rotate: %d %v", st, rot)
		}
		old, _ := rot["old"].(map[string]any)
		if old["expires_at"] == nil {
			t.Errorf("the rotated key has no expiry: %v", old)
		}
		if _, err := c.Payments(context.Background(), client.ListParams{}); err != nil {
			t.Errorf("the old key within the overlap: %v", err)
		}
		if st, _ := adminCall(t, ta, "POST", base+"/api_keys/"+str(k0, "id")+"/revoke", nil); st != 200 {
			t.Errorf("revoke key: %d", st)
		}
		if _, err := c.Payments(context.Background(), client.ListParams{}); err == nil {
			t.Error("a revoked key still works")
		}
		// Users: the owner's temporary password is shown once.
		st, u := adminCall(t, ta, "POST", base+"/users", map[string]any{"login": "owner-lamian", "role": "owner"})
		if st != 201 || !strings.HasPrefix(str(u, "password"), "Tmp-") || u["must_change_password"] != true {
			t.Fatalf("user: %d %v", st, u)
		}
		if st, m := adminCall(t, ta, "POST", base+"/users", map[string]any{"login": "owner-lamian", "role": "owner"}); st != 409 {
			t.Errorf("taken login: %d %v", st, m)
		}
		if st, m := adminCall(t, ta, "POST", base+"/users", map[string]any{"login": "x1", "role": "admin"}); st != 400 {
			t.Errorf("operator role for a merchant user: %d %v", st, m)
		}
		st, r := adminCall(t, ta, "POST", base+"/users/"+str(u, "id")+"/reset_password", nil)
		if st != 200 || str(r, "password") == str(u, "password") || str(r, "password") == "" {
			t.Errorf("reset password: %d %v", st, r)
		}
		// The audit log has every change, with who and from where.
		st, a := adminCall(t, ta, "GET", "/admin/v1/audit?merchant_id="+id+"&limit=100", nil)
		entries, _ := a["data"].([]any)
		if st != 200 {
			t.Fatalf("audit: %d %v", st, a)
		}
		actions := map[string]bool{}
		for _, e := range entries {
			em, _ := e.(map[string]any)
			actions[str(em, "action")] = true
			if str(em, "remote_addr") == "" {
				t.Errorf("audit entry without an address: %v", em)
			}
		}
		for _, want := range []string{"merchant.apply", "merchant.approve", "merchant.fee_rates", "binding.create", "store.create",
			"terminal.create", "terminal.pin_reset", "sticker.create", "sticker.revoke", "api_key.create", "api_key.rotate",
			"api_key.revoke", "user.create", "user.password_reset"} {
			if !actions[want] {
				t.Errorf("no %s in the audit log (%d entries)", want, len(entries))
			}
		}
		if st, a = adminCall(t, ta, "GET", "/admin/v1/audit?merchant_id="+id+"&limit=2", nil); st != 200 || a["has_more"] != true {
			t.Fatalf("audit paging: %d %v", st, a)
		}
		page1, _ := a["data"].([]any)
		last, _ := page1[1].(map[string]any)
		_, a = adminCall(t, ta, "GET", "/admin/v1/audit?merchant_id="+id+"&limit=2&starting_after="+str(last, "id"), nil)
		page2, _ := a["data"].([]any)
		if len(page2) != 2 || str(page2[0].(map[string]any), "id") >= str(last, "id") {
			t.Errorf("audit page 2: %v", page2)
		}
	})
}

// adminGet reads a binary operator API resource.
func adminGet(t *testing.T, ta *testApp, path string) []byte {
	t.Helper()
	req, _ := http.NewRequest("GET", ta.URL+path, nil)
	req.Header.Set("Authorization", "Bearer "+ta.Demo.OperatorToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %d %s", path, resp.StatusCode, b)
	}
	return b
}

// TestFreezeOnEveryNode freezes a merchant through one qrpay process and sees a second process,
// sharing the PostgreSQL database, refuse its next payment with merchant_frozen at once, while
// refunds of its paid payments go on.
func TestFreezeOnEveryNode(t *testing.T) {
	dbURL := storetest.NewPostgres(t)
	a := startApp(t, store.Postgres, appOptions{databaseURL: dbURL})
	b := startApp(t, store.Postgres, appOptions{databaseURL: dbURL})
	ctx := context.Background()
	id, ca := onboard(t, a, "91310115591693856A")
	cb := client.New(b.URL, ca.KeyID, ca.Secret)
	p, err := cb.CreatePayment(ctx, client.PaymentParams{MerchantOrderNo: "frz-1", Amount: 1500, Currency: "CNY", Scene: "qr", Description: "面"})
	if err != nil {
		t.Fatal(err)
	}
	post(t, b.URL+"/mockpay/wallet/pay", map[string]any{"qr": p.QR.Payload, "payer": "frz"}, nil)
	waitStatus(t, cb, p.ID, 20*time.Second, "succeeded")

	if st, m := adminCall(t, a, "POST", "/admin/v1/merchants/"+id+"/freeze", map[string]any{"reason": "风控"}); st != 200 {
		t.Fatalf("freeze on A: %d %v", st, m)
	}
	_, err = cb.CreatePayment(ctx, client.PaymentParams{MerchantOrderNo: "frz-2", Amount: 1500, Currency: "CNY", Scene: "qr"})
	apiError(t, err, 403, "merchant_frozen", "")
	r, err := cb.CreateRefund(ctx, p.ID, client.RefundParams{Amount: 500, MerchantRefundNo: "frz-r1"})
	if err != nil {
		t.Fatalf("refund of a frozen merchant's payment: %v", err)
	}
	if r.Amount != 500 {
		t.Errorf("refund: %+v", r)
	}
	// Unfrozen on B, A takes payments again.
	if st, _ := adminCall(t, b, "POST", "/admin/v1/merchants/"+id+"/unfreeze", nil); st != 200 {
		t.Fatalf("unfreeze on B: %d", st)
	}
	if _, err := ca.CreatePayment(ctx, client.PaymentParams{MerchantOrderNo: "frz-3", Amount: 1500, Currency: "CNY", Scene: "qr"}); err != nil {
		t.Fatalf("after unfreezing: %v", err)
	}
}

// TestMerchantIsolation: merchant B's key and user get 404 for every one of the demo merchant's
// objects, in the API and the pages.
func TestMerchantIsolation(t *testing.T) {
	storetest.Each(t, func(t *testing.T, dialect string) {
		ta := startApp(t, dialect, appOptions{})
		ctx := context.Background()
		// A plain client: this test is about scoping, not the OpenAPI document.
		ta.Client = client.New(ta.URL, ta.Demo.APIKeyID, ta.Demo.APISecret)
		// The demo merchant's objects: a paid and refunded payment, its event, an endpoint, a
		// sticker, a key.
		p, err := ta.Client.CreatePayment(ctx, client.PaymentParams{MerchantOrderNo: "iso-1", Amount: 900, Currency: "CNY", Scene: "qr", Description: "面"})
		if err != nil {
			t.Fatal(err)
		}
		post(t, ta.URL+"/mockpay/wallet/pay", map[string]any{"qr": p.QR.Payload, "payer": "iso"}, nil)
		waitStatus(t, ta.Client, p.ID, 20*time.Second, "succeeded")
		ref, err := ta.Client.CreateRefund(ctx, p.ID, client.RefundParams{Amount: 100, MerchantRefundNo: "iso-r1"})
		if err != nil {
			t.Fatal(err)
		}
		evs, err := ta.Client.Events(ctx, client.ListParams{Limit: 1})
		if err != nil || len(evs.Data) == 0 {
			t.Fatalf("events: %v", err)
		}
		ep, err := ta.Client.CreateWebhookEndpoint(ctx, "https://example.com/a-hooks")
		if err != nil {
			t.Fatal(err)
		}
		demoBase := "/admin/v1/merchants/" + ta.Demo.MerchantID
		_, sl := adminCall(t, ta, "GET", demoBase+"/stickers", nil)
		demoSticker := str(sl["data"].([]any)[0].(map[string]any), "id")

		bID, cb := onboard(t, ta, "91310115591693856A")
		_, err = cb.Payment(ctx, p.ID)
		apiError(t, err, 404, "not_found", "")
		_, err = cb.CreateRefund(ctx, p.ID, client.RefundParams{Amount: 100, MerchantRefundNo: "iso-b1"})
		apiError(t, err, 404, "not_found", "")
		_, err = cb.Refund(ctx, ref.ID)
		apiError(t, err, 404, "not_found", "")
		err = cb.Do(ctx, "GET", "/v1/events/"+evs.Data[0].ID, nil, nil)
		apiError(t, err, 404, "not_found", "")
		err = cb.DeleteWebhookEndpoint(ctx, ep.ID)
		apiError(t, err, 404, "not_found", "")
		_, err = cb.ClosePayment(ctx, p.ID)
		apiError(t, err, 404, "not_found", "")
		list, err := cb.Payments(ctx, client.ListParams{Limit: 100})
		if err != nil || len(list.Data) != 0 {
			t.Errorf("B lists %d payments, %v", len(list.Data), err)
		}

		// Pages: B's owner sees none of the demo merchant's stickers or keys.
		st, u := adminCall(t, ta, "POST", "/admin/v1/merchants/"+bID+"/users", map[string]any{"login": "owner-b", "role": "owner",
			"password": "Owner-B-Password-1"})
		if st != 201 {
			t.Fatalf("user: %d %v", st, u)
		}
		pc := newPageClient(t, ta)
		pc.login("owner-b", "Owner-B-Password-1")
		if st, _ := pc.get("/stickers"); st != 200 || !strings.Contains(pc.body, "settings.must_change") && !strings.Contains(pc.body, `id="password-form"`) {
			t.Fatalf("a handed-over password must be changed first: %d", st)
		}
		if st, body := pc.post("/settings/password", url.Values{"old_password": {"Owner-B-Password-1"}, "password": {"Owner-B-Changed-2"},
			"password_again": {"Owner-B-Changed-2"}}); st != 200 || strings.Contains(body, "field-error") {
			t.Fatalf("change password: %d", st)
		}
		if st, body := pc.get("/stickers"); st != 200 || strings.Contains(body, demoSticker) {
			t.Fatalf("B's stickers page: %d, shows the demo's sticker: %v", st, strings.Contains(body, demoSticker))
		}
		if st, _ := pc.get("/stickers/" + demoSticker + "/image"); st != 404 {
			t.Errorf("the demo's sticker image to B: %d", st)
		}
		if st, _ := pc.post("/stickers/revoke", url.Values{"sticker_id": {demoSticker}}); st != 404 {
			t.Errorf("B revokes the demo's sticker: %d", st)
		}
		pc.get("/developers")
		if st, _ := pc.post("/developers/key_revoke", url.Values{"key_id": {ta.Demo.APIKeyID}}); st != 404 {
			t.Errorf("B revokes the demo's key: %d", st)
		}
		if st, _ := pc.post("/developers/endpoint_delete", url.Values{"endpoint_id": {ep.ID}}); st != 404 {
			t.Errorf("B deletes the demo's endpoint: %d", st)
		}
		if st, _ := pc.post("/developers/endpoint_rotate", url.Values{"endpoint_id": {ep.ID}}); st != 404 {
			t.Errorf("B rotates the demo's endpoint's secret: %d", st)
		}
		if st, _ := pc.get("/console/merchants/" + ta.Demo.MerchantID); st != 403 {
			t.Errorf("a merchant user in the console: %d", st)
		}
		if _, err := ta.Client.Payment(ctx, p.ID); err != nil {
			t.Errorf("the demo's own payment: %v", err)
		}
		if st, m := adminCall(t, ta, "GET", demoBase+"/stickers/"+demoSticker, nil); st != 200 || str(m, "status") != "active" {
			t.Errorf("the demo's sticker after B's attempts: %d %v", st, m)
		}
	})
}

// TestPagesAccess: CSRF, login throttling and lockout, roles.
func TestPagesAccess(t *testing.T) {
	ta := startApp(t, store.SQLite, appOptions{})
	pc := newPageClient(t, ta)
	pc.get("/login")
	// A form posted without its token is refused.
	if st, _ := pc.post("/login", url.Values{"_csrf": {"forged"}, "login": {ta.Demo.Operator.Login}, "password": {ta.Demo.Operator.Password}}); st != 403 {
		t.Errorf("login without the CSRF token: %d", st)
	}
	pc.login(ta.Demo.Operator.Login, ta.Demo.Operator.Password)
	if st, _ := pc.post("/console/merchants/"+ta.Demo.MerchantID+"/freeze", url.Values{"_csrf": {""}}); st != 403 {
		t.Errorf("console action without the CSRF token: %d", st)
	}
	if _, m := adminCall(t, ta, "GET", "/admin/v1/merchants/"+ta.Demo.MerchantID, nil); str(m, "status") != "active" {
		t.Fatalf("the merchant changed without a token: %v", m)
	}
	pc.get("/console/merchants/" + ta.Demo.MerchantID)
	if st, body := pc.post("/console/merchants/"+ta.Demo.MerchantID+"/freeze", url.Values{"reason": {"test"}}); st != 200 || !strings.Contains(body, `data-status="frozen"`) {
		t.Errorf("freeze from the console: %d", st)
	}
	// Lockout: five wrong passwords lock the account, even against the right one.
	st, u := adminCall(t, ta, "POST", "/admin/v1/merchants/"+ta.Demo.MerchantID+"/users", map[string]any{"login": "staff-lock",
		"role": "readonly", "password": "Staff-Password-1"})
	if st != 201 {
		t.Fatalf("user: %d %v", st, u)
	}
	victim := newPageClient(t, ta)
	victim.get("/login")
	for i := 0; i < 5; i++ {
		if st, _ := victim.post("/login", url.Values{"login": {"staff-lock"}, "password": {"wrong"}}); st != 401 {
			t.Fatalf("wrong password #%d: %d", i+1, st)
		}
	}
	if st, _ := victim.post("/login", url.Values{"login": {"staff-lock"}, "password": {"Staff-Password-1"}}); st != 429 {
		t.Errorf("right password while locked: %d, want 429", st)
	}
	// The operator's reset unlocks it.
	if st, _ := adminCall(t, ta, "POST", "/admin/v1/merchants/"+ta.Demo.MerchantID+"/users/"+str(u, "id")+"/reset_password",
		map[string]any{"password": "Staff-Password-2"}); st != 200 {
		t.Fatalf("reset: %d", st)
	}
	if st, _ := victim.post("/login", url.Values{"login": {"staff-lock"}, "password": {"Staff-Password-2"}}); st != 200 {
		t.Errorf("login after the reset: %d", st)
	}
	// Read-only staff: no developers page, no sticker changes.
	if st, _ := victim.get("/settings/password"); st != 200 {
		t.Errorf("password page: %d", st)
	}
	victim.post("/settings/password", url.Values{"old_password": {"Staff-Password-2"}, "password": {"Staff-Password-3"}, "password_again": {"Staff-Password-3"}})
	if st, _ := victim.get("/developers"); st != 403 {
		t.Errorf("read-only staff on /developers: %d", st)
	}
	victim.get("/stickers")
	if st, _ := victim.post("/stickers/create", url.Values{"store_id": {ta.Demo.StoreID}, "count": {"1"}}); st != 403 {
		t.Errorf("read-only staff make stickers: %d", st)
	}
	// Throttling: the login form answers 429 past the per-address budget.
	flood := newPageClient(t, ta)
	flood.get("/login")
	throttled := false
	for i := 0; i < 40 && !throttled; i++ {
		st, _ := flood.post("/login", url.Values{"login": {"nobody"}, "password": {"x"}})
		throttled = st == 429
	}
	if !throttled {
		t.Error("40 logins from one address were never throttled")
	}
}

// TestApplyFormAndNoPlaintext applies through the public form with documents, onboards through
// the API, and then finds no ID number, bank account or phone in the clear anywhere: the SQLite
// file and its WAL, every PostgreSQL table, the documents, and the server's log.
func TestApplyFormAndNoPlaintext(t *testing.T) {
	storetest.Each(t, func(t *testing.T, dialect string) {
		// The log is searched too, so it holds the info level's lines.
		o := appOptions{extraArgs: []string{"--log-level", "info"}}
		if dialect == store.Postgres {
			o.databaseURL = storetest.NewPostgres(t)
		}
		ta := startApp(t, dialect, o)
		onboard(t, ta, "91310115591693856A")
		pc := newPageClient(t, ta)
		if st, body := pc.get("/apply"); st != 200 || !strings.Contains(body, `id="apply-form"`) {
			t.Fatalf("apply page: %d", st)
		}
		var img bytes.Buffer
		png.Encode(&img, image.NewGray(image.Rect(0, 0, 16, 16)))
		fields := map[string]string{"legal_name": "兰州拉面研究所有限公司", "short_name": "拉面研究所", "uscc": "91110000802100433B",
			"legal_person_name": "马某", "legal_person_id": "32108319781216211X", "phone": "12912345678", "city": "兰",
			"address": "张掖路1号", "mcc": "5812", "bank_name": "兰州银行", "bank_account": piiAccount}
		// Every invalid field gets its own message, in Chinese by default.
		st, body := pc.postMultipart("/apply", fields, map[string][]byte{"business_licence": []byte("plain text")})
		if st != 400 {
			t.Fatalf("invalid form: %d", st)
		}
		for field, msg := range map[string]string{"legal_person_id": "身份证号有误", "phone": "手机号应以 13–19 开头", "city": "城市应为 2–50 个字",
			"business_licence": "文件须为 JPEG、PNG 图片或 PDF", "id_front": "请上传营业执照"} {
			if !regexp.MustCompile(`id="err-` + field + `"[^>]*>[^<]*` + regexp.QuoteMeta(msg)).MatchString(body) {
				t.Errorf("no message %q for %s", msg, field)
			}
		}
		if strings.Contains(body, `id="err-uscc"`) {
			t.Error("a valid field got an error")
		}
		fields["legal_person_id"], fields["phone"], fields["city"] = piiID, piiPhone, "兰州"
		st, body = pc.postMultipart("/apply", fields, map[string][]byte{"business_licence": img.Bytes(), "id_front": img.Bytes(), "id_back": img.Bytes()})
		link := regexp.MustCompile(`id="status-link" href="([^"]+)"`).FindStringSubmatch(body)
		if st != 201 || link == nil {
			t.Fatalf("apply: %d %s", st, body)
		}
		if st, body := pc.get(link[1]); st != 200 || !strings.Contains(body, `data-status="submitted"`) {
			t.Fatalf("status page: %d", st)
		}
		// The reviewer rejects; the applicant sees why.
		_, ml := adminCall(t, ta, "GET", "/admin/v1/merchants?status=submitted", nil)
		var mid string
		for _, m := range ml["data"].([]any) {
			if str(m.(map[string]any), "uscc") == "91110000802100433B" {
				mid = str(m.(map[string]any), "id")
			}
		}
		_, docs := adminCall(t, ta, "GET", "/admin/v1/merchants/"+mid+"/documents", nil)
		if d, _ := docs["data"].([]any); len(d) != 3 {
			t.Fatalf("documents: %v", docs)
		}
		if got := adminGet(t, ta, "/admin/v1/merchants/"+mid+"/documents/"+str(docs["data"].([]any)[1].(map[string]any), "id")); !bytes.Equal(got, img.Bytes()) {
			t.Error("a document does not come back as uploaded")
		}
		adminCall(t, ta, "POST", "/admin/v1/merchants/"+mid+"/reject", map[string]any{"reason": "请上传清晰的营业执照"})
		if _, body := pc.get(link[1]); !strings.Contains(body, `data-status="rejected"`) || !strings.Contains(body, "请上传清晰的营业执照") {
			t.Error("the applicant does not see the rejection and its reason")
		}
		// English on request.
		pc.get("/lang?to=en&next=/apply")
		if !strings.Contains(pc.body, "Unified social credit code") {
			t.Error("the form does not switch to English")
		}

		secrets := []string{piiID, piiPhone, piiAccount}
		var blob bytes.Buffer
		filepath.Walk(ta.DataDir, func(path string, info os.FileInfo, err error) error {
			if err == nil && !info.IsDir() {
				b, _ := os.ReadFile(path)
				blob.Write(b)
			}
			return nil
		})
		if dialect == store.SQLite {
			if _, err := os.Stat(filepath.Join(ta.DataDir, "qrpay.db-wal")); err != nil {
				t.Errorf("no WAL file to look into: %v", err)
			}
		} else {
			blob.WriteString(dumpPostgres(t, o.databaseURL))
		}
		blob.WriteString(ta.Output.String())
		if !strings.Contains(ta.Output.String(), `"msg"`) {
			t.Error("the server's log is empty: nothing was checked")
		}
		for _, s := range secrets {
			if bytes.Contains(blob.Bytes(), []byte(s)) {
				t.Errorf("%s… is stored or logged in the clear", s[:4])
			}
		}
	})
}

// dumpPostgres reads every row of every table of the app's database as text.
func dumpPostgres(t *testing.T, dbURL string) string {
	t.Helper()
	db, err := sql.Open("postgres", dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.Query(`SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE'`)
	if err != nil {
		t.Fatal(err)
	}
	var tables []string
	for rows.Next() {
		var n string
		rows.Scan(&n)
		tables = append(tables, n)
	}
	rows.Close()
	if len(tables) < 10 {
		t.Fatalf("only %d tables", len(tables))
	}
	var sb strings.Builder
	for _, tbl := range tables {
		rs, err := db.Query(fmt.Sprintf(`SELECT t::text FROM %q t`, tbl))
		if err != nil {
			t.Fatalf("dump %s: %v", tbl, err)
		}
		for rs.Next() {
			var line string
			rs.Scan(&line)
			sb.WriteString(line)
			sb.WriteByte('\n')
		}
		rs.Close()
	}
	return sb.String()
}

// TestKeysRotateCommand rotates the embedded database's data key with the command line and
// serves again under the new key.
func TestKeysRotateCommand(t *testing.T) {
	dir := t.TempDir()
	ta := startApp(t, store.SQLite, appOptions{dataDir: dir})
	id, c := onboard(t, ta, "91310115591693856A")
	ta.stop()
	oldKey, _ := os.ReadFile(filepath.Join(dir, "data.key"))
	oldID, _, _ := strings.Cut(string(oldKey), ":")
	var out bytes.Buffer
	ctx := context.Background()
	if err := run(ctx, []string{"keys", "generate", "--write", "--data-dir", dir}, &out, &out); err != nil {
		t.Fatalf("keys generate: %v\n%s", err, out.String())
	}
	out.Reset()
	if err := run(ctx, []string{"keys", "rotate", "--data-dir", dir, "--json"}, &out, io.Discard); err != nil {
		t.Fatalf("keys rotate: %v", err)
	}
	if !strings.Contains(out.String(), `"merchant.legal_person_id"`) || strings.Contains(out.String(), `"total_resealed":0`) {
		t.Fatalf("rotation report: %s", out.String())
	}
	out.Reset()
	if err := run(ctx, []string{"keys", "rotate", "--data-dir", dir}, &out, io.Discard); err != nil || !strings.HasPrefix(out.String(), "re-sealed 0 values") {
		t.Fatalf("second rotation: %v %s", err, out.String())
	}
	// Nothing is left under the old key.
	db, err := sql.Open("sqlite", "file:"+filepath.Join(dir, "qrpay.db")+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{`SELECT count(*) FROM merchants WHERE phone_enc LIKE ?1 OR bank_account_enc LIKE ?1 OR legal_person_id_enc LIKE ?1`,
		`SELECT count(*) FROM api_keys WHERE secret_enc LIKE ?1`, `SELECT count(*) FROM signing_keys WHERE key_enc LIKE ?1`,
		`SELECT count(*) FROM webhook_endpoints WHERE secret_enc LIKE ?1`} {
		var n int
		if err := db.QueryRow(q, "v1."+oldID+".%").Scan(&n); err != nil || n != 0 {
			t.Errorf("%d values still under the old key (%v): %s", n, err, q)
		}
	}
	var n int
	if err := db.QueryRow(`SELECT count(*) FROM merchants WHERE phone_enc LIKE 'v1.%'`).Scan(&n); err != nil || n < 2 {
		t.Fatalf("merchants: %d %v", n, err)
	}
	db.Close()
	// Served again, the merchant and its key work.
	tb := startApp(t, store.SQLite, appOptions{dataDir: dir})
	cb := client.New(tb.URL, c.KeyID, c.Secret)
	if _, err := cb.Payments(ctx, client.ListParams{}); err != nil {
		t.Fatalf("the key after rotation: %v", err)
	}
	if st, m := adminCall(t, tb, "GET", "/admin/v1/merchants/"+id, nil); st != 200 || str(m, "phone") != "139****5678" {
		t.Fatalf("merchant after rotation: %d %v", st, m)
	}
	if err := run(ctx, []string{"keys", "nonsense"}, io.Discard, io.Discard); exitCode(err, io.Discard) != exitUsage {
		t.Errorf("keys nonsense: %v", err)
	}
}

// TestOperatorsAPI: an admin adds a reviewer with a token of its own; the reviewer decides
// applications but freezes nothing and adds no one.
func TestOperatorsAPI(t *testing.T) {
	ta := startApp(t, store.SQLite, appOptions{})
	st, op := adminCall(t, ta, "POST", "/admin/v1/operators", map[string]any{"login": "reviewer-1", "role": "reviewer"})
	if st != 201 || str(op, "password") == "" || op["must_change_password"] != true {
		t.Fatalf("operator: %d %v", st, op)
	}
	if st, m := adminCall(t, ta, "POST", "/admin/v1/operators", map[string]any{"login": "x-1", "role": "owner"}); st != 400 {
		t.Errorf("operator with a merchant role: %d %v", st, m)
	}
	st, tok := adminCall(t, ta, "POST", "/admin/v1/operators/"+str(op, "id")+"/tokens", map[string]any{"name": "review script"})
	if st != 201 || !strings.HasPrefix(str(tok, "token"), "op_") {
		t.Fatalf("token: %d %v", st, tok)
	}
	if st, _ := adminCall(t, ta, "POST", "/admin/v1/operators/"+ta.Demo.MerchantID+"/tokens", nil); st != 404 {
		t.Errorf("a token for a non-operator: %d", st)
	}
	reviewer := *ta
	demo := *ta.Demo
	demo.OperatorToken = str(tok, "token")
	reviewer.Demo = &demo
	st, m := adminCall(t, &reviewer, "POST", "/admin/v1/merchants", application("91310115591693856A"))
	if st != 201 {
		t.Fatalf("reviewer applies: %d %v", st, m)
	}
	if st, _ := adminCall(t, &reviewer, "POST", "/admin/v1/merchants/"+str(m, "id")+"/approve", nil); st != 200 {
		t.Errorf("reviewer approves: %d", st)
	}
	for _, c := range []struct {
		method, path string
		body         any
	}{
		{"POST", "/admin/v1/merchants/" + str(m, "id") + "/freeze", nil},
		{"PUT", "/admin/v1/merchants/" + str(m, "id") + "/fee_rates", map[string]any{"alipay": 10}},
		{"POST", "/admin/v1/merchants/" + str(m, "id") + "/api_keys", map[string]any{"mode": "test"}},
		{"POST", "/admin/v1/merchants/" + str(m, "id") + "/stores", map[string]any{"name": "店"}},
		{"POST", "/admin/v1/operators", map[string]any{"login": "x-2", "role": "admin"}},
	} {
		if st, m := adminCall(t, &reviewer, c.method, c.path, c.body); st != 403 {
			t.Errorf("reviewer %s %s: %d %v", c.method, c.path, st, m)
		}
	}
	// An empty merchant segment must not reach the operator through a merchant user's routes.
	for _, action := range []string{"disable", "reset_password"} {
		if st, m := adminCall(t, ta, "POST", "/admin/v1/merchants//users/"+str(op, "id")+"/"+action, nil); st != 404 {
			t.Errorf("merchants//users/<operator>/%s: %d %v", action, st, m)
		}
	}
	if st, m := adminCall(t, &reviewer, "GET", "/admin/v1/merchants", nil); st != 200 {
		t.Fatalf("the operator was touched through the empty segment: %d %v", st, m)
	}
	if st, _ := adminCall(t, ta, "POST", "/admin/v1/operators/"+str(op, "id")+"/disable", nil); st != 200 {
		t.Fatalf("disable: %d", st)
	}
	if st, _ := adminCall(t, &reviewer, "GET", "/admin/v1/merchants", nil); st != 401 {
		t.Errorf("a disabled operator's token: %d", st)
	}
}
