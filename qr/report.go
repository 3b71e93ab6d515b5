package qr

import "github.com/qrpay/qrpay"

// Report is the JSON that `qrpay qr parse` prints (CONTRACT.md): CRC validity, strict EMVCo
// conformance with one error per broken rule (each naming its tag), the main fields, and every
// root tag with its raw value.
type Report struct {
	CRCValid          bool              `json:"crc_valid"`
	Valid             bool              `json:"valid"`
	Errors            []string          `json:"errors"`
	Warnings          []string          `json:"warnings"`
	PointOfInitiation string            `json:"point_of_initiation,omitempty"`
	MerchantName      string            `json:"merchant_name,omitempty"`
	MerchantCity      string            `json:"merchant_city,omitempty"`
	Amount            string            `json:"amount,omitempty"`
	Currency          string            `json:"currency,omitempty"`
	Country           string            `json:"country,omitempty"`
	MCC               string            `json:"mcc,omitempty"`
	Tags              map[string]string `json:"tags"`
}

// NewReport summarizes a parsed payload. Errors is never nil; a tag that occurs more than once
// shows its first value in Tags.
func NewReport(p *Payload) Report {
	r := Report{
		CRCValid: p.CRCValid,
		Valid:    p.Valid(),
		Errors:   make([]string, 0, len(p.Problems)),
		Warnings: make([]string, 0, len(p.Warnings)),
		Tags:     make(map[string]string, len(p.Objects)),
	}
	for _, pr := range p.Problems {
		r.Errors = append(r.Errors, pr.Message)
	}
	for _, w := range p.Warnings {
		r.Warnings = append(r.Warnings, w.Message)
	}
	for _, o := range p.Objects {
		if _, ok := r.Tags[o.ID]; !ok {
			r.Tags[o.ID] = o.Value
		}
	}
	r.PointOfInitiation = r.Tags["01"]
	r.MerchantName = r.Tags["59"]
	r.MerchantCity = r.Tags["60"]
	r.Amount = r.Tags["54"]
	r.Currency = r.Tags["53"]
	r.Country = r.Tags["58"]
	r.MCC = r.Tags["52"]
	return r
}

// ReportError is the report for text that Parse rejects: not valid, CRC not valid, and the
// error's message as the one entry of Errors.
func ReportError(err error) Report {
	return Report{Errors: []string{qrpay.ErrorMessage(err)}, Warnings: []string{}, Tags: map[string]string{}}
}
