package unionpay

import (
	"context"
	"strings"
	"unicode/utf8"

	"github.com/qrpay/qrpay"
	"github.com/qrpay/qrpay/gateway"
	"github.com/qrpay/qrpay/qr"
)

// maxLabel is the longest EMV tag 62 sub-object (reference and terminal labels), in characters.
const maxLabel = 25

// ReferenceLabel returns the EMV tag 62.05 reference label that a dynamic code carries for the
// payment (or any orderId): the id itself when it has at most 25 characters, which qrpay's
// payment ids ("pay_" and 21 characters) do, else its last 25 (the random part of an id of the
// qrpay shape). It is what a scanned code is matched to its payment by.
func ReferenceLabel(paymentID string) string { return label(paymentID) }

func label(s string) string {
	if len(s) <= maxLabel {
		return s
	}
	return s[len(s)-maxLabel:]
}

// terminalLabel is what goes to termId (tag 62.07): the terminal id cut like a reference label,
// or nothing when it is not printable ASCII.
func terminalLabel(id string) string {
	id = strings.TrimSpace(id)
	if !isANS(id) {
		return ""
	}
	return label(id)
}

// isANS reports whether s is non-empty printable ASCII (the EMV common character set).
func isANS(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// texts are a code's merchant texts: tags 59 and 60 (printable ASCII) and template 64.
type texts struct {
	name, city, nameLocal, cityLocal string
}

// merchantTexts picks a code's texts: printable-ASCII name and city as they are (cut to 25 and
// 15 characters), others (Chinese, say) for template 64 with the Config's defaults in tags 59
// and 60. It returns an EINVALID *qrpay.Error when no usable name or city remains.
func merchantTexts(c Config, name, city string) (texts, error) {
	var t texts
	name, city = strings.TrimSpace(name), strings.TrimSpace(city)
	for _, f := range []struct {
		v, def, param string
		max           int
		ascii, local  *string
	}{
		{name, c.MerchantName, "merchant_name", 25, &t.name, &t.nameLocal},
		{city, c.MerchantCity, "merchant_city", 15, &t.city, &t.cityLocal},
	} {
		switch {
		case f.v == "":
			*f.ascii = f.def
		case isANS(f.v):
			*f.ascii = strings.TrimSpace(f.v[:min(len(f.v), f.max)])
		default:
			if !utf8.ValidString(f.v) || strings.ContainsFunc(f.v, isControl) {
				return t, qrpay.Invalid(f.param, "The %s contains a control character or is not UTF-8.", f.param)
			}
			r := []rune(f.v)
			*f.local = strings.TrimSpace(string(r[:min(len(r), f.max)]))
			*f.ascii = f.def
		}
		if *f.ascii == "" {
			return t, qrpay.Invalid(f.param, "EMV tags 59 and 60 need a printable-ASCII %s (such as pinyin); configure a default.", f.param)
		}
	}
	if t.nameLocal == "" && t.cityLocal != "" {
		t.cityLocal = "" // template 64 needs a name before a city
	}
	return t, nil
}

func isControl(r rune) bool { return r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) }

// account is the EMV tag 15 value for merId.
func (c Config) account(merID string) string { return c.AcquirerIIN + c.ForwardingIIN + merID }

// StaticCode builds the static EMV code (point of initiation 11, no amount: the customer enters
// it) of a sticker for the sub-merchant subMerchantID (the Config's MerchantID when empty).
// Empty name, city and mcc fall back to the Config's defaults; a name or city that is not
// printable ASCII goes to template 64 (language ZH) with the defaults in tags 59 and 60. Errors
// are EINVALID *qrpay.Error values naming the offending field.
func StaticCode(c Config, subMerchantID string, name, city, mcc string) (string, error) {
	if err := checkAccount(c); err != nil {
		return "", err
	}
	merID := subMerchantID
	if merID == "" {
		merID = c.MerchantID
	}
	if !isMerID(merID) {
		return "", qrpay.Invalid("sub_merchant_id", "A UnionPay merId is 15 letters or digits.")
	}
	if mcc == "" {
		mcc = c.MCC
	}
	if !isDigits(mcc, 4) {
		return "", qrpay.Invalid("mcc", "The merchant category code must be 4 digits.")
	}
	t, err := merchantTexts(c, name, city)
	if err != nil {
		return "", err
	}
	return qr.BuildMerchantCode(qr.MerchantCode{UnionPayAccount: c.account(merID), MCC: mcc, Currency: qrpay.CNY,
		Name: t.name, City: t.city, NameZH: t.nameLocal, CityZH: t.cityLocal})
}

// expectedCode is what a dynamic code must say.
type expectedCode struct {
	account  string
	amount   qrpay.Money
	label    string
	terminal string
}

