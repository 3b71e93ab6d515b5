package wechat

import (
	"crypto/aes"
	"crypto/cipher"
	"encoding/base64"
	"errors"
)

// AlgorithmAEADAES256GCM is the only resource encryption algorithm WeChat Pay uses for notices.
const AlgorithmAEADAES256GCM = "AEAD_AES_256_GCM"

// errDecrypt hides why a decryption failed: a wrong key and a forged ciphertext look the same.
var errDecrypt = errors.New("resource does not decrypt")

// decryptResource opens an AEAD_AES_256_GCM resource: key is the APIv3 key, nonce the
// resource's nonce (12 characters), additional the associated_data and ciphertextB64 the
// base64 of the ciphertext followed by the 16-byte tag. The routine takes any AES key length so
// that the public test vectors (16-byte keys) can exercise it; New admits only 32-byte keys.
func decryptResource(key []byte, nonce, additional, ciphertextB64 string) ([]byte, error) {
	ct, err := base64.StdEncoding.DecodeString(ciphertextB64)
	if err != nil {
		return nil, errDecrypt
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, errDecrypt
	}
	if len(nonce) != 12 {
		return nil, errDecrypt
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, errDecrypt
	}
	if len(ct) < aead.Overhead() {
		return nil, errDecrypt
	}
	pt, err := aead.Open(nil, []byte(nonce), ct, []byte(additional))
	if err != nil {
		return nil, errDecrypt
	}
	return pt, nil
}
