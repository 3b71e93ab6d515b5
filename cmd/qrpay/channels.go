package main

import (
	"crypto/rsa"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/qrpay/qrpay"
	"github.com/qrpay/qrpay/gateway"
	"github.com/qrpay/qrpay/gateway/alipay"
	"github.com/qrpay/qrpay/gateway/wechat"
)

// channelAccount is one live channel account in the --channels file. Secrets may be given
// inline, as "env:VARIABLE" (read from the environment) or, for keys and certificates, as
// "file:PATH".
type channelAccount struct {
	ID       string          `json:"id"`
	Channel  string          `json:"channel"`
	Weight   int             `json:"weight"`
	Disabled bool            `json:"disabled"`
	Alipay   *alipayAccount  `json:"alipay,omitempty"`
	Wechat   *wechatAccount  `json:"wechat,omitempty"`
	UnionPay json.RawMessage `json:"unionpay,omitempty"`
}

type alipayAccount struct {
	BaseURL         string `json:"base_url"`
	AppID           string `json:"app_id"`
	PrivateKey      string `json:"private_key"`
	AlipayPublicKey string `json:"alipay_public_key"`
	SellerID        string `json:"seller_id"`
	Timeout         string `json:"timeout"`
}

type wechatAccount struct {
	BaseURL              string `json:"base_url"`
	AppID                string `json:"app_id"`
	MchID                string `json:"mch_id"`
	MerchantSerialNo     string `json:"merchant_serial_no"`
	PrivateKey           string `json:"private_key"`
	PlatformCertificates string `json:"platform_certificates"`
	PlatformPublicKey    string `json:"platform_public_key"`
	PlatformPublicKeyID  string `json:"platform_public_key_id"`
	APIv3Key             string `json:"apiv3_key"`
	APIv2Key             string `json:"apiv2_key"`
	ClientCert           string `json:"client_cert"`
	ClientKey            string `json:"client_key"`
	ServerIP             string `json:"server_ip"`
	Timeout              string `json:"timeout"`
}

// secret resolves an "env:" or "file:" reference, or returns the value itself.
func secret(field, v string) ([]byte, error) {
	switch {
	case strings.HasPrefix(v, "env:"):
		s, ok := os.LookupEnv(strings.TrimPrefix(v, "env:"))
		if !ok {
			return nil, qrpay.Invalid("channels", "%s: environment variable %s is not set", field, strings.TrimPrefix(v, "env:"))
		}
		return []byte(s), nil
	case strings.HasPrefix(v, "file:"):
		b, err := os.ReadFile(strings.TrimPrefix(v, "file:"))
		if err != nil {
			return nil, qrpay.Invalid("channels", "%s: %v", field, err)
		}
		return b, nil
	}
	return []byte(v), nil
}

func duration(field, v string) (time.Duration, error) {
	if v == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		return 0, qrpay.Invalid("channels", "%s: %q is not a duration", field, v)
	}
	return d, nil
}

// loadChannels reads the live channel accounts. No file means none: only the mock provider.
func loadChannels(path string, zone *time.Location) ([]*gateway.Account, error) {
	if path == "" {
		return nil, nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, qrpay.Invalid("channels", "%v", err)
	}
	var list []channelAccount
	if err := json.Unmarshal(b, &list); err != nil {
		return nil, qrpay.Invalid("channels", "%s is not a JSON list of channel accounts: %v", path, err)
	}
	var out []*gateway.Account
	for i, ca := range list {
		where := fmt.Sprintf("account %d (%s)", i+1, ca.ID)
		if ca.ID == "" || ca.ID == "mockpay" {
			return nil, qrpay.Invalid("channels", "%s: every account needs an id other than mockpay", where)
		}
		if ca.Weight <= 0 {
			ca.Weight = 1
		}
		var p gateway.Provider
		switch ca.Channel {
		case gateway.ChannelAlipay:
			p, err = alipayProvider(where, ca.Alipay)
		case gateway.ChannelWechat:
			p, err = wechatProvider(where, ca.Wechat)
		case gateway.ChannelUnionpay:
			p, err = unionpayProvider(where, ca.UnionPay, zone)
		default:
			return nil, qrpay.Invalid("channels", "%s: channel must be alipay, wechat or unionpay", where)
		}
		if err != nil {
			return nil, err
		}
		out = append(out, &gateway.Account{ID: ca.ID, Channel: ca.Channel, Provider: p, Weight: ca.Weight, Disabled: ca.Disabled})
	}
	return out, nil
}