// checkCode verifies a dynamic code returned by the provider: an EMV payload with a valid CRC,
// strictly conformant, dynamic, paying the expected merchant account the expected amount and
// currency, with the payment's reference label (and terminal label, when one was sent).
func checkCode(op, payload string, want expectedCode) error {
	p, err := qr.Parse(payload)
	if err != nil {
		return tampered(op, "the qrCode is not an EMV payload: "+qrpay.ErrorMessage(err))
	}
	if !p.CRCValid {
		return tampered(op, "the qrCode fails its CRC")
	}
	if !p.Valid() {
		msgs := make([]string, len(p.Problems))
		for i, pr := range p.Problems {
			msgs[i] = pr.Message
		}
		return tampered(op, "the qrCode is not a conformant EMV payload: "+strings.Join(msgs, "; "))
	}
	if p.Field("01") != "12" {
		return tampered(op, "the qrCode is not a dynamic code")
	}
	if p.Field("15") != want.account {
		return tampered(op, "the qrCode pays another merchant account: "+p.Field("15"))
	}
	if p.Field("53") != want.amount.Currency.Numeric() {
		return tampered(op, "the qrCode is in currency "+p.Field("53"))
	}
	amt, err := qrpay.ParseDecimal(p.Field("54"), want.amount.Currency.Exponent())
	if err != nil || amt != want.amount.Amount {
		return tampered(op, "the qrCode asks for "+p.Field("54")+", not "+want.amount.Decimal())
	}
	if p.Field("62.05") != want.label {
		return tampered(op, "the qrCode's reference label is "+p.Field("62.05"))
	}
	if want.terminal != "" && p.Field("62.07") != want.terminal {
		return tampered(op, "the qrCode's terminal label is "+p.Field("62.07"))
	}
	return nil
}

// maxDesc is the longest orderDesc sent, in characters.
const maxDesc = 32

func description(s string) string {
	s = strings.TrimSpace(strings.Map(func(r rune) rune {
		if isControl(r) {
			return -1
		}
		return r
	}, s))
	if r := []rune(s); len(r) > maxDesc {
		s = string(r[:maxDesc])
	}
	return s
}

// CreateCode opens a dynamic QR order (txnType 01, txnSubType 07) and returns the EMV payload
// UnionPay built for it. ExpiresAt goes as payTimeout, so the order stops being payable at the
// provider no later than at qrpay. The payload is never trusted as it comes: it must parse with
// a valid CRC, conform strictly, be dynamic, pay tag 15 = AcquirerIIN + ForwardingIIN + merId the
// requested amount and currency, and carry ReferenceLabel(PaymentID) in tag 62.05 (and the
// terminal label in 62.07); otherwise the result is a ProviderTampered error with Unknown set.
// UnionPay numbers the transaction (queryId) only when it is paid, so Code.ProviderTradeNo is
// empty. Asking again for the same payment and amount returns the same code.
func (p *Provider) CreateCode(ctx context.Context, req gateway.CreateCodeRequest) (*gateway.Code, error) {
	const op = "create_code"
	if err := checkOrderID(op, "payment_id", req.PaymentID); err != nil {
		return nil, err
	}
	if err := checkMoney(op, req.Amount); err != nil {
		return nil, err
	}
	merID, err := p.merID(op, req.SubMerchantID)
	if err != nil {
		return nil, err
	}
	mcc := req.MCC
	if mcc == "" {
		mcc = p.cfg.MCC
	}
	if !isDigits(mcc, 4) {
		return nil, invalidRequest(op, "mcc", "The merchant category code must be 4 digits; configure a default.")
	}
	t, err := merchantTexts(p.cfg, req.MerchantName, req.MerchantCity)
	if err != nil {
		return nil, &gateway.ProviderError{Channel: gateway.ChannelUnionpay, Op: op, Code: gateway.ProviderInvalid,
			Message: qrpay.ErrorMessage(err), Err: err}
	}
	f := fields{
		"txnType": txnConsume, "txnSubType": subApplyQR, "merId": merID, "orderId": req.PaymentID,
		"txnAmt": minor(req.Amount), "currencyCode": req.Amount.Currency.Numeric(), "backUrl": req.NotifyURL,
		"termId": terminalLabel(req.TerminalID), "orderDesc": description(req.Description),
		"merName": t.name, "merCity": t.city, "merNameLocal": t.nameLocal, "merCityLocal": t.cityLocal, "merCatCode": mcc,
	}
	if !req.ExpiresAt.IsZero() {
		if !req.ExpiresAt.After(p.clock.Now()) {
			return nil, invalidRequest(op, "expires_at", "The code would expire before it is made.")
		}
		f["payTimeout"] = req.ExpiresAt.In(shanghai).Format(timeLayout)
	}
	r, err := p.call(ctx, op, pathBackTrans, f)
	if err != nil {
		return nil, err
	}
	if r["respCode"] != "00" {
		return nil, respError(op, r)
	}
	payload := r["qrCode"]
	if payload == "" {
		return nil, unavailable(op, "a success without qrCode", nil)
	}
	want := expectedCode{account: p.cfg.account(merID), amount: req.Amount, label: ReferenceLabel(req.PaymentID),
		terminal: f["termId"]}
	if err := checkCode(op, payload, want); err != nil {
		return nil, err
	}
	return &gateway.Code{Payload: payload, ProviderTradeNo: r["queryId"]}, nil
}
