// Package wechat is qrpay's WeChat Pay-style provider adapter. It implements gateway.Provider
// against a WeChat Pay API at a configurable base URL:
//
//   - merchant-presented codes through APIv3 Native (JSON over HTTPS, requests signed
//     WECHATPAY2-SHA256-RSA2048 with the merchant API key, answers verified with the platform
//     key named by Wechatpay-Serial, timestamps checked for freshness);
//   - query, close, refund, refund query and the daily trade bill through APIv3;
//   - asynchronous notices verified like answers and decrypted with AEAD_AES_256_GCM under the
//     APIv3 key;
//   - customer-presented payment codes through the v2 XML API (/pay/micropay,
//     /pay/orderquery, and /secapi/pay/reverse over mutual TLS), signed with the APIv2 key
//     (HMAC-SHA256 by default, or MD5).
//
// Sub-merchants: when a request names a SubMerchantID the adapter speaks service-provider
// (partner) mode: the /v3/pay/partner/... paths with sp_appid, sp_mchid and sub_mchid, and
// sub_mch_id on v2 calls. Without one it speaks direct-merchant mode with appid and mchid. The
// Config's AppID and MchID are the service provider's in partner mode.
//
// Errors follow gateway.Provider: a *gateway.ProviderError with Unknown set when the outcome is
// unknown (timeouts, connection errors, 5xx, unreadable answers, answers failing their
// signature check), and with Unknown false for determined refusals (4xx with a code).
// ParseCallback returns *qrpay.Error values (EUNAUTHORIZED, EINVALID).
package wechat

import (
	"crypto/rsa"
	"crypto/tls"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/qrpay/qrpay"
	"github.com/qrpay/qrpay/gateway"
)

// Defaults applied by New.
const (
	DefaultTimeout      = 10 * time.Second
	DefaultMaxClockSkew = 5 * time.Minute
)

// Signature types of the v2 API.
const (
	SignTypeHMACSHA256 = "HMAC-SHA256"
	SignTypeMD5        = "MD5"
)

// china is the zone of WeChat Pay's wall-clock times (bills, v2 time_end). China has kept
// UTC+8 without daylight saving since 1991, so a fixed zone needs no tzdata.
var china = time.FixedZone("CST", 8*3600)

// Config configures one WeChat Pay merchant (or service-provider) account.
type Config struct {
	// BaseURL is the API root, such as "https://api.mch.weixin.qq.com"; paths are appended.
	BaseURL string
	// AppID and MchID are the account's appid and mchid (sp_appid and sp_mchid in partner mode).
	AppID, MchID string
	// MerchantSerialNo is the serial number of the merchant API certificate, upper-case hex.
	MerchantSerialNo string
	// MerchantPrivateKey signs APIv3 requests (the apiclient_key.pem key).
	MerchantPrivateKey *rsa.PrivateKey
	// PlatformPublicKeys maps Wechatpay-Serial values to the keys that verify answers and
	// notices: platform certificate serials, or the newer platform public key ids
	// (PUB_KEY_ID_...). An answer naming any other serial is rejected.
	PlatformPublicKeys map[string]*rsa.PublicKey
	// APIv3Key decrypts notices. It must be 32 bytes; New refuses others.
	APIv3Key []byte
	// APIv2Key signs v2 (XML) requests: micropay, orderquery, reverse. Without it payment
	// codes cannot be taken.
	APIv2Key string
	// V2SignType is SignTypeHMACSHA256 (the default) or SignTypeMD5.
	V2SignType string
	// ClientCert is the merchant API certificate and key, presented over mutual TLS to
	// /secapi/pay/reverse.
	ClientCert *tls.Certificate
	// HTTPClient sends the requests; nil means a new client with http.DefaultTransport's
	// settings. With ClientCert set, its Transport must be nil or an *http.Transport, which is
	// cloned for the mutual-TLS calls.
	HTTPClient *http.Client
	// Clock stamps requests and judges the freshness of answers; nil means the system clock.
	Clock qrpay.Clock
	// Timeout bounds each HTTP exchange; zero means DefaultTimeout.
	Timeout time.Duration
	// MaxClockSkew is how far a Wechatpay-Timestamp may be from Clock; zero means
	// DefaultMaxClockSkew.
	MaxClockSkew time.Duration
	// ServerIP is sent as spbill_create_ip on payment-code requests that carry no ClientIP;
	// empty means "127.0.0.1".
	ServerIP string
}

