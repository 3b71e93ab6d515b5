package unionpay_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/qrpay/qrpay"
	"github.com/qrpay/qrpay/gateway"
	"github.com/qrpay/qrpay/gateway/unionpay"
	"github.com/qrpay/qrpay/gateway/unionpay/unionpayfake"
)

// The account the tests use. The ids are made up; they only have the shapes ACP uses.
const (
	merID         = "777290058110048"
	subMerID      = "898310060110001"
	acquirerIIN   = "48021000"
	forwardingIIN = "00010344"
	merchantCert  = "70000000001"
	unionpayCert  = "70000000002"
)

var (
	keyOnce            sync.Once
	merchantKey, upKey *rsa.PrivateKey
	otherKey           *rsa.PrivateKey
	keyErr             error
	start              = time.Date(2024, 1, 15, 2, 0, 0, 0, time.UTC) // 10:00 in Asia/Shanghai
)

func cny(fen int64) qrpay.Money { return qrpay.Money{Amount: fen, Currency: qrpay.CNY} }

func testKeys(t testing.TB) {
	t.Helper()
	keyOnce.Do(func() {
		if merchantKey, upKey, keyErr = unionpayfake.GenerateKeys(); keyErr != nil {
			return
		}
		otherKey, keyErr = rsa.GenerateKey(rand.Reader, 2048)
	})
	if keyErr != nil {
		t.Fatal(keyErr)
	}
}

// received is one notification as the web layer would handle it.
type received struct {
	cb  *gateway.Callback
	err error
}

// env is an adapter wired to a fake over loopback HTTP, with a receiver that hands every
// notification to ParseCallback and answers with its Ack or CallbackNack.
type env struct {
	t         *testing.T
	ctx       context.Context
	clock     *qrpay.FakeClock
	fake      *unionpayfake.Server
	p         *unionpay.Provider
	cfg       unionpay.Config
	notifyURL string

	mu  sync.Mutex
	got []received
}

func baseConfig(url string, clock qrpay.Clock) unionpay.Config {
	return unionpay.Config{BaseURL: url, MerchantID: merID, AcquirerIIN: acquirerIIN, ForwardingIIN: forwardingIIN,
		SigningKey: merchantKey, SigningCertID: merchantCert,
		VerifyKeys:   map[string]*rsa.PublicKey{unionpayCert: &upKey.PublicKey},
		MerchantName: "LUCKY COFFEE", MerchantCity: "SHANGHAI", MCC: "5814", Clock: clock, Timeout: 5 * time.Second}
}

func newEnv(t *testing.T, mutate ...func(*unionpay.Config)) *env {
	t.Helper()
	testKeys(t)
	e := &env{t: t, ctx: context.Background(), clock: qrpay.NewFakeClock(start)}
	fake, err := unionpayfake.New(unionpayfake.Options{MerchantCertID: merchantCert, MerchantKey: &merchantKey.PublicKey,
		UnionPayKey: upKey, UnionPayCertID: unionpayCert, AcquirerIIN: acquirerIIN, ForwardingIIN: forwardingIIN,
		Clock: e.clock})
	if err != nil {
		t.Fatal(err)
	}
	e.fake = fake
	e.cfg = baseConfig(fake.URL(), e.clock)
	for _, m := range mutate {
		m(&e.cfg)
	}
	if e.p, err = unionpay.New(e.cfg); err != nil {
		t.Fatal(err)
	}
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		cb, err := e.p.ParseCallback(r.Context(), gateway.CallbackRequest{Method: r.Method, Path: r.URL.Path,
			Header: r.Header, Body: body})
		e.mu.Lock()
		e.got = append(e.got, received{cb, err})
		e.mu.Unlock()
		reply := e.p.CallbackNack()
		if err == nil {
			reply = cb.Ack
		}
		w.Header().Set("Content-Type", reply.ContentType)
		w.WriteHeader(reply.Status)
		_, _ = w.Write(reply.Body)
	}))
	e.notifyURL = recv.URL + "/callbacks/unionpay"
	t.Cleanup(func() {
		fake.Close()
		recv.Close()
	})
	return e
}

// notices waits for the fake's notifications in flight and returns what the receiver made of
// them, from the n-th on.
func (e *env) notices(from int) []received {
	e.fake.Notifies()
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]received(nil), e.got[from:]...)
}

func (e *env) noticeCount() int {
	e.fake.Notifies()
	e.mu.Lock()
	defer e.mu.Unlock()
	return len(e.got)
}

// providerError returns the *gateway.ProviderError in err's chain.
func providerError(err error) (*gateway.ProviderError, bool) {
	var pe *gateway.ProviderError
	return pe, errors.As(err, &pe)
}

func wantProviderError(t *testing.T, err error, code string, unknown bool) {
	t.Helper()
	pe, ok := providerError(err)
	if !ok {
		t.Fatalf("want a *gateway.ProviderError %s, got %v", code, err)
	}
	if pe.Code != code || pe.Unknown != unknown || pe.Channel != "unionpay" {
		t.Fatalf("want %s unknown=%v, got %v", code, unknown, pe)
	}
}
