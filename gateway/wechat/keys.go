package wechat

import (
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"fmt"

	"github.com/qrpay/qrpay"
)

// LoadPrivateKey reads an RSA private key from PEM: PKCS#8 ("PRIVATE KEY", as in
// apiclient_key.pem) or PKCS#1 ("RSA PRIVATE KEY"). It returns an EINVALID error otherwise.
func LoadPrivateKey(pemBytes []byte) (*rsa.PrivateKey, error) {
	block, _ := pem.Decode(pemBytes)
	if block == nil {
		return nil, qrpay.Invalid("private_key", "No PEM block found in the private key.")
	}
	switch block.Type {
	case "PRIVATE KEY":
		k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
		if err != nil {
			return nil, qrpay.WrapError(qrpay.EINVALID, err, "The private key cannot be parsed.")
		}
		rk, ok := k.(*rsa.PrivateKey)
		if !ok {
			return nil, qrpay.Invalid("private_key", "The private key is not an RSA key.")
		}
		return rk, nil
	case "RSA PRIVATE KEY":
		k, err := x509.ParsePKCS1PrivateKey(block.Bytes)
		if err != nil {
			return nil, qrpay.WrapError(qrpay.EINVALID, err, "The private key cannot be parsed.")
		}
		return k, nil
	}
	return nil, qrpay.Invalid("private_key", "Unexpected PEM block %q for a private key.", block.Type)
}

// LoadPublicKey reads an RSA public key from PEM: PKIX ("PUBLIC KEY", as WeChat Pay publishes
// its platform public keys, PUB_KEY_ID_...) or PKCS#1 ("RSA PUBLIC KEY").
func LoadPublicKey(pemBytes []byte) (*rsa.PublicKey, error) {
	block, _ := pem.Decode(pemBytes)
	if block == nil {
		return nil, qrpay.Invalid("public_key", "No PEM block found in the public key.")
	}
	switch block.Type {
	case "PUBLIC KEY":
		k, err := x509.ParsePKIXPublicKey(block.Bytes)
		if err != nil {
			return nil, qrpay.WrapError(qrpay.EINVALID, err, "The public key cannot be parsed.")
		}
		rk, ok := k.(*rsa.PublicKey)
		if !ok {
			return nil, qrpay.Invalid("public_key", "The public key is not an RSA key.")
		}
		return rk, nil
	case "RSA PUBLIC KEY":
		k, err := x509.ParsePKCS1PublicKey(block.Bytes)
		if err != nil {
			return nil, qrpay.WrapError(qrpay.EINVALID, err, "The public key cannot be parsed.")
		}
		return k, nil
	}
	return nil, qrpay.Invalid("public_key", "Unexpected PEM block %q for a public key.", block.Type)
}

// LoadCertificate reads one X.509 certificate from PEM.
func LoadCertificate(pemBytes []byte) (*x509.Certificate, error) {
	block, _ := pem.Decode(pemBytes)
	if block == nil || block.Type != "CERTIFICATE" {
		return nil, qrpay.Invalid("certificate", "No PEM CERTIFICATE block found.")
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return nil, qrpay.WrapError(qrpay.EINVALID, err, "The certificate cannot be parsed.")
	}
	return cert, nil
}

// CertificateKey returns a certificate's serial number as WeChat Pay writes it (upper-case hex
// without leading zeros, the Wechatpay-Serial value) and its RSA public key.
func CertificateKey(cert *x509.Certificate) (serial string, key *rsa.PublicKey, err error) {
	if cert == nil {
		return "", nil, qrpay.Invalid("certificate", "No certificate.")
	}
	rk, ok := cert.PublicKey.(*rsa.PublicKey)
	if !ok {
		return "", nil, qrpay.Invalid("certificate", "The certificate's key is not an RSA key.")
	}
	return SerialHex(cert), rk, nil
}

// SerialHex returns the certificate's serial number in upper-case hex.
func SerialHex(cert *x509.Certificate) string {
	return fmt.Sprintf("%X", cert.SerialNumber)
}

// LoadPlatformCertificates reads every certificate in a PEM bundle and returns them keyed by
// serial, ready for Config.PlatformPublicKeys.
func LoadPlatformCertificates(pemBytes []byte) (map[string]*rsa.PublicKey, error) {
	keys := map[string]*rsa.PublicKey{}
	rest := pemBytes
	for {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			continue
		}
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, qrpay.WrapError(qrpay.EINVALID, err, "A platform certificate cannot be parsed.")
		}
		serial, k, err := CertificateKey(cert)
		if err != nil {
			return nil, err
		}
		keys[serial] = k
	}
	if len(keys) == 0 {
		return nil, qrpay.Invalid("certificate", "No platform certificate found.")
	}
	return keys, nil
}
