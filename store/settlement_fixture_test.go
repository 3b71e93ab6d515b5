package store_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/qrpay/qrpay"
	"github.com/qrpay/qrpay/gateway"
	"github.com/qrpay/qrpay/settlement"
	"github.com/qrpay/qrpay/store"
)

// Fixtures for settlement tests: merchants, payments and refunds written straight into the
// tables in bulk, as the gateway would have left them.

type fxMerchant struct {
	ID    string
	Cycle string
	Rates map[string]int // missing channels take the default rates
}

type fxPayment struct {
	ID, MerchantID, Channel, Account, Mode, Status, Flags, TradeNo string
	Currency                                                       qrpay.Currency
	Amount                                                         int64
	Refunded                                                       int64
	PaidAt                                                         *time.Time
}

type fxRefund struct {
	ID, PaymentID, MerchantID, Status string
	ProviderRefundNo                  string
	Currency                          qrpay.Currency
	Amount                            int64
	SucceededAt                       *time.Time
}

// seedMerchants inserts merchants with their fee rates.
func seedMerchants(t testing.TB, db *store.DB, ms []fxMerchant) {
	t.Helper()
	ctx := context.Background()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i, m := range ms {
		cycle := m.Cycle
		if cycle == "" {
			cycle = "T1"
		}
		_, err := db.ExecSettlementFixture(ctx, `INSERT INTO merchants (id, status, legal_name, short_name, uscc,
			legal_person_name, legal_person_id_enc, legal_person_id_blind, legal_person_id_mask, phone_enc, phone_mask, city,
			address, mcc, bank_name, bank_account_enc, bank_account_mask, settlement_cycle, created_at, updated_at)
			VALUES (?, 'active', ?, ?, ?, '测试', 'x', ?, 'x', 'x', 'x', '兰州', '兰州', '5812', '兰州银行', 'x', '****0048', ?, ?, ?)`,
			m.ID, "测试商户"+m.ID, fmt.Sprintf("店%d", i), fmt.Sprintf("USCC%014d", i), "blind"+m.ID, cycle, now, now)
		if err != nil {
			t.Fatalf("seed merchant: %v", err)
		}
		for ch, bps := range m.Rates {
			if _, err := db.ExecSettlementFixture(ctx, `INSERT INTO fee_rates (merchant_id, channel, bps, updated_at) VALUES (?, ?, ?, ?)`,
				m.ID, ch, bps, now); err != nil {
				t.Fatalf("seed fee rate: %v", err)
			}
		}
	}
}

// seedPayments inserts payments in chunks.
func seedPayments(t testing.TB, db *store.DB, ps []fxPayment) {
	t.Helper()
	ctx := context.Background()
	const cols = 16
	for start := 0; start < len(ps); start += 500 {
		end := min(start+500, len(ps))
		var sb strings.Builder
		sb.WriteString(`INSERT INTO payments (id, merchant_id, merchant_order_no, amount, currency, status, scene, channel,
			channel_account, mode, provider_trade_no, refunded_amount, flags, expires_at, paid_at, created_at, updated_at) VALUES `)
		args := make([]any, 0, (end-start)*cols)
		for i := start; i < end; i++ {
			p := ps[i]
			if i > start {
				sb.WriteString(", ")
			}
			sb.WriteString("(?, ?, ?, ?, ?, ?, 'qr', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
			created := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
			if p.PaidAt != nil {
				created = p.PaidAt.Add(-time.Minute)
			}
			account := p.Account
			if account == "" {
				account = "mockpay"
			}
			mode := p.Mode
			if mode == "" {
				mode = "live"
			}
			var paid any
			if p.PaidAt != nil {
				paid = p.PaidAt.UTC()
			}
			args = append(args, p.ID, p.MerchantID, "order-"+p.ID, p.Amount, string(p.Currency), p.Status, p.Channel, account,
				mode, p.TradeNo, p.Refunded, p.Flags, created.Add(time.Hour).UTC(), paid, created.UTC(), created.UTC())
		}
		if _, err := db.ExecSettlementFixture(ctx, sb.String(), args...); err != nil {
			t.Fatalf("seed payments: %v", err)
		}
	}
}

// seedRefunds inserts refunds in chunks.
func seedRefunds(t testing.TB, db *store.DB, rs []fxRefund) {
	t.Helper()
	ctx := context.Background()
	for start := 0; start < len(rs); start += 500 {
		end := min(start+500, len(rs))
		var sb strings.Builder
		sb.WriteString(`INSERT INTO refunds (id, payment_id, merchant_id, merchant_refund_no, amount, currency, status,
			provider_refund_no, created_at, updated_at, succeeded_at) VALUES `)
		var args []any
		for i := start; i < end; i++ {
			r := rs[i]
			if i > start {
				sb.WriteString(", ")
			}
			sb.WriteString("(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
			created := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
			var done any
			if r.SucceededAt != nil {
				created = r.SucceededAt.Add(-time.Second)
				done = r.SucceededAt.UTC()
			}
			args = append(args, r.ID, r.PaymentID, r.MerchantID, "refund-"+r.ID, r.Amount, string(r.Currency), r.Status,
				r.ProviderRefundNo, created.UTC(), created.UTC(), done)
		}
		if _, err := db.ExecSettlementFixture(ctx, sb.String(), args...); err != nil {
			t.Fatalf("seed refunds: %v", err)
		}
	}
}

// newSettlement returns a settlement service on the database with the calendar.
func newSettlement(t testing.TB, db *store.DB, clock qrpay.Clock, cal settlement.Calendar) *settlement.Service {
	t.Helper()
	if err := db.StartJobs(context.Background(), store.JobsConfig{}); err != nil {
		t.Fatal(err)
	}
	gw := &gateway.Service{Store: db.Gateway(), Clock: clock}
	return &settlement.Service{Store: db.Settlement(), Gateway: gw, Clock: clock, Calendar: cal}
}

// shanghai is the default settlement zone.
func shanghai(t testing.TB) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

func tp(t time.Time) *time.Time { return &t }
