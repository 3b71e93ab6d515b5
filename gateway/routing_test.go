package gateway_test

import (
	"context"
	"io"
	"testing"
	"time"

	"github.com/qrpay/qrpay"
	"github.com/qrpay/qrpay/gateway"
	"github.com/qrpay/qrpay/merchant"
)

// stubProvider is a Provider that routing tests only look at the channel of.
type stubProvider struct{ channel string }

func (p stubProvider) Channel() string { return p.channel }
func (stubProvider) CreateCode(context.Context, gateway.CreateCodeRequest) (*gateway.Code, error) {
	return nil, io.EOF
}
func (stubProvider) PayWithCode(context.Context, gateway.PayCodeRequest) (*gateway.Trade, error) {
	return nil, io.EOF
}
func (stubProvider) Query(context.Context, gateway.TradeRef) (*gateway.Trade, error) {
	return nil, io.EOF
}
func (stubProvider) Cancel(context.Context, gateway.TradeRef) (*gateway.CancelResult, error) {
	return nil, io.EOF
}
func (stubProvider) Close(context.Context, gateway.TradeRef) error { return io.EOF }
func (stubProvider) Refund(context.Context, gateway.RefundRequest) (*gateway.RefundResult, error) {
	return nil, io.EOF
}
func (stubProvider) QueryRefund(context.Context, gateway.RefundRef) (*gateway.RefundResult, error) {
	return nil, io.EOF
}
func (stubProvider) ParseCallback(context.Context, gateway.CallbackRequest) (*gateway.Callback, error) {
	return nil, io.EOF
}
func (stubProvider) CallbackNack() gateway.Reply { return gateway.Reply{} }
func (stubProvider) Statement(context.Context, string) (*gateway.Statement, error) {
	return nil, io.EOF
}
func (stubProvider) ParseStatement(io.Reader) (*gateway.Statement, error) { return nil, io.EOF }

