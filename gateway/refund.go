package gateway

import (
	"time"

	"github.com/qrpay/qrpay"
)

// Refund returns part or all of a succeeded payment. Its Status moves pending → succeeded or
// failed, with the same values as a provider's RefundStatus. A payment may have several; together
// they never exceed what was paid.
type Refund struct {
	ID               string
	PaymentID        string
	MerchantID       string
	MerchantRefundNo string
	Amount           int64
	Currency         qrpay.Currency
	Status           RefundStatus
	Reason           string
	ProviderRefundNo string
	FailureReason    string
	CreatedAt        time.Time
	UpdatedAt        time.Time
	SucceededAt      *time.Time
}

// RefundObject is a refund as the API and webhooks show it.
type RefundObject struct {
	ID               string         `json:"id"`
	Object           string         `json:"object"`
	PaymentID        string         `json:"payment_id"`
	MerchantRefundNo string         `json:"merchant_refund_no"`
	Amount           int64          `json:"amount"`
	Currency         qrpay.Currency `json:"currency"`
	Status           RefundStatus   `json:"status"`
	Reason           string         `json:"reason"`
	ProviderRefundNo string         `json:"provider_refund_no"`
	FailureReason    string         `json:"failure_reason,omitempty"`
	CreatedAt        time.Time      `json:"created_at"`
	SucceededAt      *time.Time     `json:"succeeded_at"`
}

// Object returns the refund as the API shows it.
func (r *Refund) Object() RefundObject {
	return RefundObject{ID: r.ID, Object: "refund", PaymentID: r.PaymentID, MerchantRefundNo: r.MerchantRefundNo,
		Amount: r.Amount, Currency: r.Currency, Status: r.Status, Reason: r.Reason,
		ProviderRefundNo: r.ProviderRefundNo, FailureReason: r.FailureReason, CreatedAt: r.CreatedAt,
		SucceededAt: r.SucceededAt}
}
