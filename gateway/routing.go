package gateway

import (
	"math/rand/v2"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/qrpay/qrpay"
	"github.com/qrpay/qrpay/merchant"
)

// PrefixRule routes customer payment codes that match Pattern to Channel.
type PrefixRule struct {
	Channel string
	Pattern *regexp.Regexp
}

// DefaultPrefixRules is the payment-code table of DESIGN.md: WeChat Pay 18 digits from 10–15,
// Alipay 16–24 digits from 25–30, UnionPay 19 digits from 62. It is configuration: Alipay says
// its lengths may change.
func DefaultPrefixRules() []PrefixRule {
	return []PrefixRule{
		{ChannelWechat, regexp.MustCompile(`^1[0-5]\d{16}$`)},
		{ChannelAlipay, regexp.MustCompile(`^(2[5-9]|30)\d{14,22}$`)},
		{ChannelUnionpay, regexp.MustCompile(`^62\d{17}$`)},
	}
}

// ParsePrefixRules reads a prefix table from configuration: "channel=regexp" entries separated
// by ";" (for example "wechat=^1[0-5]\d{16}$;alipay=^(2[5-9]|30)\d{14,22}$").
func ParsePrefixRules(s string) ([]PrefixRule, error) {
	var rules []PrefixRule
	for _, entry := range strings.Split(s, ";") {
		entry = strings.TrimSpace(entry)
		if entry == "" {
			continue
		}
		ch, pat, ok := strings.Cut(entry, "=")
		if !ok || !knownChannel(ch) {
			return nil, qrpay.Invalid("payment-code-prefixes", "Each entry is channel=regexp with a known channel; got %q.", entry)
		}
		re, err := regexp.Compile(pat)
		if err != nil {
			return nil, qrpay.Invalid("payment-code-prefixes", "Bad pattern for %s: %v", ch, err)
		}
		rules = append(rules, PrefixRule{ch, re})
	}
	if len(rules) == 0 {
		return nil, qrpay.Invalid("payment-code-prefixes", "The prefix table is empty.")
	}
	return rules, nil
}

func knownChannel(ch string) bool {
	for _, c := range Channels {
		if c == ch {
			return true
		}
	}
	return false
}

// ChannelForUserAgent recognises the wallet a sticker was scanned with: Alipay (AlipayClient),
// WeChat (MicroMessenger) or UnionPay (UnionPay, CloudPay / 云闪付). It returns "" for any
// other browser.
func ChannelForUserAgent(ua string) string {
	switch {
	case strings.Contains(ua, "AlipayClient"):
		return ChannelAlipay
	case strings.Contains(ua, "MicroMessenger"):
		return ChannelWechat
	case strings.Contains(ua, "UnionPay"), strings.Contains(ua, "CloudPay"), strings.Contains(ua, "com.unionpay"):
		return ChannelUnionpay
	}
	return ""
}

// Account is one channel account: the acquirer's account with a provider.
type Account struct {
	ID       string
	Channel  string
	Provider Provider
	// Weight is the account's default routing weight when a binding does not say.
	Weight int
	// Disabled accounts take no new payments.
	Disabled bool
}

// Router chooses the provider for each payment: an explicit channel, the payment code's prefix,
// or the wallet's user agent; then one of the merchant's bindings on that channel by weight,
// skipping disabled accounts and those whose circuit breaker is open. Test-mode payments always
// go to the mock provider.
type Router struct {
	accounts map[string]*Account
	order    []string
	prefixes []PrefixRule
	mockID   string

	// Breaker: after Threshold consecutive failures an account is skipped for Cooldown.
	Threshold int
	Cooldown  time.Duration
	clock     qrpay.Clock

	mu      sync.Mutex
	breaker map[string]*breakerState
}

type breakerState struct {
	failures  int
	openUntil time.Time
}

// NewRouter returns a router over the accounts. mockID names the account of the mock provider
// that test-mode payments use.
func NewRouter(accounts []*Account, prefixes []PrefixRule, mockID string, clock qrpay.Clock) (*Router, error) {
	r := &Router{accounts: map[string]*Account{}, prefixes: prefixes, mockID: mockID, Threshold: 5,
		Cooldown: 30 * time.Second, clock: clock, breaker: map[string]*breakerState{}}
	if r.clock == nil {
		r.clock = qrpay.SystemClock{}
	}
	if len(r.prefixes) == 0 {
		r.prefixes = DefaultPrefixRules()
	}
	for _, a := range accounts {
		if _, dup := r.accounts[a.ID]; dup {
			return nil, qrpay.Invalid("accounts", "Two channel accounts are called %q.", a.ID)
		}
		if a.Provider == nil || a.Provider.Channel() != a.Channel {
			return nil, qrpay.Invalid("accounts", "Channel account %q has no %s provider.", a.ID, a.Channel)
		}
		r.accounts[a.ID] = a
		r.order = append(r.order, a.ID)
	}
	if m, ok := r.accounts[mockID]; !ok || m.Channel != ChannelMockpay {
		return nil, qrpay.Invalid("accounts", "The mock provider's account %q is missing.", mockID)
	}
	return r, nil
}