// Provider is the WeChat Pay adapter. It is safe for concurrent use.
type Provider struct {
	base       *url.URL
	appID      string
	mchID      string
	serialNo   string
	key        *rsa.PrivateKey
	platform   map[string]*rsa.PublicKey
	apiv3Key   []byte
	apiv2Key   string
	signType   string
	client     *http.Client
	secClient  *http.Client // client presenting ClientCert, for /secapi
	clock      qrpay.Clock
	timeout    time.Duration
	maxSkew    time.Duration
	serverIP   string
	hasV2Creds bool
}

var _ gateway.Provider = (*Provider)(nil)

// New returns a Provider for the account c. It returns an EINVALID *qrpay.Error naming the
// field when c is incomplete: BaseURL, AppID, MchID, MerchantSerialNo, MerchantPrivateKey and
// at least one platform key are required, and APIv3Key must be exactly 32 bytes.
func New(c Config) (*Provider, error) {
	if len(c.APIv3Key) != 32 {
		return nil, qrpay.Invalid("APIv3Key", "The APIv3 key must be 32 bytes, not %d.", len(c.APIv3Key))
	}
	return build(c)
}

// build is New without the APIv3 key length rule, so that tests can use the public vectors'
// 16-byte keys.
func build(c Config) (*Provider, error) {
	base, err := url.Parse(strings.TrimRight(c.BaseURL, "/"))
	if err != nil || (base.Scheme != "https" && base.Scheme != "http") || base.Host == "" {
		return nil, qrpay.Invalid("BaseURL", "The base URL must be an absolute http(s) URL.")
	}
	if base.RawQuery != "" || base.Fragment != "" {
		return nil, qrpay.Invalid("BaseURL", "The base URL must not have a query or fragment.")
	}
	switch {
	case c.AppID == "":
		return nil, qrpay.Invalid("AppID", "The appid is required.")
	case c.MchID == "":
		return nil, qrpay.Invalid("MchID", "The mchid is required.")
	case c.MerchantSerialNo == "":
		return nil, qrpay.Invalid("MerchantSerialNo", "The merchant certificate serial number is required.")
	case c.MerchantPrivateKey == nil:
		return nil, qrpay.Invalid("MerchantPrivateKey", "The merchant private key is required.")
	case len(c.PlatformPublicKeys) == 0:
		return nil, qrpay.Invalid("PlatformPublicKeys", "At least one platform public key is required.")
	case len(c.APIv3Key) != 16 && len(c.APIv3Key) != 24 && len(c.APIv3Key) != 32:
		return nil, qrpay.Invalid("APIv3Key", "The APIv3 key must be 32 bytes.")
	}
	for serial, k := range c.PlatformPublicKeys {
		if serial == "" || k == nil {
			return nil, qrpay.Invalid("PlatformPublicKeys", "Platform keys need a serial and a key.")
		}
	}
	signType := c.V2SignType
	switch signType {
	case "":
		signType = SignTypeHMACSHA256
	case SignTypeHMACSHA256, SignTypeMD5:
	default:
		return nil, qrpay.Invalid("V2SignType", "The v2 sign type must be %s or %s.", SignTypeHMACSHA256, SignTypeMD5)
	}
	p := &Provider{
		base:       base,
		appID:      c.AppID,
		mchID:      c.MchID,
		serialNo:   c.MerchantSerialNo,
		key:        c.MerchantPrivateKey,
		platform:   make(map[string]*rsa.PublicKey, len(c.PlatformPublicKeys)),
		apiv3Key:   append([]byte(nil), c.APIv3Key...),
		apiv2Key:   c.APIv2Key,
		signType:   signType,
		client:     c.HTTPClient,
		clock:      c.Clock,
		timeout:    c.Timeout,
		maxSkew:    c.MaxClockSkew,
		serverIP:   c.ServerIP,
		hasV2Creds: c.APIv2Key != "",
	}
	for serial, k := range c.PlatformPublicKeys {
		p.platform[serial] = k
	}
	if p.client == nil {
		// A busy gateway keeps many calls to its provider in flight: keep their connections
		// open (the default transport keeps two per host).
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.MaxIdleConns, tr.MaxIdleConnsPerHost = 128, 64
		p.client = &http.Client{Transport: tr}
	}
	if p.clock == nil {
		p.clock = qrpay.SystemClock{}
	}
	if p.timeout <= 0 {
		p.timeout = DefaultTimeout
	}
	if p.maxSkew <= 0 {
		p.maxSkew = DefaultMaxClockSkew
	}
	if p.serverIP == "" {
		p.serverIP = "127.0.0.1"
	}
	p.secClient = p.client
	if c.ClientCert != nil {
		var tr *http.Transport
		switch t := p.client.Transport.(type) {
		case nil:
			tr = http.DefaultTransport.(*http.Transport).Clone()
		case *http.Transport:
			tr = t.Clone()
		default:
			return nil, qrpay.Invalid("HTTPClient", "With a client certificate the HTTP client's transport must be an *http.Transport.")
		}
		if tr.TLSClientConfig == nil {
			tr.TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS12}
		} else {
			tr.TLSClientConfig = tr.TLSClientConfig.Clone()
		}
		tr.TLSClientConfig.Certificates = []tls.Certificate{*c.ClientCert}
		sc := *p.client
		sc.Transport = tr
		p.secClient = &sc
	}
	return p, nil
}

