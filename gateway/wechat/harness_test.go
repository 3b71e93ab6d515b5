package wechat_test

import (
	"crypto/tls"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/qrpay/qrpay"
	"github.com/qrpay/qrpay/gateway"
	"github.com/qrpay/qrpay/gateway/wechat"
	"github.com/qrpay/qrpay/gateway/wechat/wechatfake"
)

var (
	keysOnce sync.Once
	keys     *wechatfake.Keys
	keysErr  error
)

// testKeys returns one set of keys for the whole test binary (RSA key generation is slow).
func testKeys(t testing.TB) *wechatfake.Keys {
	t.Helper()
	keysOnce.Do(func() { keys, keysErr = wechatfake.NewKeys() })
	if keysErr != nil {
		t.Fatal(keysErr)
	}
	return keys
}

// start is 2026-03-10 10:00 in Shanghai.
var start = time.Date(2026, 3, 10, 2, 0, 0, 0, time.UTC)

// env is one fake WeChat Pay, one adapter talking to it, and the merchant's notify endpoint,
// which hands notices to the adapter's ParseCallback and answers as the gateway would.
type env struct {
	t      *testing.T
	keys   *wechatfake.Keys
	clock  *qrpay.FakeClock
	fake   *wechatfake.Server
	p      *wechat.Provider
	cfg    wechat.Config
	notify *httptest.Server

	mu        sync.Mutex
	callbacks []*gateway.Callback
	cbErrs    []error
	parser    *wechat.Provider // the provider that reads notices; p unless replaced
}

type envOption struct {
	fake   func(*wechatfake.Options)
	config func(*wechat.Config)
}

func newEnv(t *testing.T, opts ...envOption) *env {
	t.Helper()
	k := testKeys(t)
	e := &env{t: t, keys: k, clock: qrpay.NewFakeClock(start)}
	fo := wechatfake.Options{Keys: k, Clock: e.clock}
	for _, o := range opts {
		if o.fake != nil {
			o.fake(&fo)
		}
	}
	fake, err := wechatfake.Start(fo)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(fake.Close)
	e.fake = fake
	cert := k.ClientCertificate()
	e.cfg = wechat.Config{
		BaseURL:            fake.URL(),
		AppID:              k.AppID,
		MchID:              k.MchID,
		MerchantSerialNo:   k.MerchantSerialNo,
		MerchantPrivateKey: k.MerchantKey,
		PlatformPublicKeys: k.PlatformKeys(fo.UsePublicKeyID),
		APIv3Key:           k.APIv3Key,
		APIv2Key:           k.APIv2Key,
		ClientCert:         &cert,
		HTTPClient:         k.HTTPClient(),
		Clock:              e.clock,
		Timeout:            5 * time.Second,
	}
	for _, o := range opts {
		if o.config != nil {
			o.config(&e.cfg)
		}
	}
	e.p, err = wechat.New(e.cfg)
	if err != nil {
		t.Fatal(err)
	}
	e.parser = e.p
	e.notify = httptest.NewServer(http.HandlerFunc(e.serveNotify))
	t.Cleanup(e.notify.Close)
	return e
}

// provider builds another adapter on the same fake with a changed configuration.
func (e *env) provider(change func(*wechat.Config)) *wechat.Provider {
	e.t.Helper()
	c := e.cfg
	change(&c)
	p, err := wechat.New(c)
	if err != nil {
		e.t.Fatal(err)
	}
	return p
}

// serveNotify is the merchant's notify endpoint.
func (e *env) serveNotify(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	e.mu.Lock()
	parser := e.parser
	e.mu.Unlock()
	cb, err := parser.ParseCallback(r.Context(), gateway.CallbackRequest{Method: r.Method, Path: r.URL.Path,
		Query: r.URL.RawQuery, Header: r.Header, Body: body})
	reply := parser.CallbackNack()
	e.mu.Lock()
	if err != nil {
		e.cbErrs = append(e.cbErrs, err)
	} else {
		e.callbacks = append(e.callbacks, cb)
		reply = cb.Ack
	}
	e.mu.Unlock()
	w.Header().Set("Content-Type", reply.ContentType)
	w.WriteHeader(reply.Status)
	_, _ = w.Write(reply.Body)
}

func (e *env) setParser(p *wechat.Provider) { e.mu.Lock(); e.parser = p; e.mu.Unlock() }

// lastCallback returns the newest accepted notice.
func (e *env) lastCallback() *gateway.Callback {
	e.t.Helper()
	e.mu.Lock()
	defer e.mu.Unlock()
	if len(e.callbacks) == 0 {
		e.t.Fatal("no notice was accepted")
	}
	return e.callbacks[len(e.callbacks)-1]
}

// lastCallbackErr returns the newest refused notice's error.
func (e *env) lastCallbackErr() error {
	e.t.Helper()
	e.mu.Lock()
	defer e.mu.Unlock()
	if len(e.cbErrs) == 0 {
		e.t.Fatal("no notice was refused")
	}
	return e.cbErrs[len(e.cbErrs)-1]
}

func cny(fen int64) qrpay.Money { return qrpay.Money{Amount: fen, Currency: qrpay.CNY} }

// wantProviderErr checks that err is a *gateway.ProviderError with the code and unknown flag.
func wantProviderErr(t *testing.T, err error, code string, unknown bool) *gateway.ProviderError {
	t.Helper()
	var pe *gateway.ProviderError
	if !errors.As(err, &pe) {
		t.Fatalf("error = %v, want a *gateway.ProviderError %s", err, code)
	}
	if pe.Code != code || pe.Unknown != unknown {
		t.Fatalf("error = %v, want code %s unknown=%v", err, code, unknown)
	}
	if pe.Channel != gateway.ChannelWechat {
		t.Errorf("channel = %q", pe.Channel)
	}
	return pe
}

// noCert is a transport without the merchant client certificate.
func noCert(k *wechatfake.Keys) *http.Client {
	return &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: k.RootCAs(), MinVersion: tls.VersionTLS12}}}
}
