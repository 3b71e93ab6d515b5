package web

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/qrpay/qrpay"
	"github.com/qrpay/qrpay/merchant"
	"github.com/qrpay/qrpay/settlement"
)

// Settlement over HTTP: the merchant API's batches and their CSV, the operator API's runs,
// payouts, calendar, reconciliations and breaks, and the pages (settlement_pages.go).

// settlementServices holds each server's settlement service (UseSettlement).
var settlementServices sync.Map // *Server -> *settlement.Service

// UseSettlement gives the server its settlement service. Routes are registered by New; they
// answer EINVALIDSTATE until this is called.
func (s *Server) UseSettlement(svc *settlement.Service) { settlementServices.Store(s, svc) }

// SettlementService returns the service UseSettlement gave the server, or nil.
func (s *Server) SettlementService() *settlement.Service {
	svc, _ := s.settlementService()
	return svc
}

// settlementService returns the server's settlement service.
func (s *Server) settlementService() (*settlement.Service, error) {
	if v, ok := settlementServices.Load(s); ok {
		return v.(*settlement.Service), nil
	}
	return nil, qrpay.Errorf(qrpay.EINVALIDSTATE, "Settlement is not set up on this server.")
}

// settled makes a handler of one that needs the settlement service; until the server has one,
// it answers EINVALIDSTATE.
func (s *Server) settled(h func(echo.Context, *settlement.Service) error) echo.HandlerFunc {
	return func(c echo.Context) error {
		svc, err := s.settlementService()
		if err != nil {
			return err
		}
		return h(c, svc)
	}
}

// registerSettlementRoutes lists settlement's API, operator API and pages.
func (s *Server) registerSettlementRoutes(v1, admin, pages *echo.Group) {
	v1.GET("/settlements", s.settled(s.handleSettlementList))
	v1.GET("/settlements/:id", s.settled(s.handleSettlementView))
	v1.GET("/settlements/:id/lines.csv", s.settled(s.handleSettlementLinesCSV))

	admin.POST("/settlements/run", s.settled(s.handleAdminSettlementRun), requireAdmin)
	admin.GET("/settlements", s.settled(s.handleAdminSettlementList))
	admin.GET("/settlements/overview", s.settled(s.handleAdminSettlementOverview))
	admin.GET("/settlements/payouts.csv", s.settled(s.handleAdminPayoutFile), requireAdmin)
	admin.GET("/settlements/holidays", s.settled(s.handleAdminHolidays))
	admin.PUT("/settlements/holidays/:date", s.settled(s.handleAdminHolidayPut), requireAdmin)
	admin.DELETE("/settlements/holidays/:date", s.settled(s.handleAdminHolidayDelete), requireAdmin)
	admin.GET("/settlements/:id", s.settled(s.handleAdminSettlementView))
	admin.GET("/settlements/:id/lines.csv", s.settled(s.handleAdminSettlementLinesCSV))
	admin.POST("/settlements/:id/paid", s.settled(s.handleAdminSettlementPaid), requireAdmin)
	admin.POST("/reconciliations", s.settled(s.handleAdminReconcile), requireAdmin)
	admin.POST("/reconciliations/import", s.settled(s.handleAdminReconcileImport), requireAdmin)
	admin.GET("/breaks", s.settled(s.handleAdminBreaks))
	admin.GET("/breaks/:id", s.settled(s.handleAdminBreak))
	admin.POST("/breaks/:id/resolve", s.settled(s.handleAdminBreakResolve), requireAdmin)

	s.registerSettlementPages(pages)
}

// dateParam reads an optional YYYY-MM-DD query parameter.
func dateParam(c echo.Context, name string) (settlement.Date, error) {
	v := c.QueryParam(name)
	if v == "" {
		return settlement.Date{}, nil
	}
	return settlement.ParseDate(name, v)
}

// dateOr reads an optional YYYY-MM-DD query parameter, def when it is absent.
func dateOr(c echo.Context, name string, def settlement.Date) (settlement.Date, error) {
	d, err := dateParam(c, name)
	if err == nil && d.IsZero() {
		d = def
	}
	return d, err
}

// batchList answers a page of the batches of f, with the query's date and limit.
func batchList(c echo.Context, svc *settlement.Service, f settlement.BatchFilter) error {
	var err error
	if f.Day, err = dateParam(c, "date"); err != nil {
		return err
	}
	if f.Limit, err = intParam(c, "limit"); err != nil {
		return err
	}
	batches, more, err := svc.Batches(c.Request().Context(), f)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, List{Object: "list", Data: objects(batches, (*settlement.Batch).Object), HasMore: more})
}

