package wechat_test

import (
	"bytes"
	"crypto/tls"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/qrpay/qrpay/gateway"
	"github.com/qrpay/qrpay/gateway/wechat"
	"github.com/qrpay/qrpay/gateway/wechat/wechatfake"
)

// lastURIs returns the request URIs after the first n requests.
func urisSince(f *wechatfake.Server, n int) []string {
	var out []string
	for _, r := range f.Requests()[n:] {
		path, _, _ := strings.Cut(r.URI, "?")
		out = append(out, path)
	}
	return out
}

func TestMicropay(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	pay := func(id, code string, fen int64) (*gateway.Trade, error) {
		return e.p.PayWithCode(ctx, gateway.PayCodeRequest{PaymentID: id, AuthCode: code, Amount: cny(fen),
			Description: "Counter sale", TerminalID: "till-7", ClientIP: "10.1.2.3"})
	}

	t.Run("success", func(t *testing.T) {
		tr, err := pay("pay_code_ok", "134567890123456789", 2500)
		if err != nil {
			t.Fatal(err)
		}
		if tr.Status != gateway.TradeSucceeded || tr.Amount != cny(2500) || tr.ProviderTradeNo == "" || tr.Payer == "" ||
			!tr.PaidAt.Equal(start) || tr.PaymentID != "pay_code_ok" {
			t.Errorf("trade = %+v", tr)
		}
		// Micropay orders are visible to the APIv3 query too.
		got, err := e.p.Query(ctx, gateway.TradeRef{PaymentID: "pay_code_ok"})
		if err != nil || got.Status != gateway.TradeSucceeded || got.ProviderTradeNo != tr.ProviderTradeNo {
			t.Errorf("query = %+v, %v", got, err)
		}
	})

	t.Run("user paying then success", func(t *testing.T) {
		e.fake.SetMicropay("134567890123450002", wechatfake.Micropay{Result: wechatfake.MicropayUserPaying, Queries: 2})
		tr, err := pay("pay_code_wait", "134567890123450002", 1200)
		if err != nil {
			t.Fatal(err)
		}
		if tr.Status != gateway.TradePending {
			t.Fatalf("trade = %+v, want pending", tr)
		}
		var statuses []gateway.TradeStatus
		for range 3 {
			e.clock.Advance(10 * time.Second)
			q, err := e.p.Query(ctx, gateway.TradeRef{PaymentID: "pay_code_wait"})
			if err != nil {
				t.Fatal(err)
			}
			statuses = append(statuses, q.Status)
			if q.Status == gateway.TradeSucceeded && (q.Amount != cny(1200) || q.ProviderTradeNo == "") {
				t.Errorf("final query = %+v", q)
			}
		}
		want := []gateway.TradeStatus{gateway.TradePending, gateway.TradePending, gateway.TradeSucceeded}
		if strings.Join(toStrings(statuses), ",") != strings.Join(toStrings(want), ",") {
			t.Errorf("polled %v, want %v", statuses, want)
		}
	})

	t.Run("user paying, polled through v2 orderquery", func(t *testing.T) {
		e.fake.HideMicropayFromV3(true)
		defer e.fake.HideMicropayFromV3(false)
		e.fake.SetMicropay("134567890123450003", wechatfake.Micropay{Result: wechatfake.MicropayUserPaying, Queries: 1})
		if tr, err := pay("pay_code_v2", "134567890123450003", 990); err != nil || tr.Status != gateway.TradePending {
			t.Fatalf("pay = %+v, %v", tr, err)
		}
		n := len(e.fake.Requests())
		q, err := e.p.Query(ctx, gateway.TradeRef{PaymentID: "pay_code_v2"})
		if err != nil || q.Status != gateway.TradePending {
			t.Fatalf("first poll = %+v, %v", q, err)
		}
		got := strings.Join(urisSince(e.fake, n), " ")
		if got != "/v3/pay/transactions/out-trade-no/pay_code_v2 /pay/orderquery" {
			t.Errorf("first poll asked %s", got)
		}
		q, err = e.p.QueryMicropay(ctx, gateway.TradeRef{PaymentID: "pay_code_v2"})
		if err != nil || q.Status != gateway.TradeSucceeded || q.Amount != cny(990) || q.PaidAt.IsZero() {
			t.Errorf("second poll = %+v, %v", q, err)
		}
		_, err = e.p.Query(ctx, gateway.TradeRef{PaymentID: "pay_code_none"})
		wantProviderErr(t, err, gateway.ProviderNotFound, false)
	})

	t.Run("declined", func(t *testing.T) {
		e.fake.SetMicropay("134567890123450004", wechatfake.Micropay{Result: wechatfake.MicropayDeclined, ErrCode: "NOTENOUGH", ErrDesc: "余额不足"})
		tr, err := pay("pay_code_poor", "134567890123450004", 100000)
		if err != nil {
			t.Fatal(err)
		}
		if tr.Status != gateway.TradeFailed || tr.FailureReason != "NOTENOUGH: 余额不足" {
			t.Errorf("trade = %+v", tr)
		}
		tr, err = pay("pay_code_bad", "999", 100)
		if err != nil || tr.Status != gateway.TradeFailed || !strings.HasPrefix(tr.FailureReason, "AUTH_CODE_INVALID") {
			t.Errorf("invalid code = %+v, %v", tr, err)
		}
		q, err := e.p.Query(ctx, gateway.TradeRef{PaymentID: "pay_code_poor"})
		if err != nil || q.Status != gateway.TradeFailed {
			t.Errorf("query of a declined payment = %+v, %v", q, err)
		}
	})

	t.Run("system error, then reversal of a paid order", func(t *testing.T) {
		e.fake.SetMicropay("134567890123450005", wechatfake.Micropay{Result: wechatfake.MicropaySystemError, Then: "SUCCESS"})
		_, err := pay("pay_code_lost", "134567890123450005", 4200)
		if pe := wantProviderErr(t, err, gateway.ProviderUnavailable, true); pe.ProviderCode != "SYSTEMERROR" {
			t.Errorf("provider code = %s", pe.ProviderCode)
		}
		e.clock.Advance(20 * time.Second)
		n := len(e.fake.Requests())
		res, err := e.p.Cancel(ctx, gateway.TradeRef{PaymentID: "pay_code_lost"})
		if err != nil {
			t.Fatal(err)
		}
		if !res.Refunded {
			t.Error("reversal of a paid order not reported as refunded")
		}
		reqs := e.fake.Requests()[n:]
		if len(reqs) != 2 || reqs[1].URI != "/secapi/pay/reverse" || !reqs[1].ClientCert {
			t.Errorf("reversal requests = %+v", reqs)
		}
		if o, _ := e.fake.Order("pay_code_lost"); o.TradeState != "REVOKED" {
			t.Errorf("fake order state = %s", o.TradeState)
		}
		q, err := e.p.Query(ctx, gateway.TradeRef{PaymentID: "pay_code_lost"})
		if err != nil || q.Status != gateway.TradeClosed {
			t.Errorf("query after reversal = %+v, %v", q, err)
		}
	})

	t.Run("reversal of an unpaid order", func(t *testing.T) {
		e.fake.SetMicropay("134567890123450006", wechatfake.Micropay{Result: wechatfake.MicropaySystemError})
		_, err := pay("pay_code_unpaid", "134567890123450006", 300)
		wantProviderErr(t, err, gateway.ProviderUnavailable, true)
		res, err := e.p.Cancel(ctx, gateway.TradeRef{PaymentID: "pay_code_unpaid"})
		if err != nil || res.Refunded {
			t.Errorf("cancel = %+v, %v", res, err)
		}
	})

	t.Run("reversal to retry", func(t *testing.T) {
		e.fake.SetMicropay("134567890123450007", wechatfake.Micropay{Result: wechatfake.MicropayUserPaying, Queries: 100})
		if _, err := pay("pay_code_recall", "134567890123450007", 300); err != nil {
			t.Fatal(err)
		}
		e.fake.RecallNextReverse()
		_, err := e.p.Cancel(ctx, gateway.TradeRef{PaymentID: "pay_code_recall"})
		if pe := wantProviderErr(t, err, gateway.ProviderUnavailable, true); pe.ProviderCode != "SYSTEMERROR" {
			t.Errorf("provider code = %s", pe.ProviderCode)
		}
		if o, _ := e.fake.Order("pay_code_recall"); o.TradeState != "USERPAYING" {
			t.Errorf("state after a recall answer = %s", o.TradeState)
		}
		if _, err := e.p.Cancel(ctx, gateway.TradeRef{PaymentID: "pay_code_recall"}); err != nil {
			t.Errorf("retried cancel: %v", err)
		}
		_, err = e.p.Cancel(ctx, gateway.TradeRef{PaymentID: "pay_code_never"})
		wantProviderErr(t, err, gateway.ProviderNotFound, false)
	})

	t.Run("reversal refused without the client certificate", func(t *testing.T) {
		e.fake.SetMicropay("134567890123450008", wechatfake.Micropay{Result: wechatfake.MicropayUserPaying, Queries: 100})
		if _, err := pay("pay_code_nocert", "134567890123450008", 300); err != nil {
			t.Fatal(err)
		}
		p := e.provider(func(c *wechat.Config) { c.ClientCert = nil; c.HTTPClient = noCert(e.keys) })
		n := len(e.fake.Requests())
		_, err := p.Cancel(ctx, gateway.TradeRef{PaymentID: "pay_code_nocert"})
		wantProviderErr(t, err, gateway.ProviderAuth, false)
		if reqs := e.fake.Requests()[n:]; len(reqs) != 2 || reqs[1].ClientCert {
			t.Errorf("requests = %+v", reqs)
		}
		if o, _ := e.fake.Order("pay_code_nocert"); o.TradeState != "USERPAYING" {
			t.Errorf("order reversed without a certificate: %s", o.TradeState)
		}
		// The endpoint itself refuses a correctly signed request without a certificate, and
		// takes it with one.
		params := map[string]string{"appid": e.keys.AppID, "mch_id": e.keys.MchID, "nonce_str": "n0nce",
			"out_trade_no": "pay_code_nocert", "sign_type": wechat.SignTypeHMACSHA256}
		params["sign"] = wechat.V2Sign(params, e.keys.APIv2Key, wechat.SignTypeHMACSHA256)
		var doc strings.Builder
		doc.WriteString("<xml>")
		for k, v := range params {
			doc.WriteString("<" + k + ">" + v + "</" + k + ">")
		}
		doc.WriteString("</xml>")
		withCert := e.keys.HTTPClient()
		withCert.Transport.(*http.Transport).TLSClientConfig.Certificates = []tls.Certificate{e.keys.ClientCertificate()}
		for _, c := range []struct {
			client *http.Client
			want   string
		}{{noCert(e.keys), "证书验证失败"}, {withCert, "<result_code><![CDATA[SUCCESS]]>"}} {
			resp, err := c.client.Post(e.fake.URL()+"/secapi/pay/reverse", "text/xml", strings.NewReader(doc.String()))
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if !bytes.Contains(body, []byte(c.want)) {
				t.Errorf("raw reversal answered %s, want %s", body, c.want)
			}
		}
		if o, _ := e.fake.Order("pay_code_nocert"); o.TradeState != "REVOKED" {
			t.Errorf("state after the reversal with a certificate = %s", o.TradeState)
		}
	})

	t.Run("tampered v2 answer", func(t *testing.T) {
		e.fake.TamperNext()
		_, err := pay("pay_code_tamper", "134567890123450009", 100)
		wantProviderErr(t, err, gateway.ProviderTampered, true)
	})

	t.Run("wrong APIv2 key", func(t *testing.T) {
		p := e.provider(func(c *wechat.Config) { c.APIv2Key = strings.Repeat("k", 32) })
		_, err := p.PayWithCode(ctx, gateway.PayCodeRequest{PaymentID: "pay_code_key", AuthCode: "134567890123450010", Amount: cny(1)})
		wantProviderErr(t, err, gateway.ProviderAuth, false)
		if _, ok := e.fake.Order("pay_code_key"); ok {
			t.Error("the fake took a request with a wrong sign")
		}
	})

	t.Run("MD5 signing", func(t *testing.T) {
		p := e.provider(func(c *wechat.Config) { c.V2SignType = wechat.SignTypeMD5 })
		tr, err := p.PayWithCode(ctx, gateway.PayCodeRequest{PaymentID: "pay_code_md5", AuthCode: "134567890123450011", Amount: cny(1)})
		if err != nil || tr.Status != gateway.TradeSucceeded {
			t.Errorf("MD5 micropay = %+v, %v", tr, err)
		}
	})

	t.Run("5xx", func(t *testing.T) {
		e.fake.FailNext(503)
		_, err := pay("pay_code_503", "134567890123450012", 100)
		wantProviderErr(t, err, gateway.ProviderUnavailable, true)
	})
}

func toStrings(s []gateway.TradeStatus) []string {
	out := make([]string, len(s))
	for i, v := range s {
		out[i] = string(v)
	}
	return out
}
