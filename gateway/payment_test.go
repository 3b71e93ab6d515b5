package gateway_test

import (
	"testing"

	"github.com/qrpay/qrpay/gateway"
)

// TestTransitionTable checks the state machine: every allowed transition, and every forbidden
// one refused.
func TestTransitionTable(t *testing.T) {
	allowed := map[[2]gateway.Status]bool{
		{gateway.StatusCreated, gateway.StatusPending}:   true,
		{gateway.StatusCreated, gateway.StatusSucceeded}: true,
		{gateway.StatusCreated, gateway.StatusFailed}:    true,
		{gateway.StatusCreated, gateway.StatusClosed}:    true,
		{gateway.StatusCreated, gateway.StatusExpired}:   true,
		{gateway.StatusPending, gateway.StatusSucceeded}: true,
		{gateway.StatusPending, gateway.StatusFailed}:    true,
		{gateway.StatusPending, gateway.StatusClosed}:    true,
		{gateway.StatusPending, gateway.StatusExpired}:   true,
		// Late successes: recorded and raised, never dropped.
		{gateway.StatusClosed, gateway.StatusSucceeded}:  true,
		{gateway.StatusExpired, gateway.StatusSucceeded}: true,
		{gateway.StatusFailed, gateway.StatusSucceeded}:  true,
	}
	for _, from := range gateway.Statuses {
		for _, to := range gateway.Statuses {
			want := allowed[[2]gateway.Status{from, to}]
			if got := gateway.CanTransition(from, to); got != want {
				t.Errorf("CanTransition(%s, %s) = %v, want %v", from, to, got, want)
			}
			late := want && to == gateway.StatusSucceeded && (from == gateway.StatusClosed || from == gateway.StatusExpired || from == gateway.StatusFailed)
			if got := gateway.IsLateSuccess(from, to); got != late {
				t.Errorf("IsLateSuccess(%s, %s) = %v, want %v", from, to, got, late)
			}
		}
	}
	for _, s := range gateway.Statuses {
		if final := s.Final(); final != (s != gateway.StatusCreated && s != gateway.StatusPending) {
			t.Errorf("%s.Final() = %v", s, final)
		}
	}
}

func TestRefundable(t *testing.T) {
	p := &gateway.Payment{Status: gateway.StatusSucceeded, Amount: 1000, RefundedAmount: 300, RefundingAmount: 200}
	if got := p.Refundable(); got != 500 {
		t.Fatalf("Refundable = %d, want 500", got)
	}
	p.Status = gateway.StatusClosed
	if got := p.Refundable(); got != 0 {
		t.Fatalf("a closed payment's Refundable = %d, want 0", got)
	}
}

func TestRoutingByPrefixAndUserAgent(t *testing.T) {
	cases := []struct{ code, channel string }{
		{"134567890123456789", gateway.ChannelWechat},
		{"101234567890123456", gateway.ChannelWechat},
		{"28763443825664394", gateway.ChannelAlipay},
		{"301234567890123456789012", gateway.ChannelAlipay},
		{"6212345678901234567", gateway.ChannelUnionpay},
		{"162345678901234567", ""},   // WeChat is 10-15
		{"2412345678901234", ""},     // Alipay is 25-30
		{"62123456789012345678", ""}, // UnionPay is 19 digits
		{"999999", ""},
	}
	r, err := gateway.NewRouter([]*gateway.Account{{ID: "mock", Channel: gateway.ChannelMockpay, Provider: stubProvider{gateway.ChannelMockpay}}}, nil, "mock", nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cases {
		ch, err := r.ChannelForAuthCode(c.code)
		if c.channel == "" {
			if err == nil {
				t.Errorf("%s routed to %s, want an error", c.code, ch)
			}
			continue
		}
		if err != nil || ch != c.channel {
			t.Errorf("%s -> %q, %v; want %s", c.code, ch, err, c.channel)
		}
	}
	for ua, want := range map[string]string{
		"Mozilla/5.0 (iPhone) AlipayClient/10.5.0":           gateway.ChannelAlipay,
		"Mozilla/5.0 (Linux; Android 14) MicroMessenger/8.0": gateway.ChannelWechat,
		"Mozilla/5.0 UnionPay/1.0 CloudPay":                  gateway.ChannelUnionpay,
		"Mozilla/5.0 (X11; Linux) Chrome/120":                "",
	} {
		if got := gateway.ChannelForUserAgent(ua); got != want {
			t.Errorf("ChannelForUserAgent(%q) = %q, want %q", ua, got, want)
		}
	}
}
