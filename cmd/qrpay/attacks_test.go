package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/qrpay/qrpay/client"
	"github.com/qrpay/qrpay/gateway/mockpay"
	"github.com/qrpay/qrpay/store"
	"github.com/qrpay/qrpay/store/storetest"
)

// Attacks on the API, the callbacks and the pages: forged and replayed signatures, tampered
// callbacks, one merchant reaching for another's objects, SQL through every filter, forms
// posted from elsewhere, markup in every text a merchant or customer controls, and requests
// too big, too slow or too many.

// rawAPI sends a merchant API request with headers chosen by the test; sign says what the
// signature covers (so that it can differ from what is sent).
type rawAPI struct {
	t      *testing.T
	base   string
	keyID  string
	secret string
}

// signedParts are what a signature covers.
type signedParts struct {
	method, path, ts, nonce string
	body                    []byte
}

// do sends method path body with headers; nil values leave a header out.
func (r rawAPI) do(method, path string, body []byte, headers map[string]string) (int, map[string]any) {
	r.t.Helper()
	req, _ := http.NewRequest(method, r.base+path, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		r.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var out map[string]any
	json.Unmarshal(raw, &out)
	return resp.StatusCode, out
}

// headers returns the authentication headers of a request whose signature covers p.
func (r rawAPI) headers(p signedParts, secret string) map[string]string {
	return map[string]string{"Qrpay-Key": r.keyID, "Qrpay-Timestamp": p.ts, "Qrpay-Nonce": p.nonce,
		"Qrpay-Signature": client.Sign(secret, client.Canonical(p.method, p.path, p.ts, p.nonce, p.body))}
}

func nowTS() string { return strconv.FormatInt(time.Now().Unix(), 10) }

// TestAttackSignatures: every way of getting a request past the signature check without the
// key's secret is 401 unauthorized and changes nothing; a nonce is good once, on every node.
func TestAttackSignatures(t *testing.T) {
	storetest.Each(t, func(t *testing.T, dialect string) {
		ta := startApp(t, dialect, appOptions{})
		ctx := context.Background()
		api := rawAPI{t: t, base: ta.URL, keyID: ta.Demo.APIKeyID, secret: ta.Demo.APISecret}
		_, other := onboard(t, ta, "91310115591693856A")
		body := []byte(`{"merchant_order_no":"sig-1","amount":100,"currency":"CNY","scene":"qr"}`)
		good := signedParts{"POST", "/v1/payments", nowTS(), client.NewNonce(), body}

		cases := []struct {
			name    string
			method  string
			path    string
			body    []byte
			headers map[string]string
		}{
			{"NoHeaders", "POST", "/v1/payments", body, nil},
			{"NoKey", "POST", "/v1/payments", body, without(api.headers(good, api.secret), "Qrpay-Key")},
			{"NoTimestamp", "POST", "/v1/payments", body, without(api.headers(good, api.secret), "Qrpay-Timestamp")},
			{"NoNonce", "POST", "/v1/payments", body, without(api.headers(good, api.secret), "Qrpay-Nonce")},
			{"NoSignature", "POST", "/v1/payments", body, without(api.headers(good, api.secret), "Qrpay-Signature")},
			{"EmptySignature", "POST", "/v1/payments", body, with(api.headers(good, api.secret), "Qrpay-Signature", "")},
			{"WrongSignature", "POST", "/v1/payments", body, with(api.headers(good, api.secret), "Qrpay-Signature", strings.Repeat("ab", 32))},
			{"TruncatedSignature", "POST", "/v1/payments", body, with(api.headers(good, api.secret), "Qrpay-Signature", api.headers(good, api.secret)["Qrpay-Signature"][:32])},
			{"OtherKeysSecret", "POST", "/v1/payments", body, api.headers(good, other.Secret)},
			{"OtherKeyIDThisSecret", "POST", "/v1/payments", body, with(api.headers(good, api.secret), "Qrpay-Key", other.KeyID)},
			{"UnknownKey", "POST", "/v1/payments", body, with(api.headers(good, api.secret), "Qrpay-Key", "key_test_doesnotexist000000")},
			{"EmptySecret", "POST", "/v1/payments", body, api.headers(good, "")},
			{"SignedOtherPath", "POST", "/v1/payments?x=1", body, api.headers(good, api.secret)},
			{"SignedOtherMethod", "PUT", "/v1/payments", body, api.headers(good, api.secret)},
			{"SignedOtherBody", "POST", "/v1/payments", []byte(`{"merchant_order_no":"sig-1","amount":999999,"currency":"CNY","scene":"qr"}`), api.headers(good, api.secret)},
			{"SignedOtherTimestamp", "POST", "/v1/payments", body, with(api.headers(good, api.secret), "Qrpay-Timestamp", strconv.FormatInt(time.Now().Unix()+1, 10))},
			{"SignedOtherNonce", "POST", "/v1/payments", body, with(api.headers(good, api.secret), "Qrpay-Nonce", client.NewNonce())},
			{"StaleTimestamp", "POST", "/v1/payments", body, api.headers(signedParts{"POST", "/v1/payments", strconv.FormatInt(time.Now().Unix()-3600, 10), client.NewNonce(), body}, api.secret)},
			{"ShortNonce", "POST", "/v1/payments", body, api.headers(signedParts{"POST", "/v1/payments", nowTS(), "abc", body}, api.secret)},
			{"NonceWithSlash", "POST", "/v1/payments", body, api.headers(signedParts{"POST", "/v1/payments", nowTS(), "aaaaaaaaaaaaaaaa/../x", body}, api.secret)},
			{"TimestampNotANumber", "POST", "/v1/payments", body, api.headers(signedParts{"POST", "/v1/payments", "1e9", client.NewNonce(), body}, api.secret)},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				api.t = t
				st, out := api.do(c.method, c.path, c.body, c.headers)
				if code, _ := errOf(out); st != http.StatusUnauthorized || code != "unauthorized" {
					if !(c.name == "SignedOtherMethod" && (st == 404 || st == 405 || st == 400)) {
						t.Fatalf("%d %v, want 401 unauthorized", st, out)
					}
				}
			})
		}
		api.t = t
		if l, err := ta.Client.Payments(ctx, client.ListParams{MerchantOrderNo: "sig-1"}); err != nil || len(l.Data) != 0 {
			t.Fatalf("a refused request made a payment: %v %v", l, err)
		}
		// The genuine request works once; its replay, here or on another node, does not.
		if st, out := api.do("POST", "/v1/payments", body, api.headers(good, api.secret)); st != http.StatusCreated {
			t.Fatalf("the genuine request: %d %v", st, out)
		}
		replay := []string{ta.URL}
		if dialect == store.Postgres {
			second := startApp(t, dialect, appOptions{databaseURL: ta.DatabaseURL})
			replay = append(replay, second.URL)
		}
		for _, base := range replay {
			r := rawAPI{t: t, base: base, keyID: api.keyID}
			if st, out := r.do("POST", "/v1/payments", body, api.headers(good, api.secret)); st != http.StatusUnauthorized {
				t.Errorf("replay on %s: %d %v", base, st, out)
			}
			// A new nonce with the old order number is a new request: a duplicate, not a payment.
			fresh := signedParts{"POST", "/v1/payments", nowTS(), client.NewNonce(), body}
			if st, out := r.do("POST", "/v1/payments", body, api.headers(fresh, api.secret)); st != http.StatusConflict {
				t.Errorf("a fresh request with a used order number on %s: %d %v", base, st, out)
			}
		}
		if l, _ := ta.Client.Payments(ctx, client.ListParams{MerchantOrderNo: "sig-1"}); len(l.Data) != 1 {
			t.Fatalf("%d payments for order sig-1, want 1", len(l.Data))
		}
	})
}