// --- merchant API -----------------------------------------------------------------------------

// handleSettlementList is GET /v1/settlements?date=&limit=&starting_after=: the caller's batches
// of its key's mode, newest first.
func (s *Server) handleSettlementList(c echo.Context, svc *settlement.Service) error {
	caller := callerOf(c)
	return batchList(c, svc, settlement.BatchFilter{MerchantID: caller.MerchantID, Mode: caller.Mode,
		StartingAfter: c.QueryParam("starting_after")})
}

// callerBatch returns a batch of the caller's merchant and mode; anything else is ENOTFOUND.
func callerBatch(c echo.Context, svc *settlement.Service) (*settlement.Batch, error) {
	caller := callerOf(c)
	b, err := svc.Batch(c.Request().Context(), caller.MerchantID, c.Param("id"))
	if err != nil {
		return nil, err
	}
	if b.Mode != caller.Mode {
		return nil, qrpay.NotFound("settlement")
	}
	return b, nil
}

// handleSettlementView is GET /v1/settlements/{id}.
func (s *Server) handleSettlementView(c echo.Context, svc *settlement.Service) error {
	b, err := callerBatch(c, svc)
	return reply(c, http.StatusOK, (*settlement.Batch).Object, b, err)
}

// handleSettlementLinesCSV is GET /v1/settlements/{id}/lines.csv.
func (s *Server) handleSettlementLinesCSV(c echo.Context, svc *settlement.Service) error {
	b, err := callerBatch(c, svc)
	if err != nil {
		return err
	}
	return writeLinesCSV(c, b)
}

// writeLinesCSV answers a batch's lines file.
func writeLinesCSV(c echo.Context, b *settlement.Batch) error {
	var buf bytes.Buffer
	if err := settlement.WriteLinesCSV(&buf, b); err != nil {
		return err
	}
	c.Response().Header().Set("Content-Disposition", `attachment; filename="`+b.ID+`-lines.csv"`)
	return c.Blob(http.StatusOK, "text/csv; charset=utf-8", buf.Bytes())
}

// --- operator API -----------------------------------------------------------------------------

// handleAdminSettlementRun is POST /admin/v1/settlements/run {date, as_of?}: settle the day (and
// the unsettled days before it), answering the day's batches.
func (s *Server) handleAdminSettlementRun(c echo.Context, svc *settlement.Service) error {
	var b struct {
		Date string `json:"date"`
		AsOf string `json:"as_of"`
	}
	if err := readBody(c, &b, false); err != nil {
		return err
	}
	day, err := settlement.ParseDate("date", b.Date)
	if err != nil {
		return err
	}
	var asOf time.Time
	if b.AsOf != "" {
		if asOf, err = time.Parse(time.RFC3339Nano, b.AsOf); err != nil {
			return qrpay.Invalid("as_of", "as_of must be a time in RFC 3339, such as 2026-03-04T06:00:00+08:00.")
		}
	}
	run, err := svc.RunBy(c.Request().Context(), operatorActor(c), day, asOf)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, run.Object())
}

// handleAdminSettlementList is GET /admin/v1/settlements?date=&merchant_id=&status=&mode=.
func (s *Server) handleAdminSettlementList(c echo.Context, svc *settlement.Service) error {
	f := settlement.BatchFilter{MerchantID: c.QueryParam("merchant_id"), Status: c.QueryParam("status"),
		Mode: c.QueryParam("mode"), StartingAfter: c.QueryParam("starting_after")}
	if f.Mode != "" && f.Mode != merchant.ModeLive && f.Mode != merchant.ModeTest {
		return qrpay.Invalid("mode", "mode must be live or test.")
	}
	return batchList(c, svc, f)
}

// handleAdminSettlementView is GET /admin/v1/settlements/{id}.
func (s *Server) handleAdminSettlementView(c echo.Context, svc *settlement.Service) error {
	b, err := svc.Batch(c.Request().Context(), "", c.Param("id"))
	return reply(c, http.StatusOK, (*settlement.Batch).Object, b, err)
}

// handleAdminSettlementLinesCSV is GET /admin/v1/settlements/{id}/lines.csv, and the console's
// download of the same file.
func (s *Server) handleAdminSettlementLinesCSV(c echo.Context, svc *settlement.Service) error {
	return batchLinesCSV(c, svc, "")
}

// batchLinesCSV answers the lines file of the route's batch, of merchantID's when that is set.
func batchLinesCSV(c echo.Context, svc *settlement.Service, merchantID string) error {
	b, err := svc.Batch(c.Request().Context(), merchantID, c.Param("id"))
	if err != nil {
		return err
	}
	return writeLinesCSV(c, b)
}

