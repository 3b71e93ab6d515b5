package alipay

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"slices"
	"sort"
	"strings"
)

// signContent is the string Alipay's RSA2 scheme signs: every parameter except the excluded
// ones and those with an empty value, sorted by key in byte order, written as key=value and
// joined with '&', without any URL encoding.
func signContent(params map[string]string, exclude ...string) string {
	keys := make([]string, 0, len(params))
	n := 0
	for k, v := range params {
		if k == "" || v == "" || slices.Contains(exclude, k) {
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
		b.WriteString(params[k])
	}
	return b.String()
}

// signRSA2 signs content with SHA256withRSA (PKCS #1 v1.5) and returns the base64 signature.
func signRSA2(key *rsa.PrivateKey, content string) (string, error) {
	sum := sha256.Sum256([]byte(content))
	sig, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, sum[:])
	if err != nil {
		return "", err
	}
	return base64.StdEncoding.EncodeToString(sig), nil
}

// verifyRSA2 reports whether sig (base64) is a SHA256withRSA signature of content by pub.
func verifyRSA2(pub *rsa.PublicKey, content []byte, sig string) bool {
	raw, err := base64.StdEncoding.DecodeString(sig)
	if err != nil {
		// A '+' that lost its URL encoding on the way arrives as a space.
		raw, err = base64.StdEncoding.DecodeString(strings.ReplaceAll(sig, " ", "+"))
		if err != nil {
			return false
		}
	}
	sum := sha256.Sum256(content)
	return rsa.VerifyPKCS1v15(pub, crypto.SHA256, sum[:], raw) == nil
}

// verifyResponse checks the signature of an answer's response object. Like the official Java
// SDK, when the exact text does not verify and it contains JSON-escaped slashes ("\/"), it tries
// once more with them unescaped, since Alipay signs some answers before escaping.
func verifyResponse(pub *rsa.PublicKey, raw []byte, sig string) bool {
	if verifyRSA2(pub, raw, sig) {
		return true
	}
	if bytes.Contains(raw, []byte(`\/`)) {
		return verifyRSA2(pub, bytes.ReplaceAll(raw, []byte(`\/`), []byte(`/`)), sig)
	}
	return false
}

// extractResponse returns the exact JSON text of the member key (or, failing that, of
// "error_response") of the answer body, and the answer's "sign". The text is the value's bytes as
// they appear in the body, never re-encoded: that is what Alipay signed.
func extractResponse(body []byte, key string) (raw []byte, sign string, err error) {
	var env map[string]json.RawMessage
	if err := json.Unmarshal(body, &env); err != nil {
		return nil, "", err
	}
	v, ok := env[key]
	if !ok {
		if v, ok = env["error_response"]; !ok {
			return nil, "", errors.New("the answer has no " + key)
		}
	}
	if len(v) == 0 || v[0] != '{' {
		return nil, "", errors.New("the response member is not an object")
	}
	if s, ok := env["sign"]; ok && string(s) != "null" {
		if err := json.Unmarshal(s, &sign); err != nil {
			return nil, "", errors.New("the sign member is not a string")
		}
	}
	return v, sign, nil
}
