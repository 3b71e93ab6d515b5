package gateway

import (
	"context"
	"net/url"
	"strings"
	"time"

	"github.com/qrpay/qrpay"
	"github.com/qrpay/qrpay/qr"
)

// Scan kinds (CONTRACT.md "POST /v1/scan").
const (
	ScanSticker     = "sticker"      // one of qrpay's printed static codes
	ScanDynamic     = "dynamic"      // a code qrpay issued for one payment
	ScanPaymentCode = "payment_code" // a customer's payment code
	ScanForeignEMV  = "foreign_emv"  // another acquirer's EMV code
	ScanURL         = "url"          // a plain link
	ScanUnknown     = "unknown"      // nothing qrpay can read
)

// ScanResult says what a scanned code is.
type ScanResult struct {
	Kind         string   `json:"kind"`
	Text         string   `json:"text,omitempty"`
	Genuine      *bool    `json:"genuine,omitempty"`
	Channel      string   `json:"channel,omitempty"`
	MerchantID   string   `json:"merchant_id,omitempty"`
	MerchantName string   `json:"merchant_name,omitempty"`
	StoreID      string   `json:"store_id,omitempty"`
	StickerID    string   `json:"sticker_id,omitempty"`
	Status       string   `json:"status,omitempty"` // a sticker's (active, revoked) or a payment's
	PaymentID    string   `json:"payment_id,omitempty"`
	Expired      *bool    `json:"expired,omitempty"`
	Warnings     []string `json:"warnings"`
}

// Scanner classifies scanned codes. Its lookups are optional: without them (the offline
// command line) it still tells payment codes, foreign codes and links apart.
type Scanner struct {
	// PublicURL is this gateway's address; sticker links elsewhere are lookalikes.
	PublicURL string
	// Router supplies the payment-code prefix table.
	Router *Router
	// Signer verifies sticker tokens; Store looks up stickers and payments.
	Signer func(ctx context.Context) (*qr.StickerSigner, error)
	Store  Store
	// AcquirerIIN identifies qrpay's own EMV codes (tag 15 starts with it).
	AcquirerIIN string
	Clock       qrpay.Clock
	// CodePayment recognises provider codes that carry the payment id (the mock provider's).
	CodePayment func(text string) (paymentID string, ok bool)
}

func yes() *bool { b := true; return &b }
func no() *bool  { b := false; return &b }

// Classify says what text is. viewerMerchant, when set, limits the merchant details shown to
// that merchant's own codes.
func (sc *Scanner) Classify(ctx context.Context, text, viewerMerchant string) ScanResult {
	text = strings.TrimSpace(text)
	res := ScanResult{Kind: ScanUnknown, Text: text, Warnings: []string{}}
	if text == "" {
		res.Warnings = append(res.Warnings, "Nothing readable.")
		return res
	}
	clock := sc.Clock
	if clock == nil {
		clock = qrpay.SystemClock{}
	}
	// A customer's payment code: digits only.
	if strings.Trim(text, "0123456789") == "" {
		if sc.Router != nil {
			if ch, err := sc.Router.ChannelForAuthCode(text); err == nil {
				res.Kind, res.Channel = ScanPaymentCode, ch
				return res
			}
		} else {
			for _, r := range DefaultPrefixRules() {
				if r.Pattern.MatchString(text) {
					res.Kind, res.Channel = ScanPaymentCode, r.Channel
					return res
				}
			}
		}
		res.Warnings = append(res.Warnings, "Digits that match no wallet's payment code.")
		return res
	}
	if token, ok := qr.StickerToken(text); ok {
		return sc.sticker(ctx, text, token, viewerMerchant, res)
	}
	if strings.HasPrefix(text, "000201") {
		return sc.emv(ctx, text, viewerMerchant, res, clock.Now())
	}
	if u, err := url.Parse(text); err == nil && (u.Scheme == "http" || u.Scheme == "https" || u.Scheme == "weixin" || u.Scheme == "alipays") {
		if sc.CodePayment != nil && sc.Store != nil {
			if id, ok := sc.CodePayment(text); ok {
				// Genuine only if it is the very code qrpay issued for that payment.
				if p, err := sc.Store.FindPayment(ctx, "", id); err == nil && p.QRPayload == text {
					return sc.dynamic(p, viewerMerchant, res, clock.Now())
				}
			}
		}
		res.Kind = ScanURL
		switch {
		case u.Scheme == "weixin" || strings.HasSuffix(u.Host, "qr.alipay.com"):
			res.Warnings = append(res.Warnings, "A wallet's own payment link: it pays whoever made it, not necessarily this shop.")
		case !sc.sameHost(u):
			res.Warnings = append(res.Warnings, "A link to another site, not a payment code of this gateway.")
		}
		return res
	}
	res.Warnings = append(res.Warnings, "Text that is no payment code.")
	return res
}

