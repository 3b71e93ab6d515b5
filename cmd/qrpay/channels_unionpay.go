package main

import (
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"time"

	"github.com/qrpay/qrpay"
	"github.com/qrpay/qrpay/gateway"
	"github.com/qrpay/qrpay/gateway/alipay"
	"github.com/qrpay/qrpay/gateway/unionpay"
)

// unionpayAccount is a UnionPay-style channel account in the --channels file.
type unionpayAccount struct {
	BaseURL       string `json:"base_url"`
	MerchantID    string `json:"merchant_id"`
	AcquirerIIN   string `json:"acquirer_iin"`
	ForwardingIIN string `json:"forwarding_iin"`
	SigningKey    string `json:"signing_key"`
	// SigningCert is the merchant signing certificate; its serial is the certId.
	SigningCert string `json:"signing_cert"`
	// VerifyCerts are UnionPay's verification certificates (PEM, one or more).
	VerifyCerts  string `json:"verify_certs"`
	MerchantName string `json:"merchant_name"`
	MerchantCity string `json:"merchant_city"`
	MCC          string `json:"mcc"`
	Timeout      string `json:"timeout"`
}

// unionpayProvider builds a UnionPay-style channel account.
func unionpayProvider(where string, raw json.RawMessage, _ *time.Location) (gateway.Provider, error) {
	if len(raw) == 0 {
		return nil, qrpay.Invalid("channels", "%s: the unionpay section is missing", where)
	}
	var c unionpayAccount
	if err := json.Unmarshal(raw, &c); err != nil {
		return nil, qrpay.Invalid("channels", "%s: unionpay: %v", where, err)
	}
	keyPEM, err := secret(where+" signing_key", c.SigningKey)
	if err != nil {
		return nil, err
	}
	key, err := alipay.ParsePrivateKey(keyPEM)
	if err != nil {
		return nil, qrpay.Invalid("channels", "%s: signing_key: %v", where, err)
	}
	certPEM, err := secret(where+" signing_cert", c.SigningCert)
	if err != nil {
		return nil, err
	}
	certs, err := parseCerts(certPEM)
	if err != nil || len(certs) != 1 {
		return nil, qrpay.Invalid("channels", "%s: signing_cert must be one PEM certificate", where)
	}
	verifyPEM, err := secret(where+" verify_certs", c.VerifyCerts)
	if err != nil {
		return nil, err
	}
	vcerts, err := parseCerts(verifyPEM)
	if err != nil || len(vcerts) == 0 {
		return nil, qrpay.Invalid("channels", "%s: verify_certs must hold PEM certificates", where)
	}
	verify := map[string]*rsa.PublicKey{}
	for _, vc := range vcerts {
		pub, ok := vc.PublicKey.(*rsa.PublicKey)
		if !ok {
			return nil, qrpay.Invalid("channels", "%s: verify_certs must be RSA certificates", where)
		}
		verify[unionpay.CertID(vc)] = pub
	}
	timeout, err := duration(where+" timeout", c.Timeout)
	if err != nil {
		return nil, err
	}
	return unionpay.New(unionpay.Config{BaseURL: c.BaseURL, MerchantID: c.MerchantID, AcquirerIIN: c.AcquirerIIN,
		ForwardingIIN: c.ForwardingIIN, SigningKey: key, SigningCertID: unionpay.CertID(certs[0]), VerifyKeys: verify,
		MerchantName: c.MerchantName, MerchantCity: c.MerchantCity, MCC: c.MCC, Timeout: timeout})
}

// parseCerts reads PEM certificates.
func parseCerts(b []byte) ([]*x509.Certificate, error) {
	var out []*x509.Certificate
	for {
		var block *pem.Block
		block, b = pem.Decode(b)
		if block == nil {
			return out, nil
		}
		if block.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
}
