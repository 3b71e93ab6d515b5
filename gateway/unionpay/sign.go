package unionpay

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"sort"
	"strings"
)

// fieldSignature is the field that carries a message's signature; it is the only field the
// signature does not cover.
const fieldSignature = "signature"

// signContent is the string a signature covers (ACP signMethod 01): every field of the message
// except signature, empty values included, sorted by name in byte order, written as name=value
// and joined with '&', without any URL encoding. Requests carry no empty fields.
func signContent(f map[string]string) string {
	keys := make([]string, 0, len(f))
	n := 0
	for k, v := range f {
		if k == fieldSignature {
			continue
		}
		keys = append(keys, k)
		n += len(k) + len(v) + 2
	}
	sort.Strings(keys)
	var b strings.Builder
	b.Grow(n)
	for i, k := range keys {
		if i > 0 {
			b.WriteByte('&')
		}
		b.WriteString(k)
		b.WriteByte('=')
		b.WriteString(f[k])
	}
	return b.String()
}

// digest is what signMethod 01 hands to SHA256withRSA: the lower-case hex of the SHA-256 of the
// content, hashed once more by the signature scheme itself. (The ACP SDKs sign
// sha256Hex(content) with "SHA256withRSA"; the hex string is the signed message.)
func digest(content string) [32]byte {
	sum := sha256.Sum256([]byte(content))
	var hexSum [64]byte
	hex.Encode(hexSum[:], sum[:])
	return sha256.Sum256(hexSum[:])
}

// sign returns the base64 signMethod 01 signature of content.
func sign(key *rsa.PrivateKey, content string) (string, error) {
	d := digest(content)
	sig, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, d[:])
	if err != nil {
		return "", err
	}
	return base64.StdEncoding.EncodeToString(sig), nil
}

// verify reports whether sig (base64) is a signMethod 01 signature of content by pub.
func verify(pub *rsa.PublicKey, content, sig string) bool {
	raw, err := base64.StdEncoding.DecodeString(sig)
	if err != nil {
		// A '+' that lost its URL encoding on the way arrives as a space.
		if raw, err = base64.StdEncoding.DecodeString(strings.ReplaceAll(sig, " ", "+")); err != nil {
			return false
		}
	}
	d := digest(content)
	return rsa.VerifyPKCS1v15(pub, crypto.SHA256, d[:], raw) == nil
}

// CertID returns the certId by which ACP names a certificate: its serial number in decimal. Use
// it for Config.SigningCertID (the merchant signing certificate from the .pfx) and for the keys
// of Config.VerifyKeys (UnionPay's verification certificates).
func CertID(cert *x509.Certificate) string {
	if cert == nil || cert.SerialNumber == nil {
		return ""
	}
	return cert.SerialNumber.String()
}