// Account returns a channel account by id.
func (r *Router) Account(id string) (*Account, bool) {
	a, ok := r.accounts[id]
	return a, ok
}

// Accounts returns the channel accounts in configuration order.
func (r *Router) Accounts() []*Account {
	out := make([]*Account, len(r.order))
	for i, id := range r.order {
		out[i] = r.accounts[id]
	}
	return out
}

// ChannelForAuthCode returns the channel of a customer payment code by the prefix table, or an
// EINVALID error naming auth_code.
func (r *Router) ChannelForAuthCode(code string) (string, error) {
	for _, rule := range r.prefixes {
		if rule.Pattern.MatchString(code) {
			return rule.Channel, nil
		}
	}
	return "", qrpay.Invalid("auth_code", "This payment code is not one qrpay recognises (WeChat Pay, Alipay or UnionPay).")
}

// Route is the routing decision recorded on a payment.
type Route struct {
	Channel       string
	AccountID     string
	SubMerchantID string
	Provider      Provider
}

// RouteRequest is what routing looks at.
type RouteRequest struct {
	Mode      string // "test" routes to the mock provider
	Channel   string // explicit, or ""
	AuthCode  string // a payment code, for scene "code"
	UserAgent string // the wallet's, for stickers
	Bindings  []merchant.Binding
	// Exclude lists accounts to skip (failover after an account failed this payment).
	Exclude []string
}

// Route chooses the channel account for a payment.
func (r *Router) Route(req RouteRequest) (Route, error) {
	channel := req.Channel
	if channel == "" && req.AuthCode != "" {
		ch, err := r.ChannelForAuthCode(req.AuthCode)
		if err != nil {
			return Route{}, err
		}
		channel = ch
	}
	if channel == "" && req.UserAgent != "" {
		channel = ChannelForUserAgent(req.UserAgent)
	}
	if channel != "" && !knownChannel(channel) {
		return Route{}, qrpay.Invalid("channel", "Unknown channel %q; use alipay, wechat, unionpay or mockpay.", channel)
	}
	if req.Mode == merchant.ModeTest {
		mock := r.accounts[r.mockID]
		if channel == "" {
			channel = ChannelMockpay
		}
		// The mock provider stands in for every channel in test mode; the payment keeps the
		// channel the customer's wallet or code implies, so tests see real routing.
		return Route{Channel: channel, AccountID: mock.ID, SubMerchantID: "test", Provider: mock.Provider}, nil
	}
	if channel == "" {
		return Route{}, qrpay.Invalid("channel", "Say which channel to use: alipay, wechat, unionpay or mockpay.")
	}
	type candidate struct {
		acc    *Account
		sub    string
		weight int
	}
	var cands []candidate
	total := 0
	for _, b := range req.Bindings {
		if b.Channel != channel || b.Status != "active" || b.Weight <= 0 || contains(req.Exclude, b.AccountID) {
			continue
		}
		a, ok := r.accounts[b.AccountID]
		if !ok || a.Disabled || a.Channel != channel || r.open(a.ID) {
			continue
		}
		cands = append(cands, candidate{a, b.SubMerchantID, b.Weight})
		total += b.Weight
	}
	if len(cands) == 0 {
		return Route{}, qrpay.Errorf(qrpay.EPROVIDERUNAVAILABLE, "No %s channel account is available for this merchant.", channel)
	}
	pick := rand.IntN(total)
	for _, c := range cands {
		if pick < c.weight {
			return Route{Channel: channel, AccountID: c.acc.ID, SubMerchantID: c.sub, Provider: c.acc.Provider}, nil
		}
		pick -= c.weight
	}
	c := cands[len(cands)-1]
	return Route{Channel: channel, AccountID: c.acc.ID, SubMerchantID: c.sub, Provider: c.acc.Provider}, nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// open reports whether an account's circuit breaker is open.
func (r *Router) open(id string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	b := r.breaker[id]
	return b != nil && r.clock.Now().Before(b.openUntil)
}

// Report records the outcome of a call to an account for its circuit breaker: failures are calls
// whose provider was unavailable (timeouts, 5xx); any answer from the provider closes it.
func (r *Router) Report(accountID string, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	b := r.breaker[accountID]
	if b == nil {
		b = &breakerState{}
		r.breaker[accountID] = b
	}
	if err != nil && ProviderErrorCode(err) == ProviderUnavailable {
		b.failures++
		if b.failures >= r.Threshold {
			b.openUntil = r.clock.Now().Add(r.Cooldown)
			b.failures = 0
		}
		return
	}
	b.failures = 0
	b.openUntil = time.Time{}
}

// BreakerOpen reports whether an account is skipped by its circuit breaker now.
func (r *Router) BreakerOpen(accountID string) bool { return r.open(accountID) }
