// Package qr is qrpay's QR code domain: the EMV QRCPS Merchant-Presented Mode codec (parse,
// validate, build, CRC-16), the merchant codes qrpay issues on its UnionPay-style channel,
// signed sticker tokens for the /p/{token} URLs printed on stickers, PNG and SVG rendering with
// an in-memory cache, and decoding of uploaded photographs that hold one or more QR codes.
//
// The package is pure: it does no network or database I/O. Callers (the CLI, the HTTP handlers,
// the gateway) look up stickers and payments themselves and pass what they found.
//
// Errors are *qrpay.Error values: EINVALID for input that cannot be used (with Param naming the
// field or EMV tag), EUNAUTHORIZED for forged sticker tokens and ENOTFOUND when an image holds no
// QR code.
package qr