func alipayProvider(where string, c *alipayAccount) (gateway.Provider, error) {
	if c == nil {
		return nil, qrpay.Invalid("channels", "%s: the alipay section is missing", where)
	}
	key, err := secret(where+" private_key", c.PrivateKey)
	if err != nil {
		return nil, err
	}
	priv, err := alipay.ParsePrivateKey(key)
	if err != nil {
		return nil, qrpay.Invalid("channels", "%s: private_key: %v", where, err)
	}
	pubBytes, err := secret(where+" alipay_public_key", c.AlipayPublicKey)
	if err != nil {
		return nil, err
	}
	pub, err := alipay.ParsePublicKey(pubBytes)
	if err != nil {
		return nil, qrpay.Invalid("channels", "%s: alipay_public_key: %v", where, err)
	}
	timeout, err := duration(where+" timeout", c.Timeout)
	if err != nil {
		return nil, err
	}
	return alipay.New(alipay.Config{BaseURL: c.BaseURL, AppID: c.AppID, PrivateKey: priv, AlipayPublicKey: pub,
		SellerID: c.SellerID, Timeout: timeout})
}

func wechatProvider(where string, c *wechatAccount) (gateway.Provider, error) {
	if c == nil {
		return nil, qrpay.Invalid("channels", "%s: the wechat section is missing", where)
	}
	keyPEM, err := secret(where+" private_key", c.PrivateKey)
	if err != nil {
		return nil, err
	}
	priv, err := wechat.LoadPrivateKey(keyPEM)
	if err != nil {
		return nil, qrpay.Invalid("channels", "%s: private_key: %v", where, err)
	}
	platform := map[string]*rsa.PublicKey{}
	if c.PlatformCertificates != "" {
		b, err := secret(where+" platform_certificates", c.PlatformCertificates)
		if err != nil {
			return nil, err
		}
		m, err := wechat.LoadPlatformCertificates(b)
		if err != nil {
			return nil, qrpay.Invalid("channels", "%s: platform_certificates: %v", where, err)
		}
		for k, v := range m {
			platform[k] = v
		}
	}
	if c.PlatformPublicKey != "" {
		b, err := secret(where+" platform_public_key", c.PlatformPublicKey)
		if err != nil {
			return nil, err
		}
		pub, err := wechat.LoadPublicKey(b)
		if err != nil {
			return nil, qrpay.Invalid("channels", "%s: platform_public_key: %v", where, err)
		}
		platform[c.PlatformPublicKeyID] = pub
	}
	v3, err := secret(where+" apiv3_key", c.APIv3Key)
	if err != nil {
		return nil, err
	}
	v2, err := secret(where+" apiv2_key", c.APIv2Key)
	if err != nil {
		return nil, err
	}
	var cert *tls.Certificate
	if c.ClientCert != "" {
		cb, err := secret(where+" client_cert", c.ClientCert)
		if err != nil {
			return nil, err
		}
		kb, err := secret(where+" client_key", c.ClientKey)
		if err != nil {
			return nil, err
		}
		pair, err := tls.X509KeyPair(cb, kb)
		if err != nil {
			return nil, qrpay.Invalid("channels", "%s: client certificate: %v", where, err)
		}
		cert = &pair
	}
	timeout, err := duration(where+" timeout", c.Timeout)
	if err != nil {
		return nil, err
	}
	return wechat.New(wechat.Config{BaseURL: c.BaseURL, AppID: c.AppID, MchID: c.MchID, MerchantSerialNo: c.MerchantSerialNo,
		MerchantPrivateKey: priv, PlatformPublicKeys: platform, APIv3Key: v3, APIv2Key: string(v2), ClientCert: cert,
		Timeout: timeout, ServerIP: c.ServerIP})
}