func testRouter(t *testing.T, clock qrpay.Clock, accounts ...*gateway.Account) *gateway.Router {
	t.Helper()
	all := append([]*gateway.Account{{ID: "mock", Channel: gateway.ChannelMockpay, Provider: stubProvider{gateway.ChannelMockpay}}}, accounts...)
	r, err := gateway.NewRouter(all, nil, "mock", clock)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func binding(account, channel, sub string, weight int) merchant.Binding {
	return merchant.Binding{AccountID: account, Channel: channel, SubMerchantID: sub, Weight: weight, Status: "active"}
}

func TestRouteByWeight(t *testing.T) {
	r := testRouter(t, nil,
		&gateway.Account{ID: "ali-a", Channel: gateway.ChannelAlipay, Provider: stubProvider{gateway.ChannelAlipay}},
		&gateway.Account{ID: "ali-b", Channel: gateway.ChannelAlipay, Provider: stubProvider{gateway.ChannelAlipay}})
	bs := []merchant.Binding{binding("ali-a", "alipay", "sub-a", 1), binding("ali-b", "alipay", "sub-b", 3)}
	counts := map[string]int{}
	for i := 0; i < 20000; i++ {
		rt, err := r.Route(gateway.RouteRequest{Mode: merchant.ModeLive, Channel: "alipay", Bindings: bs})
		if err != nil {
			t.Fatal(err)
		}
		counts[rt.AccountID]++
		if (rt.AccountID == "ali-a") != (rt.SubMerchantID == "sub-a") {
			t.Fatalf("route %+v carries the other binding's sub-merchant id", rt)
		}
	}
	share := float64(counts["ali-b"]) / 20000
	if share < 0.72 || share > 0.78 {
		t.Fatalf("weight 3 of 4 took %.3f of the payments, want about 0.75", share)
	}
}

func TestRouteFailover(t *testing.T) {
	clock := qrpay.NewFakeClock(time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC))
	disabled := &gateway.Account{ID: "wx-off", Channel: gateway.ChannelWechat, Provider: stubProvider{gateway.ChannelWechat}, Disabled: true}
	a := &gateway.Account{ID: "wx-a", Channel: gateway.ChannelWechat, Provider: stubProvider{gateway.ChannelWechat}}
	b := &gateway.Account{ID: "wx-b", Channel: gateway.ChannelWechat, Provider: stubProvider{gateway.ChannelWechat}}
	r := testRouter(t, clock, disabled, a, b)
	bs := []merchant.Binding{binding("wx-off", "wechat", "s0", 100), binding("wx-a", "wechat", "s1", 1), binding("wx-b", "wechat", "s2", 1)}
	route := func() string {
		rt, err := r.Route(gateway.RouteRequest{Mode: merchant.ModeLive, AuthCode: "134567890123456789", Bindings: bs})
		if err != nil {
			t.Fatal(err)
		}
		return rt.AccountID
	}
	for i := 0; i < 200; i++ {
		if route() == "wx-off" {
			t.Fatal("a disabled account took a payment")
		}
	}
	// Five failures in a row open wx-a's breaker: everything goes to wx-b.
	unavailable := &gateway.ProviderError{Code: gateway.ProviderUnavailable, Unknown: true}
	for i := 0; i < r.Threshold; i++ {
		r.Report("wx-a", unavailable)
	}
	if !r.BreakerOpen("wx-a") {
		t.Fatal("the breaker did not open")
	}
	for i := 0; i < 200; i++ {
		if route() != "wx-b" {
			t.Fatal("an account with an open breaker took a payment")
		}
	}
	// After the cooldown it closes again.
	clock.Advance(r.Cooldown + time.Second)
	seenA := false
	for i := 0; i < 200 && !seenA; i++ {
		seenA = route() == "wx-a"
	}
	if !seenA {
		t.Fatal("wx-a never came back after its cooldown")
	}
	// A determined refusal is an answer: it does not count against the account.
	for i := 0; i < 10; i++ {
		r.Report("wx-b", &gateway.ProviderError{Code: gateway.ProviderDeclined})
	}
	if r.BreakerOpen("wx-b") {
		t.Fatal("declines opened the breaker")
	}
	// Excluding the only other account leaves none.
	if _, err := r.Route(gateway.RouteRequest{Mode: merchant.ModeLive, Channel: "wechat", Bindings: bs[:2], Exclude: []string{"wx-a"}}); qrpay.ErrorCode(err) != qrpay.EPROVIDERUNAVAILABLE {
		t.Fatalf("err = %v, want provider_unavailable", err)
	}
}

func TestTestModeRoutesToMock(t *testing.T) {
	r := testRouter(t, nil, &gateway.Account{ID: "ali", Channel: gateway.ChannelAlipay, Provider: stubProvider{gateway.ChannelAlipay}})
	bs := []merchant.Binding{binding("ali", "alipay", "sub", 1)}
	for _, req := range []gateway.RouteRequest{
		{Mode: merchant.ModeTest, Channel: "alipay", Bindings: bs},
		{Mode: merchant.ModeTest, AuthCode: "28763443825664394", Bindings: bs},
		{Mode: merchant.ModeTest, UserAgent: "AlipayClient/10", Bindings: bs},
		{Mode: merchant.ModeTest},
	} {
		rt, err := r.Route(req)
		if err != nil || rt.AccountID != "mock" {
			t.Fatalf("%+v routed to %+v, %v; want the mock provider", req, rt, err)
		}
	}
	if _, err := r.Route(gateway.RouteRequest{Mode: merchant.ModeLive}); qrpay.ErrorParam(err) != "channel" {
		t.Fatalf("a live payment without a channel: %v", err)
	}
	if _, err := r.Route(gateway.RouteRequest{Mode: merchant.ModeLive, Channel: "wechat", Bindings: bs}); qrpay.ErrorCode(err) != qrpay.EPROVIDERUNAVAILABLE {
		t.Fatalf("a channel without a binding: %v", err)
	}
}