// handleAdminSettlementPaid is POST /admin/v1/settlements/{id}/paid {reference}.
func (s *Server) handleAdminSettlementPaid(c echo.Context, svc *settlement.Service) error {
	var body struct {
		Reference string `json:"reference"`
	}
	if err := readBody(c, &body, false); err != nil {
		return err
	}
	b, err := svc.MarkPaid(c.Request().Context(), operatorActor(c), c.Param("id"), body.Reference)
	return reply(c, http.StatusOK, (*settlement.Batch).Object, b, err)
}

// OverviewObject is a day across merchants, as the operator API shows it.
type OverviewObject struct {
	Object       string                   `json:"object"`
	Date         string                   `json:"date"`
	Settled      bool                     `json:"settled"`
	Count        int64                    `json:"count"`
	Gross        int64                    `json:"gross"`
	Refunds      int64                    `json:"refunds"`
	Fees         int64                    `json:"fees"`
	ReturnedFees int64                    `json:"returned_fees"`
	FeesEarned   int64                    `json:"fees_earned"`
	Net          int64                    `json:"net"`
	Payable      int64                    `json:"payable"`
	Paid         int64                    `json:"paid"`
	DuePayouts   int64                    `json:"due_payouts"`
	OpenBreaks   map[string]int           `json:"open_breaks"`
	Batches      []settlement.BatchObject `json:"batches"`
}

// handleAdminSettlementOverview is GET /admin/v1/settlements/overview?date= (yesterday by
// default): live sums of the day (CNY minor units as settled; see the batches for currencies).
func (s *Server) handleAdminSettlementOverview(c echo.Context, svc *settlement.Service) error {
	day, err := dateOr(c, "date", svc.Today().AddDays(-1))
	if err != nil {
		return err
	}
	o, err := svc.Overview(c.Request().Context(), day)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, OverviewObject{Object: "settlement_overview", Date: day.String(), Settled: o.Settled,
		Count: o.Count, Gross: o.Gross, Refunds: o.Refunds, Fees: o.Fees, ReturnedFees: o.ReturnedFees,
		FeesEarned: o.FeesEarned, Net: o.Net, Payable: o.Payable, Paid: o.Paid, DuePayouts: o.DuePayouts,
		OpenBreaks: o.OpenBreaks, Batches: objects(o.Batches, (*settlement.Batch).Object)})
}

// handleAdminPayoutFile is GET /admin/v1/settlements/payouts.csv?date=: the live batches pending
// payout by that date (today by default), for the bank. It is the one place bank account
// numbers leave the database in the clear; the download is in the audit log.
func (s *Server) handleAdminPayoutFile(c echo.Context, svc *settlement.Service) error {
	return writePayoutFile(c, svc, operatorActor(c))
}

// writePayoutFile answers the payout file of the query's date (today by default), for actor.
// It is built in memory first, so that an error half way answers an error rather than half a
// file.
func writePayoutFile(c echo.Context, svc *settlement.Service, actor merchant.Actor) error {
	day, err := dateOr(c, "date", svc.Today())
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	pw, err := settlement.NewPayoutWriter(&buf)
	if err != nil {
		return err
	}
	if err := svc.Payouts(c.Request().Context(), actor, day, pw.Write); err != nil {
		return err
	}
	if err := pw.Close(); err != nil {
		return err
	}
	h := c.Response().Header()
	h.Set("Content-Disposition", `attachment; filename="payouts-`+day.Compact()+`.csv"`)
	h.Set("Cache-Control", "no-store")
	h.Set("Qrpay-Payout-Count", fmt.Sprint(pw.Count))
	return c.Blob(http.StatusOK, "text/csv; charset=utf-8", buf.Bytes())
}

// handleAdminHolidays is GET /admin/v1/settlements/holidays?from=&to= (this year by default).
func (s *Server) handleAdminHolidays(c echo.Context, svc *settlement.Service) error {
	from, err := dateOr(c, "from", settlement.MustDate(svc.Today().String()[:4]+"-01-01"))
	if err != nil {
		return err
	}
	to, err := dateOr(c, "to", from.AddDays(365))
	if err != nil {
		return err
	}
	hs, err := svc.Holidays(c.Request().Context(), from, to)
	if err != nil {
		return err
	}
	if hs == nil {
		hs = []settlement.Holiday{}
	}
	return c.JSON(http.StatusOK, List{Object: "list", Data: hs})
}

