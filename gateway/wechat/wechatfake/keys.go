package wechatfake

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"strings"
	"time"
)

// Keys holds every key and certificate both sides need: the merchant's API key, certificate
// (also its TLS client certificate) and API keys, the platform's signing key and certificate,
// and a test CA that issued the certificates, including the fake's TLS server certificate for
// 127.0.0.1.
type Keys struct {
	MchID string // the merchant (or service provider) number
	AppID string

	MerchantKey      *rsa.PrivateKey   // signs the merchant's APIv3 requests
	MerchantCert     *x509.Certificate // the merchant API certificate, CN = MchID, issued by CA
	MerchantSerialNo string            // MerchantCert's serial, upper-case hex
	MerchantKeyPEM   []byte            // PKCS#8 "PRIVATE KEY"
	MerchantCertPEM  []byte

	PlatformKey      *rsa.PrivateKey   // signs the fake's answers and notices
	PlatformCert     *x509.Certificate // the platform certificate, issued by CA
	PlatformSerialNo string            // PlatformCert's serial, upper-case hex
	PlatformCertPEM  []byte
	// PlatformPublicKeyID names the platform key in public-key mode (PUB_KEY_ID_...), and
	// PlatformPublicKeyPEM is that key as WeChat Pay publishes it (PKIX "PUBLIC KEY").
	PlatformPublicKeyID  string
	PlatformPublicKeyPEM []byte

	APIv3Key []byte // 32 bytes
	APIv2Key string // 32 characters

	CA        *x509.Certificate
	CAPEM     []byte
	ServerTLS tls.Certificate // the fake's HTTPS certificate for 127.0.0.1 and localhost
}

// NewKeys generates a fresh set of keys and certificates. RSA key generation takes a moment;
// tests should share one set.
func NewKeys() (*Keys, error) {
	k := &Keys{MchID: "1900000109", AppID: "wx8888888888888888"}
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	caTmpl := &x509.Certificate{
		SerialNumber:          randSerial(),
		Subject:               pkix.Name{CommonName: "qrpay test WeChat Pay CA", Organization: []string{"qrpay test"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(10 * 365 * 24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return nil, err
	}
	if k.CA, err = x509.ParseCertificate(caDER); err != nil {
		return nil, err
	}
	k.CAPEM = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER})

	issue := func(tmpl *x509.Certificate, pub any) (*x509.Certificate, []byte, error) {
		tmpl.NotBefore = now.Add(-time.Hour)
		tmpl.NotAfter = now.Add(5 * 365 * 24 * time.Hour)
		der, err := x509.CreateCertificate(rand.Reader, tmpl, k.CA, pub, caKey)
		if err != nil {
			return nil, nil, err
		}
		c, err := x509.ParseCertificate(der)
		if err != nil {
			return nil, nil, err
		}
		return c, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), nil
	}

	if k.MerchantKey, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
		return nil, err
	}
	k.MerchantCert, k.MerchantCertPEM, err = issue(&x509.Certificate{
		SerialNumber: randSerial(),
		Subject:      pkix.Name{CommonName: k.MchID, Organization: []string{"WeChat Pay merchant (test)"}},
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}, &k.MerchantKey.PublicKey)
	if err != nil {
		return nil, err
	}
	k.MerchantSerialNo = fmt.Sprintf("%X", k.MerchantCert.SerialNumber)
	der, err := x509.MarshalPKCS8PrivateKey(k.MerchantKey)
	if err != nil {
		return nil, err
	}
	k.MerchantKeyPEM = pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})

	if k.PlatformKey, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
		return nil, err
	}
	k.PlatformCert, k.PlatformCertPEM, err = issue(&x509.Certificate{
		SerialNumber: randSerial(),
		Subject:      pkix.Name{CommonName: "Tenpay.com Root CA test platform", Organization: []string{"WeChat Pay platform (test)"}},
		KeyUsage:     x509.KeyUsageDigitalSignature,
	}, &k.PlatformKey.PublicKey)
	if err != nil {
		return nil, err
	}
	k.PlatformSerialNo = fmt.Sprintf("%X", k.PlatformCert.SerialNumber)
	pub, err := x509.MarshalPKIXPublicKey(&k.PlatformKey.PublicKey)
	if err != nil {
		return nil, err
	}
	k.PlatformPublicKeyPEM = pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pub})
	k.PlatformPublicKeyID = "PUB_KEY_ID_" + randDigits(28)

	serverKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	serverCert, _, err := issue(&x509.Certificate{
		SerialNumber: randSerial(),
		Subject:      pkix.Name{CommonName: "127.0.0.1"},
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
		DNSNames:     []string{"localhost"},
	}, &serverKey.PublicKey)
	if err != nil {
		return nil, err
	}
	k.ServerTLS = tls.Certificate{Certificate: [][]byte{serverCert.Raw}, PrivateKey: serverKey, Leaf: serverCert}

	k.APIv3Key = []byte(randAlnum(32))
	k.APIv2Key = randAlnum(32)
	return k, nil
}

// ClientCertificate returns the merchant API certificate and key for mutual TLS.
func (k *Keys) ClientCertificate() tls.Certificate {
	return tls.Certificate{Certificate: [][]byte{k.MerchantCert.Raw}, PrivateKey: k.MerchantKey, Leaf: k.MerchantCert}
}

// RootCAs returns a pool holding the test CA, which the fake's HTTPS certificate chains to.
func (k *Keys) RootCAs() *x509.CertPool {
	pool := x509.NewCertPool()
	pool.AddCert(k.CA)
	return pool
}

// HTTPClient returns a client that trusts the test CA and presents no client certificate.
func (k *Keys) HTTPClient() *http.Client {
	return &http.Client{Transport: &http.Transport{
		TLSClientConfig:   &tls.Config{RootCAs: k.RootCAs(), MinVersion: tls.VersionTLS12},
		ForceAttemptHTTP2: true,
	}}
}

// PlatformKeys returns the platform verification keys as the adapter's configuration wants
// them: by certificate serial, or by public key id when byKeyID is set.
func (k *Keys) PlatformKeys(byKeyID bool) map[string]*rsa.PublicKey {
	if byKeyID {
		return map[string]*rsa.PublicKey{k.PlatformPublicKeyID: &k.PlatformKey.PublicKey}
	}
	return map[string]*rsa.PublicKey{k.PlatformSerialNo: &k.PlatformKey.PublicKey}
}

// randSerial returns a random positive 64-bit certificate serial.
func randSerial() *big.Int {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("wechatfake: crypto/rand failed: " + err.Error())
	}
	b[0] = b[0]&0x7f | 0x10
	return new(big.Int).SetBytes(b[:])
}

const alnum = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

// randAlnum returns n random letters and digits.
func randAlnum(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic("wechatfake: crypto/rand failed: " + err.Error())
	}
	for i := range b {
		b[i] = alnum[int(b[i])%len(alnum)]
	}
	return string(b)
}

// randDigits returns n random decimal digits.
func randDigits(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic("wechatfake: crypto/rand failed: " + err.Error())
	}
	for i := range b {
		b[i] = '0' + b[i]%10
	}
	return string(b)
}

// randHex returns n random upper-case hex characters.
func randHex(n int) string {
	b := make([]byte, (n+1)/2)
	if _, err := rand.Read(b); err != nil {
		panic("wechatfake: crypto/rand failed: " + err.Error())
	}
	return strings.ToUpper(hex.EncodeToString(b))[:n]
}