// Channel returns "wechat".
func (p *Provider) Channel() string { return gateway.ChannelWechat }

// CallbackNack is the answer that makes WeChat Pay send a notice again: 500 with
// {"code":"FAIL","message":"失败"}.
func (p *Provider) CallbackNack() gateway.Reply {
	return gateway.Reply{Status: http.StatusInternalServerError, ContentType: "application/json",
		Body: []byte(`{"code":"FAIL","message":"失败"}`)}
}

// ackReply is the answer to a recorded notice.
func ackReply() gateway.Reply {
	return gateway.Reply{Status: http.StatusOK, ContentType: "application/json",
		Body: []byte(`{"code":"SUCCESS","message":"成功"}`)}
}

// perr builds a *gateway.ProviderError for op.
func perr(op string, unknown bool, code, providerCode, message string, err error) *gateway.ProviderError {
	return &gateway.ProviderError{Channel: gateway.ChannelWechat, Op: op, Unknown: unknown, Code: code,
		ProviderCode: providerCode, Message: message, Err: err}
}

// unavailable is an outcome-unknown failure: the provider may or may not have acted.
func unavailable(op string, err error) *gateway.ProviderError {
	return perr(op, true, gateway.ProviderUnavailable, "", "", err)
}

// tampered is an answer that failed its signature check: its content cannot be trusted, so the
// outcome is unknown.
func tampered(op string, err error) *gateway.ProviderError {
	return perr(op, true, gateway.ProviderTampered, "", "", err)
}

// invalidRequest is a request refused before it was sent.
func invalidRequest(op string, err *qrpay.Error) *gateway.ProviderError {
	return perr(op, false, gateway.ProviderInvalid, "", err.Message, err)
}

// checkAmount refuses amounts WeChat Pay's domestic APIs cannot take.
func checkAmount(param string, m qrpay.Money) *qrpay.Error {
	if m.Currency != qrpay.CNY {
		return qrpay.Invalid(param, "WeChat Pay takes CNY only, not %q.", m.Currency)
	}
	if m.Amount <= 0 {
		return qrpay.Invalid(param, "The amount must be positive.")
	}
	return nil
}

// parseWechatTime parses an RFC 3339 time as WeChat Pay writes it ("2018-06-08T10:34:56+08:00")
// and returns it in UTC. Empty is the zero time.
func parseWechatTime(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("time %q: %w", s, err)
	}
	return t.UTC(), nil
}