// handleAdminHolidayPut is PUT /admin/v1/settlements/holidays/{date} {kind, name}.
func (s *Server) handleAdminHolidayPut(c echo.Context, svc *settlement.Service) error {
	day, err := settlement.ParseDate("date", c.Param("date"))
	if err != nil {
		return err
	}
	var b struct {
		Kind string `json:"kind"`
		Name string `json:"name"`
	}
	if err := readBody(c, &b, false); err != nil {
		return err
	}
	h := settlement.Holiday{Date: day, Kind: b.Kind, Name: b.Name}
	if err := svc.PutHoliday(c.Request().Context(), operatorActor(c), h); err != nil {
		return err
	}
	return c.JSON(http.StatusOK, h)
}

// handleAdminHolidayDelete is DELETE /admin/v1/settlements/holidays/{date}.
func (s *Server) handleAdminHolidayDelete(c echo.Context, svc *settlement.Service) error {
	day, err := settlement.ParseDate("date", c.Param("date"))
	if err != nil {
		return err
	}
	if err := svc.DeleteHoliday(c.Request().Context(), operatorActor(c), day); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

// handleAdminReconcile is POST /admin/v1/reconciliations {provider, date, account?}: fetch the
// provider's statement of the day through its API and reconcile it.
func (s *Server) handleAdminReconcile(c echo.Context, svc *settlement.Service) error {
	var b struct {
		Provider string `json:"provider"`
		Date     string `json:"date"`
		Account  string `json:"account"`
	}
	if err := readBody(c, &b, false); err != nil {
		return err
	}
	day, err := settlement.ParseDate("date", b.Date)
	if err != nil {
		return err
	}
	rec, err := svc.Reconcile(c.Request().Context(), settlement.ReconcileRequest{Provider: b.Provider, Account: b.Account,
		Date: day, Actor: operatorActor(c)})
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, rec)
}

// handleAdminReconcileImport is POST /admin/v1/reconciliations/import?provider=&date=&account=
// with a statement file as the body (within the body limit; larger files go through
// `qrpay reconcile --file`).
func (s *Server) handleAdminReconcileImport(c echo.Context, svc *settlement.Service) error {
	day, err := settlement.ParseDate("date", c.QueryParam("date"))
	if err != nil {
		return err
	}
	body, err := io.ReadAll(c.Request().Body)
	if err != nil {
		return qrpay.Errorf(qrpay.EINVALID, "The statement file could not be read.")
	}
	rec, err := svc.Import(c.Request().Context(), settlement.ReconcileRequest{Provider: c.QueryParam("provider"),
		Account: c.QueryParam("account"), Date: day, Actor: operatorActor(c)}, bytes.NewReader(body))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, rec)
}

// breakFilter reads the filters of a list of breaks.
func breakFilter(c echo.Context) (settlement.BreakFilter, error) {
	f := settlement.BreakFilter{Status: c.QueryParam("status"), Kind: c.QueryParam("kind"),
		MerchantID: c.QueryParam("merchant_id"), StartingAfter: c.QueryParam("starting_after")}
	var err error
	if f.Day, err = dateParam(c, "date"); err != nil {
		return f, err
	}
	f.Limit, err = intParam(c, "limit")
	return f, err
}

// handleAdminBreaks is GET /admin/v1/breaks?status=&kind=&date=&merchant_id=.
func (s *Server) handleAdminBreaks(c echo.Context, svc *settlement.Service) error {
	f, err := breakFilter(c)
	if err != nil {
		return err
	}
	bs, more, err := svc.Breaks(c.Request().Context(), f)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, List{Object: "list", Data: objects(bs, (*settlement.Break).Object), HasMore: more})
}

// handleAdminBreak is GET /admin/v1/breaks/{id}.
func (s *Server) handleAdminBreak(c echo.Context, svc *settlement.Service) error {
	b, err := svc.Break(c.Request().Context(), c.Param("id"))
	return reply(c, http.StatusOK, (*settlement.Break).Object, b, err)
}

// handleAdminBreakResolve is POST /admin/v1/breaks/{id}/resolve {resolution, adjustment?, note?}.
func (s *Server) handleAdminBreakResolve(c echo.Context, svc *settlement.Service) error {
	var r struct {
		Resolution string `json:"resolution"`
		Adjustment int64  `json:"adjustment"`
		Note       string `json:"note"`
	}
	if err := readBody(c, &r, false); err != nil {
		return err
	}
	b, err := svc.Resolve(c.Request().Context(), operatorActor(c), c.Param("id"),
		settlement.ResolveRequest{Resolution: strings.TrimSpace(r.Resolution), Adjustment: r.Adjustment, Note: r.Note})
	return reply(c, http.StatusOK, (*settlement.Break).Object, b, err)
}
