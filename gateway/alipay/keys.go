package alipay

import (
	"bytes"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"

	"github.com/qrpay/qrpay"
)

// minKeyBits is the smallest RSA key RSA2 allows.
const minKeyBits = 2048

// ParsePrivateKey reads an app private key as Alipay's key tool and the official SDKs hand it
// out: PEM ("RSA PRIVATE KEY", PKCS #1, or "PRIVATE KEY", PKCS #8), or the bare base64 of either
// DER form without the PEM wrapper. The key must be RSA with at least 2048 bits. Errors are
// EINVALID *qrpay.Error values that never quote the key.
func ParsePrivateKey(data []byte) (*rsa.PrivateKey, error) {
	der, err := keyDER(data, "private_key", "RSA PRIVATE KEY", "PRIVATE KEY")
	if err != nil {
		return nil, err
	}
	var key *rsa.PrivateKey
	if k, err := x509.ParsePKCS1PrivateKey(der); err == nil {
		key = k
	} else {
		k8, err8 := x509.ParsePKCS8PrivateKey(der)
		if err8 != nil {
			return nil, qrpay.Invalid("private_key", "The private key is neither PKCS #1 nor PKCS #8 DER.")
		}
		rk, ok := k8.(*rsa.PrivateKey)
		if !ok {
			return nil, qrpay.Invalid("private_key", "The private key is not an RSA key.")
		}
		key = rk
	}
	if err := checkPrivateKey(key); err != nil {
		return nil, err
	}
	return key, nil
}

// ParsePublicKey reads the Alipay public key: PEM ("PUBLIC KEY", PKIX; "RSA PUBLIC KEY",
// PKCS #1, is accepted too) or the bare base64 of the DER, as the open-platform console shows
// it. The key must be RSA with at least 2048 bits.
func ParsePublicKey(data []byte) (*rsa.PublicKey, error) {
	der, err := keyDER(data, "alipay_public_key", "PUBLIC KEY", "RSA PUBLIC KEY")
	if err != nil {
		return nil, err
	}
	var pub *rsa.PublicKey
	if k, err := x509.ParsePKIXPublicKey(der); err == nil {
		rk, ok := k.(*rsa.PublicKey)
		if !ok {
			return nil, qrpay.Invalid("alipay_public_key", "The public key is not an RSA key.")
		}
		pub = rk
	} else if k1, err1 := x509.ParsePKCS1PublicKey(der); err1 == nil {
		pub = k1
	} else {
		return nil, qrpay.Invalid("alipay_public_key", "The public key is neither PKIX nor PKCS #1 DER.")
	}
	if err := checkPublicKey(pub); err != nil {
		return nil, err
	}
	return pub, nil
}

// keyDER returns the DER bytes of a PEM block of one of types, or of bare base64.
func keyDER(data []byte, param string, types ...string) ([]byte, error) {
	data = bytes.TrimSpace(data)
	if len(data) == 0 {
		return nil, qrpay.Invalid(param, "The key is empty.")
	}
	if bytes.HasPrefix(data, []byte("-----BEGIN")) {
		block, _ := pem.Decode(data)
		if block == nil {
			return nil, qrpay.Invalid(param, "The key is not valid PEM.")
		}
		for _, t := range types {
			if block.Type == t {
				return block.Bytes, nil
			}
		}
		return nil, qrpay.Invalid(param, "Unexpected PEM block %q.", block.Type)
	}
	compact := bytes.Map(func(r rune) rune {
		if r == ' ' || r == '\n' || r == '\r' || r == '\t' {
			return -1
		}
		return r
	}, data)
	der, err := base64.StdEncoding.DecodeString(string(compact))
	if err != nil {
		der, err = base64.RawStdEncoding.DecodeString(string(compact))
	}
	if err != nil {
		return nil, qrpay.Invalid(param, "The key is neither PEM nor base64.")
	}
	return der, nil
}

func checkPrivateKey(key *rsa.PrivateKey) error {
	if key == nil {
		return qrpay.Invalid("private_key", "The app private key is required.")
	}
	if key.N == nil || key.N.BitLen() < minKeyBits {
		return qrpay.Invalid("private_key", "RSA2 needs a key of at least %d bits.", minKeyBits)
	}
	if err := key.Validate(); err != nil {
		return qrpay.Invalid("private_key", "The private key is inconsistent.")
	}
	return nil
}

func checkPublicKey(pub *rsa.PublicKey) error {
	if pub == nil || pub.N == nil {
		return qrpay.Invalid("alipay_public_key", "The Alipay public key is required.")
	}
	if pub.N.BitLen() < minKeyBits {
		return qrpay.Invalid("alipay_public_key", "RSA2 needs a key of at least %d bits.", minKeyBits)
	}
	return nil
}
