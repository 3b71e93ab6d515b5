package settlement

import (
	"time"

	"github.com/qrpay/qrpay"
)

// BatchObject is a batch as the merchant API, the operator API and settlement.created webhooks
// show it (CONTRACT.md): amounts in minor units, net = gross − refunds − fees + returned_fees.
type BatchObject struct {
	ID              string         `json:"id"`
	Object          string         `json:"object"`
	Date            string         `json:"date"`
	MerchantID      string         `json:"merchant_id"`
	Currency        qrpay.Currency `json:"currency"`
	Mode            string         `json:"mode"`
	Count           int64          `json:"count"`
	PaymentCount    int64          `json:"payment_count"`
	RefundCount     int64          `json:"refund_count"`
	AdjustmentCount int64          `json:"adjustment_count"`
	Gross           int64          `json:"gross"`
	Refunds         int64          `json:"refunds"`
	Fees            int64          `json:"fees"`
	ReturnedFees    int64          `json:"returned_fees"`
	Adjustments     int64          `json:"adjustments"`
	Net             int64          `json:"net"`
	CarriedIn       int64          `json:"carried_in"`
	CarriedOut      int64          `json:"carried_out"`
	Payable         int64          `json:"payable"`
	Status          string         `json:"status"`
	Cycle           Cycle          `json:"cycle"`
	PayoutDate      string         `json:"payout_date"`
	Reference       string         `json:"reference"`
	PaidAt          *time.Time     `json:"paid_at"`
	CreatedAt       time.Time      `json:"created_at"`
	Lines           []LineObject   `json:"lines"`
}

// LineObject is one channel of a batch.
type LineObject struct {
	Channel         string `json:"channel"`
	Count           int64  `json:"count"`
	PaymentCount    int64  `json:"payment_count"`
	RefundCount     int64  `json:"refund_count"`
	AdjustmentCount int64  `json:"adjustment_count"`
	Gross           int64  `json:"gross"`
	Refunds         int64  `json:"refunds"`
	Fees            int64  `json:"fees"`
	ReturnedFees    int64  `json:"returned_fees"`
	Adjustments     int64  `json:"adjustments"`
	Net             int64  `json:"net"`
	FeeRate         int    `json:"fee_rate"`
}

// Object returns the batch as the API shows it.
func (b *Batch) Object() BatchObject {
	o := BatchObject{ID: b.ID, Object: "settlement", Date: b.Day.String(), MerchantID: b.MerchantID, Currency: b.Currency,
		Mode: b.Mode, Count: b.Count, PaymentCount: b.PaymentCount, RefundCount: b.RefundCount,
		AdjustmentCount: b.AdjustmentCount, Gross: b.Gross, Refunds: b.Refunds, Fees: b.Fees, ReturnedFees: b.ReturnedFees,
		Adjustments: b.Adjustments, Net: b.Net, CarriedIn: b.CarriedIn, CarriedOut: b.CarriedOut, Payable: b.Payable,
		Status: b.Status, Cycle: b.Cycle, PayoutDate: b.PayoutDate.String(), Reference: b.Reference, PaidAt: b.PaidAt,
		CreatedAt: b.CreatedAt, Lines: make([]LineObject, len(b.Lines))}
	for i, l := range b.Lines {
		o.Lines[i] = LineObject{Channel: l.Channel, Count: l.Count, PaymentCount: l.PaymentCount, RefundCount: l.RefundCount,
			AdjustmentCount: l.AdjustmentCount, Gross: l.Gross, Refunds: l.Refunds, Fees: l.Fees, ReturnedFees: l.ReturnedFees,
			Adjustments: l.Adjustments, Net: l.Net, FeeRate: l.BPS}
	}
	return o
}

// ItemObject is one item of a batch.
type ItemObject struct {
	ID              string    `json:"id"`
	Kind            string    `json:"kind"`
	Channel         string    `json:"channel"`
	Amount          int64     `json:"amount"`
	Fee             int64     `json:"fee"`
	At              time.Time `json:"at"`
	PaymentID       string    `json:"payment_id"`
	MerchantOrderNo string    `json:"merchant_order_no"`
	ProviderTradeNo string    `json:"provider_trade_no"`
}

// Object returns the item as the API shows it.
func (i *Item) Object() ItemObject {
	return ItemObject{ID: i.ObjectID, Kind: i.Kind, Channel: i.Channel, Amount: i.Amount, Fee: i.Fee, At: i.At,
		PaymentID: i.PaymentID, MerchantOrderNo: i.MerchantOrderNo, ProviderTradeNo: i.ProviderTradeNo}
}

// RunObject is the answer to POST /admin/v1/settlements/run.
type RunObject struct {
	Object  string        `json:"object"`
	Date    string        `json:"date"`
	AsOf    time.Time     `json:"as_of"`
	Settled []string      `json:"settled"`
	Created int           `json:"created"`
	Data    []BatchObject `json:"data"`
	HasMore bool          `json:"has_more"`
}

// Object returns the run as the API shows it.
func (r *Run) Object() RunObject {
	o := RunObject{Object: "settlement_run", Date: r.Day.String(), AsOf: r.AsOf, Settled: make([]string, len(r.Settled)),
		Created: r.Created, Data: make([]BatchObject, len(r.Batches))}
	for i, d := range r.Settled {
		o.Settled[i] = d.String()
	}
	for i, b := range r.Batches {
		o.Data[i] = b.Object()
	}
	return o
}
