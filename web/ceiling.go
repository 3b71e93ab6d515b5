package web

import (
	"encoding/json"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/qrpay/qrpay"
	"github.com/qrpay/qrpay/gateway"
)

// Ceiling is the load generator's yardstick: a bare Echo handler that makes exactly the database
// writes a dynamic-code payment makes on the hot path — the request's nonce, the payment, its
// provider call and its event — in one transaction of its own, statement by statement, and
// nothing else (no signature, no validation, no provider). The gateway itself writes the same
// rows more cleverly (one statement on PostgreSQL, group commit on SQLite), so it can approach or
// pass this ceiling; `qrpay bench` reports the ratio. `qrpay bench` serves it on loopback against the same database and
// compares the gateway's throughput with it.
func Ceiling(st gateway.Store, merchantID string) http.Handler {
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.POST("/ceiling", func(c echo.Context) error {
		ctx := c.Request().Context()
		now := time.Now().UTC().Truncate(time.Microsecond)
		id := qrpay.NewID("pay", now)
		next := now.Add(15 * time.Minute)
		p := &gateway.Payment{ID: id, MerchantID: merchantID, MerchantOrderNo: "ceiling-" + id, Amount: 1234,
			Currency: qrpay.CNY, Status: gateway.StatusCreated, Scene: gateway.SceneQR, Channel: gateway.ChannelMockpay,
			ChannelAccount: "mockpay", Mode: "test", QRPayload: "http://127.0.0.1/mockpay/c/" + id, ExpiresAt: next,
			NextCheckAt: &next, CreatedAt: now, UpdatedAt: now}
		data, _ := json.Marshal(p.Object(""))
		err := st.InTx(ctx, func(tx gateway.Tx) error {
			if err := tx.UseNonce(ctx, "ceiling", qrpay.RandomToken(12), now.Add(10*time.Minute)); err != nil {
				return err
			}
			if err := tx.InsertPayment(ctx, p); err != nil {
				return err
			}
			if err := tx.InsertProviderCall(ctx, &gateway.ProviderCall{ID: qrpay.NewID("pc", now), PaymentID: id,
				Channel: gateway.ChannelMockpay, Op: "create_code", Outcome: "ok", CreatedAt: now}); err != nil {
				return err
			}
			return tx.InsertEvent(ctx, &gateway.Event{ID: qrpay.NewID("evt", now), MerchantID: merchantID,
				Type: gateway.EventPaymentCreated, ObjectType: "payment", ObjectID: id, Data: data})
		})
		if err != nil {
			return c.String(http.StatusInternalServerError, err.Error())
		}
		return c.JSON(http.StatusCreated, p.Object(""))
	})
	return e
}
