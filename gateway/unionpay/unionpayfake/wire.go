package unionpayfake

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"net/url"
	"strings"
)

// The API's paths.
const (
	pathBackTrans = "/gateway/api/backTransReq.do"
	pathQuery     = "/gateway/api/queryTrans.do"
	pathFileTrans = "/gateway/api/fileTransReq.do"
)

// content is what signMethod 01 signs: all fields but signature, sorted, as name=value joined
// with '&'.
func content(f map[string]string) string {
	var parts []string
	for _, k := range sortedKeys(f) {
		if k == "signature" {
			continue
		}
		parts = append(parts, k+"="+f[k])
	}
	return strings.Join(parts, "&")
}

// hashed is SHA-256 over the lower-case hex SHA-256 of the content, as SHA256withRSA over
// sha256Hex(content) computes it.
func hashed(c string) []byte {
	inner := sha256.Sum256([]byte(c))
	outer := sha256.Sum256([]byte(fmt.Sprintf("%x", inner)))
	return outer[:]
}

// signFields returns the base64 signature of f.
func signFields(key *rsa.PrivateKey, f map[string]string) (string, error) {
	sig, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, hashed(content(f)))
	if err != nil {
		return "", err
	}
	return base64.StdEncoding.EncodeToString(sig), nil
}

// verifyFields reports whether f carries a valid signature by pub.
func verifyFields(pub *rsa.PublicKey, f map[string]string) bool {
	sig, err := base64.StdEncoding.DecodeString(f["signature"])
	if err != nil {
		return false
	}
	return rsa.VerifyPKCS1v15(pub, crypto.SHA256, hashed(content(f)), sig) == nil
}

// signedForm signs f and returns it as a form with its signature.
func signedForm(key *rsa.PrivateKey, f map[string]string) (url.Values, error) {
	sig, err := signFields(key, f)
	if err != nil {
		return nil, err
	}
	form := url.Values{}
	for k, v := range f {
		form.Set(k, v)
	}
	form.Set("signature", sig)
	return form, nil
}