func (sc *Scanner) sameHost(u *url.URL) bool {
	pub, err := url.Parse(sc.PublicURL)
	return err == nil && pub.Host != "" && strings.EqualFold(pub.Host, u.Host)
}

// sticker checks a sticker link: its signature, that it points at this gateway, and whether the
// sticker is still in use.
func (sc *Scanner) sticker(ctx context.Context, text, token, viewer string, res ScanResult) ScanResult {
	res.Kind = ScanSticker
	u, _ := url.Parse(text)
	if u != nil && !sc.sameHost(u) {
		res.Warnings = append(res.Warnings, "This sticker points at another address than this gateway: it may be a swapped sticker. Do not pay.")
	}
	if sc.Signer == nil {
		return res
	}
	signer, err := sc.Signer(ctx)
	if err != nil {
		res.Warnings = append(res.Warnings, "Stickers cannot be checked right now.")
		return res
	}
	id, _, err := signer.Verify(token)
	if err != nil {
		res.Genuine = no()
		res.Warnings = append(res.Warnings, "Forged or unknown sticker: its signature does not verify. Do not pay.")
		return res
	}
	res.StickerID = id
	if sc.Store == nil {
		return res
	}
	st, err := sc.Store.FindSticker(ctx, "", id)
	if err != nil {
		res.Genuine = no()
		res.Warnings = append(res.Warnings, "Unknown sticker.")
		return res
	}
	res.Genuine = yes()
	res.Status = st.Status
	if st.Status != "active" {
		res.Warnings = append(res.Warnings, "This sticker was revoked: it takes no payment.")
	}
	if viewer == "" || viewer == st.MerchantID {
		res.MerchantID, res.StoreID = st.MerchantID, st.StoreID
		if m, err := sc.Store.FindMerchant(ctx, st.MerchantID); err == nil {
			res.MerchantName = m.ShortName
		}
	} else {
		res.Warnings = append(res.Warnings, "This is another merchant's sticker, not yours: it may have been swapped. Do not let customers pay it.")
	}
	return res
}

// emv reads an EMV code: one of ours, or another acquirer's.
func (sc *Scanner) emv(ctx context.Context, text, viewer string, res ScanResult, now time.Time) ScanResult {
	p, err := qr.Parse(text)
	if err != nil {
		res.Warnings = append(res.Warnings, "An EMV code that cannot be read: "+err.Error())
		return res
	}
	if !p.CRCValid {
		res.Warnings = append(res.Warnings, "The code's checksum is wrong: it was altered or misread.")
	}
	tag15, _ := p.Get("15")
	if sc.AcquirerIIN != "" && strings.HasPrefix(tag15, sc.AcquirerIIN) {
		if ref := p.Field("62.05"); ref != "" && sc.Store != nil {
			if pay, err := sc.Store.FindPayment(ctx, "", ref); err == nil {
				return sc.dynamic(pay, viewer, res, now)
			}
		}
		res.Kind, res.Channel = ScanDynamic, ChannelUnionpay
		if poi, _ := p.Get("01"); poi == "11" {
			res.Kind = ScanSticker
		}
		res.Genuine = yes()
		return res
	}
	res.Kind = ScanForeignEMV
	res.Genuine = no()
	res.MerchantName = p.Field("59")
	res.Warnings = append(res.Warnings, "Another acquirer's payment code: money paid to it does not reach this merchant. A swapped sticker is a known fraud.")
	return res
}

// dynamic describes one of qrpay's dynamic codes.
func (sc *Scanner) dynamic(p *Payment, viewer string, res ScanResult, now time.Time) ScanResult {
	res.Kind, res.Genuine, res.Channel, res.Status = ScanDynamic, yes(), p.Channel, string(p.Status)
	if viewer == "" || viewer == p.MerchantID {
		res.PaymentID, res.MerchantID, res.StoreID = p.ID, p.MerchantID, p.StoreID
	} else {
		res.Warnings = append(res.Warnings, "This code belongs to another merchant.")
	}
	if now.After(p.ExpiresAt) || p.Status == StatusExpired {
		res.Expired = yes()
		res.Warnings = append(res.Warnings, "This code has expired.")
	} else {
		res.Expired = no()
	}
	return res
}