func without(h map[string]string, k string) map[string]string {
	delete(h, k)
	return h
}

func with(h map[string]string, k, v string) map[string]string {
	h[k] = v
	return h
}

// mockCallback posts a mock provider callback signed with secret at ts.
func mockCallback(t *testing.T, base string, secret []byte, ts time.Time, body string) int {
	t.Helper()
	req, _ := http.NewRequest("POST", base+"/callbacks/mockpay", strings.NewReader(body))
	s := strconv.FormatInt(ts.Unix(), 10)
	req.Header.Set(mockpay.HeaderTimestamp, s)
	req.Header.Set(mockpay.HeaderSignature, mockpay.Sign(secret, s, "notify", []byte(body)))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// TestAttackCallbackTampering: a callback the provider's key signed, but for another amount or
// currency than the payment's, is refused and flags the payment amount_mismatch (once, with a
// payment.flagged event); a stale or unsigned callback, or one about an unknown payment,
// changes nothing.
func TestAttackCallbackTampering(t *testing.T) {
	storetest.Each(t, func(t *testing.T, dialect string) {
		ta := startApp(t, dialect, appOptions{})
		ctx := context.Background()
		secret := ta.App.mock.Secret
		p, err := ta.Client.CreatePayment(ctx, client.PaymentParams{MerchantOrderNo: "tamper-1", Amount: 50000, Currency: "CNY", Scene: "qr"})
		if err != nil {
			t.Fatal(err)
		}
		notice := func(amount int64, currency, id string) string {
			return fmt.Sprintf(`{"kind":"trade","trade":{"out_trade_no":%q,"trade_no":"MP20260101000000000001","status":"SUCCESS","amount":%d,"currency":%q,"paid_at":%q,"refunded":0}}`,
				id, amount, currency, time.Now().UTC().Format(time.RFC3339))
		}
		for _, c := range []struct {
			name string
			st   func() int
		}{
			{"CheaperAmount", func() int { return mockCallback(t, ta.URL, secret, time.Now(), notice(1, "CNY", p.ID)) }},
			{"OtherCurrency", func() int { return mockCallback(t, ta.URL, secret, time.Now(), notice(50000, "USD", p.ID)) }},
			{"Stale", func() int {
				return mockCallback(t, ta.URL, secret, time.Now().Add(-time.Hour), notice(50000, "CNY", p.ID))
			}},
			{"OtherKey", func() int {
				return mockCallback(t, ta.URL, []byte("not the provider"), time.Now(), notice(50000, "CNY", p.ID))
			}},
			{"UnknownPayment", func() int {
				return mockCallback(t, ta.URL, secret, time.Now(), notice(50000, "CNY", "pay_01doesnotexist00000000"))
			}},
		} {
			if st := c.st(); st/100 == 2 {
				t.Errorf("%s: the callback was acknowledged (%d)", c.name, st)
			}
		}
		got, err := ta.Client.Payment(ctx, p.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Status == "succeeded" || len(got.Flags) != 1 || got.Flags[0] != "amount_mismatch" {
			t.Fatalf("after tampered callbacks: status %s, flags %v; want unpaid and flagged amount_mismatch", got.Status, got.Flags)
		}
		evs, err := ta.Client.Events(ctx, client.ListParams{Limit: 100})
		if err != nil {
			t.Fatal(err)
		}
		flagged := 0
		for _, e := range evs.Data {
			if e.Type == "payment.flagged" && strings.Contains(string(e.Data.Object), p.ID) {
				flagged++
			}
		}
		if flagged != 1 {
			t.Errorf("%d payment.flagged events, want 1", flagged)
		}
		// A success signed by the provider about a payment qrpay closed (stale news, or a
		// replay) does not revive it while the provider says it is closed.
		closed, err := ta.Client.CreatePayment(ctx, client.PaymentParams{MerchantOrderNo: "tamper-2", Amount: 700, Currency: "CNY", Scene: "qr"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := ta.Client.ClosePayment(ctx, closed.ID); err != nil {
			t.Fatal(err)
		}
		mockCallback(t, ta.URL, secret, time.Now(), notice(700, "CNY", closed.ID))
		if got, err := ta.Client.Payment(ctx, closed.ID); err != nil || got.Status != "closed" {
			t.Errorf("a closed payment after a success callback the provider contradicts: %+v %v", got, err)
		}
		// The customer really pays: the genuine success still comes through.
		if st, code := walletPay(ta.URL, p.QR.Payload, "honest"); code != 200 || st != "paid" {
			t.Fatalf("wallet: %d %s", code, st)
		}
		waitStatus(t, ta.Client, p.ID, 20*time.Second, "succeeded")
	})
}

// TestAttackCrossMerchant: merchant B's key reaches none of merchant A's objects: payments,
// their refunds, events, webhook endpoints; lists and cursors show none of them.
func TestAttackCrossMerchant(t *testing.T) {
	storetest.Each(t, func(t *testing.T, dialect string) {
		ta := startApp(t, dialect, appOptions{})
		ctx := context.Background()
		a := plainClient(ta)
		p, err := a.CreatePayment(ctx, client.PaymentParams{MerchantOrderNo: "x-1", Amount: 900, Currency: "CNY", Scene: "qr"})
		if err != nil {
			t.Fatal(err)
		}
		walletPay(ta.URL, p.QR.Payload, "x")
		waitStatus(t, a, p.ID, 20*time.Second, "succeeded")
		ref, err := a.CreateRefund(ctx, p.ID, client.RefundParams{Amount: 100, MerchantRefundNo: "x-r1"})
		if err != nil {
			t.Fatal(err)
		}
		open, err := a.CreatePayment(ctx, client.PaymentParams{MerchantOrderNo: "x-2", Amount: 500, Currency: "CNY", Scene: "qr"})
		if err != nil {
			t.Fatal(err)
		}
		ep, err := a.CreateWebhookEndpoint(ctx, "https://example.com/a")
		if err != nil {
			t.Fatal(err)
		}
		evs, err := a.Events(ctx, client.ListParams{Limit: 100})
		if err != nil || len(evs.Data) == 0 {
			t.Fatalf("events: %v", err)
		}
		_, b := onboard(t, ta, "91310115591693856A")
		if _, err := b.CreatePayment(ctx, client.PaymentParams{MerchantOrderNo: "x-1", Amount: 1, Currency: "CNY", Scene: "qr"}); err != nil {
			t.Fatalf("B may use the same order number as A: %v", err)
		}
		for _, c := range []struct{ method, path string }{
			{"GET", "/v1/payments/" + p.ID},
			{"GET", "/v1/payments/" + p.ID + "/refunds"},
			{"POST", "/v1/payments/" + open.ID + "/close"},
			{"GET", "/v1/refunds/" + ref.ID},
			{"GET", "/v1/events/" + evs.Data[0].ID},
			{"POST", "/v1/events/" + evs.Data[0].ID + "/resend"},
			{"DELETE", "/v1/webhook_endpoints/" + ep.ID},
		} {
			err := b.Do(ctx, c.method, c.path, nil, nil)
			var ce *client.Error
			if !errorsAs(err, &ce) || ce.Status != 404 || ce.Code != "not_found" {
				t.Errorf("B: %s %s = %v, want 404 not_found", c.method, c.path, err)
			}
		}
		_, err = b.CreateRefund(ctx, p.ID, client.RefundParams{Amount: 100, MerchantRefundNo: "x-b1"})
		apiError(t, err, 404, "not_found", "")
		// Lists and cursors: B sees only its own payment, whatever the cursor or filter.
		for _, q := range []string{"", "?limit=100", "?starting_after=" + p.ID, "?merchant_order_no=x-1", "?status=succeeded",
			"?starting_after=zzzzzzzzzzzzzzzzzzzzzzzzzzzzz"} {
			var l struct{ Data []client.Payment }
			if err := b.Do(ctx, "GET", "/v1/payments"+q, nil, &l); err != nil {
				t.Fatalf("B lists %s: %v", q, err)
			}
			for _, x := range l.Data {
				if x.ID == p.ID || x.ID == open.ID {
					t.Errorf("B listed A's payment %s with %q", x.ID, q)
				}
			}
		}
		for _, q := range []string{"", "?object_id=" + p.ID, "?type=payment.succeeded", "?starting_after=zzzzzzzzzzzzzzzzzzzzzzzzzz"} {
			var l struct{ Data []client.Event }
			if err := b.Do(ctx, "GET", "/v1/events"+q, nil, &l); err != nil {
				t.Fatalf("B lists events %s: %v", q, err)
			}
			for _, e := range l.Data {
				if strings.Contains(string(e.Data.Object), p.ID) || strings.Contains(string(e.Data.Object), open.ID) {
					t.Errorf("B listed A's event %s with %q", e.ID, q)
				}
			}
		}
		var eps struct{ Data []client.WebhookEndpoint }
		b.Do(ctx, "GET", "/v1/webhook_endpoints", nil, &eps)
		for _, e := range eps.Data {
			if e.ID == ep.ID {
				t.Errorf("B lists A's webhook endpoint")
			}
		}
		// A's objects are as they were.
		if got, err := a.Payment(ctx, open.ID); err != nil || got.Status != "created" {
			t.Errorf("A's open payment after B's attempts: %+v %v", got, err)
		}
		if got, err := a.Payment(ctx, p.ID); err != nil || got.RefundedAmount != 100 {
			t.Errorf("A's paid payment after B's attempts: %+v %v", got, err)
		}
	})
}

// injections are SQL (and other) payloads for filters.
var injections = []string{
	`' OR '1'='1`, `' OR 1=1 --`, `x'; DROP TABLE payments; --`, `1; DELETE FROM merchants`, `" OR ""="`,
	`' UNION SELECT id, id, id FROM merchants --`, `%`, `_`, `%' OR '%'='`, `\`, `'`, `''`, `)`, `pay_' || 'x`,
	`'; SELECT pg_sleep(3); --`, `x' AND (SELECT COUNT(*) FROM api_keys) > 0 --`, "a\x00b", "\xff\xfe", strings.Repeat("A", 5000),
}

// TestAttackSQLInjection sends SQL through every filter of the merchant API's lists, the
// operator API's lists and the dashboard's payments page: never a 500, never a row that the
// filter (or the merchant) should not see, and the database is intact afterwards.
func TestAttackSQLInjection(t *testing.T) {
	storetest.Each(t, func(t *testing.T, dialect string) {
		ta := startApp(t, dialect, appOptions{})
		ctx := context.Background()
		a := plainClient(ta)
		var mine []string
		for i := 0; i < 3; i++ {
			p, err := a.CreatePayment(ctx, client.PaymentParams{MerchantOrderNo: fmt.Sprintf("sqli-%d", i), Amount: 100 + int64(i), Currency: "CNY", Scene: "qr"})
			if err != nil {
				t.Fatal(err)
			}
			mine = append(mine, p.ID)
		}
		bID, b := onboard(t, ta, "91310115591693856A")
		bp, err := b.CreatePayment(ctx, client.PaymentParams{MerchantOrderNo: "sqli-b", Amount: 777, Currency: "CNY", Scene: "qr"})
		if err != nil {
			t.Fatal(err)
		}
		// The dashboard's pages are read as the demo merchant's owner (logging in is audited).
		pc := newPageClient(t, ta)
		pc.login(ta.Demo.MerchantUser.Login, ta.Demo.MerchantUser.Password)
		before := dbCounts(t, ta, a)

		check := func(what string, st int, body string, mayList bool) {
			t.Helper()
			if st >= 500 {
				t.Errorf("%s: %d %s", what, st, tail(body, 300))
			}
			if strings.Contains(body, bp.ID) || strings.Contains(body, "sqli-b") {
				t.Errorf("%s: merchant A saw merchant B's payment", what)
			}
			if !mayList && st == 200 {
				for _, id := range mine {
					if strings.Contains(body, id) {
						t.Errorf("%s: the filter matched payment %s", what, id)
					}
				}
			}
		}
		for _, inj := range injections {
			q := url.QueryEscape(inj)
			// Merchant API: every filter of /v1/payments and /v1/events.
			for _, param := range []string{"merchant_order_no", "status", "channel", "scene", "flag", "limit", "starting_after"} {
				var raw []byte
				err := a.Do(ctx, "GET", "/v1/payments?"+param+"="+q, nil, &raw)
				st, body := statusOf(err, raw)
				// A cursor is compared, not matched: a "greater" one lists A's payments legitimately.
				check("GET /v1/payments?"+param+"="+short(inj), st, body, param == "starting_after")
			}
			for _, param := range []string{"type", "object_id", "limit", "starting_after"} {
				var raw []byte
				err := a.Do(ctx, "GET", "/v1/events?"+param+"="+q, nil, &raw)
				st, body := statusOf(err, raw)
				check("GET /v1/events?"+param+"="+short(inj), st, body, param == "starting_after")
			}
			// Operator API lists.
			for _, param := range []string{"status", "q", "uscc", "limit", "starting_after"} {
				st, raw := adminRaw(t, ta, "/admin/v1/merchants?"+param+"="+q)
				check("GET /admin/v1/merchants?"+param+"="+short(inj), st, raw, true)
				// The operator's search drops LIKE's wildcards from the words: a search of
				// wildcards alone lists every merchant, which an operator may see anyway.
				wildcards := strings.Trim(inj, "%_") == ""
				if st == 200 && param != "starting_after" && param != "limit" && !(param == "q" && wildcards) && strings.Contains(raw, bID) {
					t.Errorf("GET /admin/v1/merchants?%s=%s matched merchant B", param, short(inj))
				}
			}
			for _, param := range []string{"merchant_id", "actor_id", "action", "object_id", "object_type", "limit", "starting_after"} {
				st, raw := adminRaw(t, ta, "/admin/v1/audit?"+param+"="+q)
				check("GET /admin/v1/audit?"+param+"="+short(inj), st, raw, true)
				if st == 200 && param != "starting_after" && param != "limit" && strings.Contains(raw, `"id"`) {
					t.Errorf("GET /admin/v1/audit?%s=%s matched entries", param, short(inj))
				}
			}
			st, raw := adminRaw(t, ta, "/admin/v1/merchants/"+bID+"/stickers?batch_id="+q)
			check("GET stickers?batch_id="+short(inj), st, raw, true)
			st, raw = adminRaw(t, ta, "/admin/v1/merchants/"+url.PathEscape(inj))
			check("GET /admin/v1/merchants/"+short(inj), st, raw, true)
		}
		// The dashboard's payments page and its CSV.
		for _, inj := range injections {
			q := url.QueryEscape(inj)
			for _, param := range []string{"q", "status", "channel", "scene", "flag", "from", "to", "after"} {
				st, body := pc.get("/payments?" + param + "=" + q)
				check("GET /payments?"+param+"="+short(inj), st, body, param == "after")
				st, body = pc.get("/payments.csv?" + param + "=" + q)
				check("GET /payments.csv?"+param+"="+short(inj), st, body, param == "after")
			}
			st, body := pc.get("/payments/" + url.PathEscape(inj))
			check("GET /payments/"+short(inj), st, body, false)
		}
		after := dbCounts(t, ta, a)
		if before != after {
			_, au := adminCall(t, ta, "GET", "/admin/v1/audit?limit=3", nil)
			t.Fatalf("the database changed under the injections: %+v, then %+v; latest audit entries %v", before, after, au["data"])
		}
	})
}

// short shows a payload in a message.
func short(s string) string {
	if len(s) > 40 {
		return strconv.Quote(s[:40]) + "..."
	}
	return strconv.Quote(s)
}

// statusOf returns the status and body of a client call's outcome.
func statusOf(err error, raw []byte) (int, string) {
	if err == nil {
		return 200, string(raw)
	}
	var ce *client.Error
	if errorsAs(err, &ce) {
		return ce.Status, ce.Message
	}
	return 599, err.Error()
}

// adminRaw GETs an operator API path with the demo operator's token.
func adminRaw(t *testing.T, ta *testApp, path string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", ta.URL+path, nil)
	req.Header.Set("Authorization", "Bearer "+ta.Demo.OperatorToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// counts are the rows a test compares before and after an attack: payments, merchants, events
// and the audit entries of people (not of background jobs).
type counts struct{ payments, merchants, events, audit int }

func dbCounts(t *testing.T, ta *testApp, c *client.Client) counts {
	t.Helper()
	ps, err := allPayments(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	evs, err := allEvents(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	_, ms := adminCall(t, ta, "GET", "/admin/v1/merchants?limit=100", nil)
	_, au := adminCall(t, ta, "GET", "/admin/v1/audit?limit=100", nil)
	n := func(m map[string]any) int { l, _ := m["data"].([]any); return len(l) }
	// Background jobs (the daily settlement run, say) write audit entries of their own.
	people := 0
	for _, e := range au["data"].([]any) {
		if e, _ := e.(map[string]any); str(e, "actor_kind") != "system" {
			people++
		}
	}
	return counts{len(ps), n(ms), len(evs), people}
}

// pagePosts are the state-changing page routes and a path to post to for each.
func pagePosts(ta *testApp, paymentID, stickerID, codeToken string) []string {
	var out []string
	seen := map[string]bool{}
	for _, r := range ta.App.web.Routes() {
		if r.Method != http.MethodPost || seen[r.Path] {
			continue
		}
		seen[r.Path] = true
		p := r.Path
		switch {
		case strings.HasPrefix(p, "/v1/"), strings.HasPrefix(p, "/admin/v1/"), strings.HasPrefix(p, "/callbacks/"),
			strings.HasPrefix(p, "/mockpay/api/"), p == "/mockpay/wallet/pay", p == "/mockpay/wallet/payment-code",
			strings.HasPrefix(p, "/counter/api/"), p == "/p/:token/pay", p == "/demo/webhooks", p == "/ceiling":
			continue // machine routes: signed, or JSON that a form cannot send
		}
		p = strings.NewReplacer(":id", ta.Demo.MerchantID, ":action", "freeze", ":token", "x", ":trade", codeToken).Replace(p)
		if strings.HasPrefix(r.Path, "/payments/") || strings.HasPrefix(r.Path, "/events/") {
			p = strings.Replace(r.Path, ":id", paymentID, 1)
		}
		p = regexp.MustCompile(`:[a-z_]+`).ReplaceAllString(p, stickerID)
		out = append(out, p)
	}
	return out
}

// TestAttackCSRF posts every state-changing page form without its token, as a logged-in
// operator and as a logged-in merchant owner (and logged out): each is 403 and nothing
// changes.
func TestAttackCSRF(t *testing.T) {
	ta := startApp(t, store.SQLite, appOptions{})
	ctx := context.Background()
	a := plainClient(ta)
	p, err := a.CreatePayment(ctx, client.PaymentParams{MerchantOrderNo: "csrf-1", Amount: 900, Currency: "CNY", Scene: "qr"})
	if err != nil {
		t.Fatal(err)
	}
	walletPay(ta.URL, p.QR.Payload, "x")
	waitStatus(t, a, p.ID, 20*time.Second, "succeeded")
	open, err := a.CreatePayment(ctx, client.PaymentParams{MerchantOrderNo: "csrf-2", Amount: 800, Currency: "CNY", Scene: "qr"})
	if err != nil {
		t.Fatal(err)
	}
	token := open.QR.Payload[strings.Index(open.QR.Payload, mockpay.CodePrefix)+len(mockpay.CodePrefix):]
	_, sl := adminCall(t, ta, "GET", "/admin/v1/merchants/"+ta.Demo.MerchantID+"/stickers", nil)
	sticker := str(sl["data"].([]any)[0].(map[string]any), "id")
	paths := pagePosts(ta, p.ID, sticker, token)
	if len(paths) < 10 {
		t.Fatalf("only %d page forms found: %v", len(paths), paths)
	}
	op := newPageClient(t, ta)
	op.login(ta.Demo.Operator.Login, ta.Demo.Operator.Password)
	owner := newPageClient(t, ta)
	owner.login(ta.Demo.MerchantUser.Login, ta.Demo.MerchantUser.Password)
	anon := newPageClient(t, ta)
	anon.get("/login")
	anon.get("/mockpay/wallet")
	before := dbCounts(t, ta, a)
	form := url.Values{"reason": {"csrf"}, "amount": {"1.00"}, "key": {"k1"}, "login": {"x"}, "password": {"y"}, "sticker_id": {sticker},
		"key_id": {ta.Demo.APIKeyID}, "store_id": {ta.Demo.StoreID}, "count": {"1"}, "url": {"https://example.com/x"}, "qr": {p.QR.Payload}}
	for _, who := range []struct {
		name string
		pc   *pageClient
	}{{"operator", op}, {"owner", owner}, {"anonymous", anon}} {
		for _, path := range paths {
			for _, token := range []string{"", "forged-token-forged-token"} {
				f := url.Values{}
				for k, v := range form {
					f[k] = v
				}
				f.Set("_csrf", token)
				st, _ := who.pc.post(path, f)
				if st != http.StatusForbidden {
					t.Errorf("%s POST %s with _csrf %q: %d, want 403", who.name, path, token, st)
				}
			}
		}
	}
	after := dbCounts(t, ta, a)
	if before != after {
		t.Errorf("forms without a token changed something: %+v, then %+v", before, after)
	}
	if _, m := adminCall(t, ta, "GET", "/admin/v1/merchants/"+ta.Demo.MerchantID, nil); str(m, "status") != "active" {
		t.Errorf("the merchant is %s after the forged forms", str(m, "status"))
	}
	if got, _ := a.Payment(ctx, p.ID); got.RefundedAmount != 0 {
		t.Errorf("a forged form refunded %d", got.RefundedAmount)
	}
	if got, _ := a.Payment(ctx, open.ID); got.Status != "created" {
		t.Errorf("a forged wallet form paid %s: %s", open.ID, got.Status)
	}
	t.Logf("%d page forms refused without a valid token, for three kinds of visitor", len(paths))
}

// markup is what an attacker puts in names and memos; rawMarkup must never reach a page
// unescaped.
var rawMarkup = []string{"<script>", "<img src=x onerror", "<svg onload"}

func assertEscaped(t *testing.T, where, body string) {
	t.Helper()
	for _, m := range rawMarkup {
		if strings.Contains(strings.ToLower(body), m) {
			i := strings.Index(strings.ToLower(body), m)
			t.Errorf("%s shows %q unescaped: ...%s...", where, m, body[max(0, i-80):min(len(body), i+80)])
		}
	}
}

// TestAttackHTMLInjection puts markup in a merchant's short name and in every memo field
// (description, refund reason, metadata, a webhook endpoint's answer) and reads every page that
// shows them: the markup is refused or escaped, never executed.
func TestAttackHTMLInjection(t *testing.T) {
	ta := startApp(t, store.SQLite, appOptions{})
	ctx := context.Background()
	// A short name longer than 20 characters is refused; a short one is taken, and escaped.
	app := application("91310115591693856A")
	app["short_name"] = "<script>alert(1)</script>"
	if st, m := adminCall(t, ta, "POST", "/admin/v1/merchants", app); st != http.StatusBadRequest {
		t.Errorf("a short name of markup: %d %v", st, m)
	}
	const evil = "<script>x</script>"
	app["short_name"] = evil
	app["legal_name"] = `<img src=x onerror=alert(1)>有限公司`
	st, m := adminCall(t, ta, "POST", "/admin/v1/merchants", app)
	if st != http.StatusCreated {
		t.Fatalf("create: %d %v", st, m)
	}
	id := str(m, "id")
	adminCall(t, ta, "POST", "/admin/v1/merchants/"+id+"/approve", map[string]any{})
	_, k := adminCall(t, ta, "POST", "/admin/v1/merchants/"+id+"/api_keys", map[string]any{"mode": "test"})
	b := client.New(ta.URL, str(k, "id"), str(k, "secret"))
	_, shop := adminCall(t, ta, "POST", "/admin/v1/merchants/"+id+"/stores", map[string]any{"name": "<svg onload=alert(1)>", "city": "兰州"})
	_, term := adminCall(t, ta, "POST", "/admin/v1/merchants/"+id+"/terminals", map[string]any{"store_id": str(shop, "id"), "name": "<script>t</script>"})
	_, sl := adminCall(t, ta, "POST", "/admin/v1/merchants/"+id+"/stickers", map[string]any{"store_id": str(shop, "id"), "count": 1, "label": "<script>l</script>"})
	stickerURL := str(sl["data"].([]any)[0].(map[string]any), "url")
	st, u := adminCall(t, ta, "POST", "/admin/v1/merchants/"+id+"/users", map[string]any{"login": "owner-evil", "role": "owner", "password": "Owner-Evil-Password-1"})
	if st != 201 {
		t.Fatalf("user: %d %v", st, u)
	}

	// Memo fields: a description, metadata, a refund reason; and a webhook endpoint whose
	// answer (shown on the payment page) is markup.
	hook := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(500)
		io.WriteString(w, `<script>alert("hook")</script>`)
	})}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go hook.Serve(ln)
	t.Cleanup(func() { hook.Close() })
	if _, err := b.CreateWebhookEndpoint(ctx, "http://"+ln.Addr().String()+"/h?<script>"); err != nil {
		b.CreateWebhookEndpoint(ctx, "http://"+ln.Addr().String()+"/h")
	}
	p, err := b.CreatePayment(ctx, client.PaymentParams{MerchantOrderNo: "xss-1", Amount: 1200, Currency: "CNY", Scene: "qr",
		Description: `<script>alert(1)</script>`, Metadata: map[string]string{"<script>k</script>": `"><img src=x onerror=alert(1)>`}})
	if err != nil {
		t.Fatal(err)
	}
	plain, err := b.CreatePayment(ctx, client.PaymentParams{MerchantOrderNo: "xss-2", Amount: 1300, Currency: "CNY", Scene: "qr"})
	if err != nil {
		t.Fatal(err)
	}
	walletPay(ta.URL, p.QR.Payload, `<script>payer</script>`)
	waitStatus(t, b, p.ID, 20*time.Second, "succeeded")
	if _, err := b.CreateRefund(ctx, p.ID, client.RefundParams{Amount: 100, MerchantRefundNo: "xss-r", Reason: `<svg onload=alert(1)>`}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * time.Second) // a webhook attempt (answered with markup) is recorded

	pages := map[string]string{}
	owner := newPageClient(t, ta)
	owner.login("owner-evil", "Owner-Evil-Password-1")
	owner.post("/settings/password", url.Values{"old_password": {"Owner-Evil-Password-1"}, "password": {"Owner-Evil-Changed-2"},
		"password_again": {"Owner-Evil-Changed-2"}})
	for _, path := range []string{"/dashboard", "/payments", "/payments/" + p.ID, "/stickers", "/developers", "/settings"} {
		st, body := owner.get(path)
		if st != 200 {
			t.Errorf("owner GET %s: %d", path, st)
		}
		pages["owner "+path] = body
	}
	op := newPageClient(t, ta)
	op.login(ta.Demo.Operator.Login, ta.Demo.Operator.Password)
	for _, path := range []string{"/console", "/console/merchants", "/console/merchants?q=" + url.QueryEscape(evil), "/console/merchants/" + id, "/console/audit"} {
		st, body := op.get(path)
		if st != 200 {
			t.Errorf("operator GET %s: %d", path, st)
		}
		pages["operator "+path] = body
	}
	customer := newPageClient(t, ta)
	for _, path := range []string{strings.TrimPrefix(stickerURL, ta.URL), strings.TrimPrefix(p.QR.Payload, ta.URL), strings.TrimPrefix(plain.QR.Payload, ta.URL)} {
		st, body := customer.get(path)
		if st != 200 {
			t.Errorf("customer GET %s: %d", path, st)
		}
		pages["customer "+path] = body
	}
	// The wallet pays the plain code and shows whom it paid: the merchant's name.
	customer.get("/mockpay/wallet")
	if st, body := customer.post("/mockpay/wallet/scan", url.Values{"qr": {plain.QR.Payload}, "payer": {"<script>p</script>"}}); st == 200 {
		pages["customer wallet result"] = body
	} else {
		t.Errorf("wallet form: %d", st)
	}
	// The counter, logged in as the merchant's terminal.
	counter := newPageClient(t, ta)
	counter.get("/counter/login")
	if st, body := counter.post("/counter/login", url.Values{"code": {str(term, "code")}, "pin": {str(term, "pin")}}); st == 200 {
		pages["counter /counter"] = body
	} else {
		t.Errorf("counter login: %d", st)
	}
	// The search box echoes the query.
	owner.get("/payments?q=" + url.QueryEscape(`"><script>alert(1)</script>`))
	pages["owner /payments?q=markup"] = owner.body

	shown := 0
	for where, body := range pages {
		assertEscaped(t, where, body)
		if strings.Contains(body, "&lt;script&gt;") || strings.Contains(body, "&lt;img") || strings.Contains(body, "&lt;svg") ||
			strings.Contains(body, `\u003cscript`) || strings.Contains(body, "\\u003c") {
			shown++
		}
	}
	for _, must := range []string{"owner /dashboard", "owner /payments/" + p.ID, "operator /console/merchants/" + id, "counter /counter",
		"customer " + strings.TrimPrefix(stickerURL, ta.URL), "customer wallet result"} {
		if body := pages[must]; !strings.Contains(body, "&lt;script&gt;") && !strings.Contains(body, "&lt;img") && !strings.Contains(body, "&lt;svg") {
			t.Errorf("%s does not show the escaped markup at all (is the name or memo on it?)", must)
		}
	}
	// The pages' own scripts (the counter's receipt, the cashier's status) build what they show
	// from JSON: as text, never as markup.
	scripts := map[string]bool{}
	for _, body := range pages {
		for _, m := range regexp.MustCompile(`src="(/static/[^"]+\.js)[^"]*"`).FindAllStringSubmatch(body, -1) {
			scripts[m[1]] = true
		}
	}
	for path := range scripts {
		resp, err := http.Get(ta.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		js, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		for _, sink := range []string{"innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval("} {
			if bytes.Contains(js, []byte(sink)) {
				t.Errorf("%s uses %s", path, sink)
			}
		}
	}
	if len(scripts) == 0 {
		t.Error("no page script found")
	}
	t.Logf("%d pages read, %d of them show the markup escaped, none unescaped; %d page scripts use no HTML sinks", len(pages), shown, len(scripts))
	if t.Failed() {
		t.Logf("server output:\n%s", tail(ta.Output.String(), 4000))
	}
}

// TestAttackServerLimits: a body over the limit is 413 on every kind of route; a client that
// sends its headers slowly is cut off by ReadHeaderTimeout (5 s) and one that sends its body
// slowly by --read-timeout; an API key over --rate-limit gets 429 with Retry-After.
func TestAttackServerLimits(t *testing.T) {
	ta := startApp(t, store.SQLite, appOptions{extraArgs: []string{"--read-timeout", "3s", "--rate-limit", "5"}})
	host := strings.TrimPrefix(ta.URL, "http://")

	t.Run("Oversized", func(t *testing.T) {
		big := bytes.Repeat([]byte("x"), 13<<20)
		for _, path := range []string{"/v1/payments", "/callbacks/mockpay", "/login", "/admin/v1/merchants", "/mockpay/wallet/pay", "/p/x/pay", "/counter/api/payments"} {
			req, _ := http.NewRequest("POST", ta.URL+path, bytes.NewReader(big))
			req.Header.Set("Content-Type", "application/json")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				// The server may close the connection after answering 413 before reading it all.
				continue
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusRequestEntityTooLarge {
				t.Errorf("POST %s with 13 MiB: %d, want 413", path, resp.StatusCode)
			}
		}
	})
	t.Run("SlowHeaders", func(t *testing.T) {
		conn, err := net.Dial("tcp", host)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		start := time.Now()
		closed := make(chan time.Duration, 1)
		go func() {
			io.Copy(io.Discard, conn)
			closed <- time.Since(start)
		}()
		// One header byte a second, for up to 20 s.
		req := "GET /healthz HTTP/1.1\r\nHost: " + host + "\r\nX-Slow: " + strings.Repeat("a", 20)
		for i := 0; i < len(req); i++ {
			select {
			case d := <-closed:
				if d < 4*time.Second || d > 10*time.Second {
					t.Fatalf("a slow client was cut off after %s, want about 5 s", d)
				}
				t.Logf("slow headers cut off after %s", d.Round(time.Millisecond))
				return
			default:
			}
			if _, err := conn.Write([]byte{req[i]}); err != nil {
				d := time.Since(start)
				if d < 4*time.Second {
					t.Fatalf("write failed after %s", d)
				}
				t.Logf("slow headers cut off after %s", d.Round(time.Millisecond))
				return
			}
			time.Sleep(time.Second)
		}
		t.Fatalf("a client sending headers at a byte a second was not cut off in %s", time.Since(start))
	})
	t.Run("SlowBody", func(t *testing.T) {
		conn, err := net.Dial("tcp", host)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		start := time.Now()
		fmt.Fprintf(conn, "POST /mockpay/wallet/pay HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{", host)
		done := make(chan string, 1)
		go func() {
			line, _ := bufio.NewReader(conn).ReadString('\n')
			done <- line
		}()
		for i := 0; i < 99; i++ {
			select {
			case line := <-done:
				d := time.Since(start)
				if d < 2*time.Second || d > 8*time.Second {
					t.Fatalf("a slow body was cut off after %s (%q), want about 3 s", d, line)
				}
				t.Logf("slow body cut off after %s: %q", d.Round(time.Millisecond), strings.TrimSpace(line))
				return
			default:
			}
			if _, err := conn.Write([]byte(" ")); err != nil {
				t.Logf("slow body cut off after %s (write failed)", time.Since(start).Round(time.Millisecond))
				return
			}
			time.Sleep(500 * time.Millisecond)
		}
		t.Fatalf("a body sent at two bytes a second was not cut off in %s", time.Since(start))
	})
	t.Run("RateLimit", func(t *testing.T) {
		c := plainClient(ta)
		var mu sync.Mutex
		var wg sync.WaitGroup
		limited := 0
		for i := 0; i < 40; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				var raw []byte
				err := c.Do(context.Background(), "GET", "/v1/payments?limit=1", nil, &raw)
				var ce *client.Error
				mu.Lock()
				defer mu.Unlock()
				if errorsAs(err, &ce) && ce.Status == http.StatusTooManyRequests {
					if ce.Code != "rate_limited" {
						t.Errorf("429 with code %s", ce.Code)
					}
					limited++
				} else if err != nil {
					t.Error(err)
				}
			}()
		}
		wg.Wait()
		if limited == 0 {
			t.Fatal("40 requests at once with --rate-limit 5 were never limited")
		}
		// Retry-After says when to come back.
		req, _ := http.NewRequest("GET", ta.URL+"/v1/payments?limit=1", nil)
		c.SignRequest(req, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode == http.StatusTooManyRequests && resp.Header.Get("Retry-After") == "" {
			t.Error("429 without Retry-After")
		}
		t.Logf("%d of 40 requests at once limited (5/s, burst 10)", limited)
		// Another key is not slowed by this one.
		_, other := onboard(t, ta, "91310115591693856A")
		if _, err := other.Payments(context.Background(), client.ListParams{Limit: 1}); err != nil {
			t.Errorf("another key: %v", err)
		}
	})
}
