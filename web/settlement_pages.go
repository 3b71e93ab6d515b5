package web

import (
	"html/template"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/qrpay/qrpay"
	"github.com/qrpay/qrpay/gateway"
	"github.com/qrpay/qrpay/merchant"
	"github.com/qrpay/qrpay/settlement"
)

func init() {
	addMessages(map[string][2]string{
		"settle.title":                  {"结算", "Settlements"},
		"settle.chart":                  {"近 30 天结算交易额（按渠道）", "Gross settled over the last 30 days, by channel"},
		"settle.chart_empty":            {"近 30 天没有结算。", "Nothing settled in the last 30 days."},
		"settle.batches":                {"结算批次", "Settlement batches"},
		"settle.none":                   {"还没有结算批次。", "No settlement batches yet."},
		"settle.mode":                   {"模式", "Mode"},
		"settle.mode.live":              {"生产", "Live"},
		"settle.mode.test":              {"测试", "Test"},
		"settle.day":                    {"结算日", "Settlement day"},
		"settle.batch":                  {"批次号", "Batch"},
		"settle.batch_title":            {"结算批次详情", "Settlement batch"},
		"settle.count":                  {"笔数", "Count"},
		"settle.gross":                  {"交易金额", "Gross"},
		"settle.refunds":                {"退款金额", "Refunds"},
		"settle.fees":                   {"手续费", "Fees"},
		"settle.returned_fees":          {"退还手续费", "Returned fees"},
		"settle.adjustments":            {"差错调整", "Adjustments"},
		"settle.net":                    {"结算净额", "Net"},
		"settle.carried_in":             {"上期结转", "Carried in"},
		"settle.carried_out":            {"结转下期", "Carried out"},
		"settle.payable":                {"应付金额", "Payable"},
		"settle.payout_date":            {"出款日", "Payout date"},
		"settle.cycle":                  {"结算周期", "Cycle"},
		"settle.status":                 {"状态", "Status"},
		"settle.reference":              {"出款流水号", "Payout reference"},
		"settle.fee_rate":               {"费率（基点）", "Rate (bps)"},
		"settle.lines":                  {"分渠道汇总", "By channel"},
		"settle.items":                  {"明细", "Items"},
		"settle.kind":                   {"类型", "Kind"},
		"settle.kind.payment":           {"收款", "Payment"},
		"settle.kind.refund":            {"退款", "Refund"},
		"settle.kind.adjustment":        {"调整", "Adjustment"},
		"settle.time":                   {"时间", "Time"},
		"settle.amount":                 {"金额", "Amount"},
		"settle.fee":                    {"手续费", "Fee"},
		"settle.lines_csv":              {"下载汇总 CSV", "Download the lines (CSV)"},
		"settle.items_csv":              {"下载明细 CSV", "Download the items (CSV)"},
		"settle.next":                   {"下一页", "Next page"},
		"settle.status.pending":         {"待出款", "Awaiting payout"},
		"settle.status.paid":            {"已出款", "Paid"},
		"settle.status.carried":         {"结转下期", "Carried forward"},
		"settle.status.zero":            {"无需出款", "Nothing due"},
		"settle.status.test":            {"测试（不出款）", "Test (never paid)"},
		"settle.cycle.T1":               {"T+1", "T+1"},
		"settle.cycle.T0":               {"T+0", "T+0"},
		"settle.cycle.D1":               {"D+1", "D+1"},
		"settle.console_title":          {"结算与对账", "Settlement and reconciliation"},
		"settle.overview":               {"%s 汇总（生产）", "%s overview (live)"},
		"settle.prev_day":               {"前一天", "Previous day"},
		"settle.next_day":               {"后一天", "Next day"},
		"settle.settled":                {"已结算", "Settled"},
		"settle.unsettled":              {"尚未结算", "Not settled yet"},
		"settle.volume":                 {"交易额", "Volume"},
		"settle.fees_earned":            {"手续费收入", "Fees earned"},
		"settle.paid":                   {"已出款", "Paid out"},
		"settle.due":                    {"到期待出款", "Due for payout"},
		"settle.merchant":               {"商户", "Merchant"},
		"settle.run":                    {"结算", "Settle"},
		"settle.run_help":               {"按顺序结算该日及其之前尚未结算的日期；已结算的日期不会重复结算。", "Settles the day and the unsettled days before it, in order; a settled day is never settled again."},
		"settle.as_of":                  {"截至（可选）", "As of (optional)"},
		"settle.payout_file":            {"下载出款文件", "Download the payout file"},
		"settle.payout_help":            {"出款日不晚于所选日期、待出款的生产批次；文件含收款账号，下载将记入审计日志。", "Live batches pending payout by the chosen date; the file holds bank accounts and its download is audited."},
		"settle.mark_paid":              {"标记已出款", "Mark paid"},
		"settle.reconcile":              {"对账", "Reconcile"},
		"settle.reconcile_help":         {"通过接口获取模拟渠道的对账单，或上传支付宝、微信支付的账单文件。", "Fetch the mock provider's statement through its API, or upload an Alipay or WeChat Pay bill file."},
		"settle.provider":               {"渠道", "Provider"},
		"settle.file":                   {"账单文件（可选）", "Bill file (optional)"},
		"settle.done.run":               {"结算完成。", "Settled."},
		"settle.done.paid":              {"已标记出款。", "Marked paid."},
		"settle.done.reconciled":        {"对账完成。", "Reconciled."},
		"settle.done.resolved":          {"差错已处理。", "Break resolved."},
		"settle.done.holiday":           {"结算日历已更新。", "Calendar updated."},
		"settle.test_note":              {"测试模式的批次不会出款。", "Test-mode batches are never paid out."},
		"settle.calendar":               {"结算日历", "Settlement calendar"},
		"settle.calendar_help":          {"节假日不出款（T+1、T+0 顺延到下一个结算日，D+1 不顺延）；调休工作日照常出款。", "No payouts on holidays (T+1 and T+0 move to the next settlement day, D+1 does not); make-up workdays pay as usual."},
		"settle.holiday":                {"节假日", "Holiday"},
		"settle.workday":                {"调休工作日", "Make-up workday"},
		"settle.holiday_name":           {"名称", "Name"},
		"settle.add":                    {"添加", "Add"},
		"settle.remove":                 {"删除", "Remove"},
		"recon.breaks":                  {"对账差错", "Reconciliation breaks"},
		"recon.open":                    {"待处理差错", "Open breaks"},
		"recon.none":                    {"没有差错。", "No breaks."},
		"recon.all":                     {"全部", "All"},
		"recon.kind":                    {"差错类型", "Kind"},
		"recon.kind.missing_ours":       {"长款（渠道有、我方无）", "Missing on our side"},
		"recon.kind.missing_theirs":     {"短款（我方有、渠道无）", "Missing at the provider"},
		"recon.kind.amount_mismatch":    {"金额不符", "Amount mismatch"},
		"recon.kind.status_mismatch":    {"状态不符", "Status mismatch"},
		"recon.object":                  {"对象", "Object"},
		"recon.ours":                    {"我方", "Ours"},
		"recon.theirs":                  {"渠道", "Provider's"},
		"recon.hold":                    {"暂停结算", "Held"},
		"recon.status.open":             {"待处理", "Open"},
		"recon.status.resolved":         {"已处理", "Resolved"},
		"recon.resolution":              {"处理方式", "Resolution"},
		"recon.resolution.accept":       {"以渠道为准", "Accept the provider's record"},
		"recon.resolution.write_off":    {"以我方为准（核销）", "Keep ours (write off)"},
		"recon.resolution.adjust":       {"调整金额", "Adjust"},
		"recon.resolution.late_success": {"已补记迟到成功", "Late success applied"},
		"recon.resolution.matched":      {"后续对账单已匹配", "Matched by a later statement"},
		"recon.adjustment":              {"调整金额（分，可为负）", "Adjustment (fen, may be negative)"},
		"recon.note":                    {"备注", "Note"},
		"recon.resolve":                 {"处理", "Resolve"},
		"recon.resolve_confirm":         {"确认处理该差错？", "Resolve this break?"},
	})
}

// registerSettlementPages lists the settlement pages of merchants and operators.
func (s *Server) registerSettlementPages(pages *echo.Group) {
	mu := s.requireUser(merchantRoles...)
	gate := s.passwordGate
	pages.GET("/settlements", s.settled(s.handleSettlementsPage), mu, gate)
	pages.GET("/settlements/:id", s.settled(s.handleSettlementPage), mu, gate)
	pages.GET("/settlements/:id/lines.csv", s.settled(s.handleSettlementPageLinesCSV), mu, gate)
	pages.GET("/settlements/:id/items.csv", s.settled(s.handleSettlementPageItemsCSV), mu, gate)

	op := s.requireUser(operatorRoles...)
	pages.GET("/console/settlements", s.settled(s.handleConsoleSettlements), op, gate)
	pages.POST("/console/settlements/run", s.settled(s.handleConsoleSettlementRun), op, gate, requireAdmin)
	pages.POST("/console/settlements/reconcile", s.settled(s.handleConsoleReconcile), op, gate, requireAdmin)
	pages.GET("/console/settlements/payouts.csv", s.settled(s.handleConsolePayoutFile), op, gate, requireAdmin)
	pages.GET("/console/settlements/breaks", s.settled(s.handleConsoleBreaks), op, gate)
	pages.POST("/console/settlements/breaks/:id/resolve", s.settled(s.handleConsoleBreakResolve), op, gate, requireAdmin)
	pages.POST("/console/settlements/calendar", s.settled(s.handleConsoleCalendar), op, gate, requireAdmin)
	pages.GET("/console/settlements/:id", s.settled(s.handleConsoleSettlement), op, gate)
	pages.GET("/console/settlements/:id/lines.csv", s.settled(s.handleAdminSettlementLinesCSV), op, gate)
	pages.GET("/console/settlements/:id/items.csv", s.settled(s.handleConsoleSettlementItemsCSV), op, gate)
	pages.POST("/console/settlements/:id/paid", s.settled(s.handleConsoleSettlementPaid), op, gate, requireAdmin)
}

// doneFlash shows the message of a finished action named in the done parameter.
func doneFlash(c echo.Context, v *view) {
	switch d := c.QueryParam("done"); d {
	case "run", "paid", "reconciled", "resolved", "holiday":
		v.Flash = v.T("settle.done." + d)
	}
}

// settleMerchant is the merchant of a merchant user's page.
func settleMerchant(c echo.Context) string {
	if sess := sessionOf(c); sess != nil && sess.User != nil {
		return sess.User.MerchantID
	}
	return ""
}

// canAct reports whether the page's user is an admin operator (who may run, pay and resolve).
func canAct(c echo.Context) bool {
	u := operatorOf(c)
	return u != nil && u.Role == merchant.RoleAdmin
}

type chartRow struct {
	Day     settlement.Date
	Channel string
	Gross   int64
}

type settlementsData struct {
	Mode     string
	Modes    []string
	Chart    template.HTML
	HasChart bool
	Rows     []chartRow
	Currency qrpay.Currency
	Batches  []*settlement.Batch
	Next     string
}

// handleSettlementsPage is the merchant's settlements: the chart of the last 30 days and the
// batches, of one mode (live by default; test when only test batches exist).
func (s *Server) handleSettlementsPage(c echo.Context, svc *settlement.Service) error {
	ctx := c.Request().Context()
	mid := settleMerchant(c)
	mode := c.QueryParam("mode")
	switch mode {
	case merchant.ModeLive, merchant.ModeTest:
	case "":
		mode = merchant.ModeLive
		if live, _, err := svc.Batches(ctx, settlement.BatchFilter{MerchantID: mid, Mode: merchant.ModeLive, Limit: 1}); err == nil && len(live) == 0 {
			if test, _, err := svc.Batches(ctx, settlement.BatchFilter{MerchantID: mid, Mode: merchant.ModeTest, Limit: 1}); err == nil && len(test) > 0 {
				mode = merchant.ModeTest
			}
		}
	default:
		return qrpay.Invalid("mode", "mode must be live or test.")
	}
	d := settlementsData{Mode: mode, Modes: []string{merchant.ModeLive, merchant.ModeTest}, Currency: qrpay.CNY}
	var err error
	if d.Batches, _, err = svc.Batches(ctx, settlement.BatchFilter{MerchantID: mid, Mode: mode, Limit: 20,
		StartingAfter: c.QueryParam("after")}); err != nil {
		return err
	}
	if len(d.Batches) == 20 {
		d.Next = "/settlements?" + url.Values{"mode": {mode}, "after": {d.Batches[19].ID}}.Encode()
	}
	chart, err := svc.Chart(ctx, mid, mode, 30)
	if err != nil {
		return err
	}
	v := s.newView(c, "settle.title", nil)
	name := func(ch string) string { return v.T("channel." + ch) }
	d.HasChart = chart.Max > 0
	d.Chart = renderChart(chart, d.Currency, name, v.T("settle.chart"))
	for i, day := range chart.Days {
		for _, ch := range chart.Channels {
			if g := chart.Gross[i][ch]; g != 0 {
				d.Rows = append(d.Rows, chartRow{Day: day, Channel: ch, Gross: g})
			}
		}
	}
	v.Data = d
	return s.render(c, http.StatusOK, "settlements", v)
}

type settlementData struct {
	Batch    *settlement.Batch
	Items    []settlement.Item
	Next     string
	Base     string // the batch page's path
	Operator bool
	CanPay   bool
}

// settlementPage renders a batch's page for a merchant (merchantID set) or an operator.
func (s *Server) settlementPage(c echo.Context, svc *settlement.Service, merchantID, base string) error {
	ctx := c.Request().Context()
	b, err := svc.Batch(ctx, merchantID, c.Param("id"))
	if err != nil {
		return err
	}
	d := settlementData{Batch: b, Base: base + "/" + b.ID, Operator: merchantID == ""}
	d.CanPay = d.Operator && canAct(c) && b.Status == settlement.StatusPending
	var more bool
	if d.Items, more, err = svc.Items(ctx, merchantID, b.ID, settlement.ItemFilter{Limit: 50, StartingAfter: c.QueryParam("after")}); err != nil {
		return err
	}
	if more {
		d.Next = d.Base + "?after=" + url.QueryEscape(d.Items[len(d.Items)-1].ObjectID)
	}
	v := s.newView(c, "settle.batch_title", d)
	doneFlash(c, v)
	return s.render(c, http.StatusOK, "settlement", v)
}

func (s *Server) handleSettlementPage(c echo.Context, svc *settlement.Service) error {
	return s.settlementPage(c, svc, settleMerchant(c), "/settlements")
}

func (s *Server) handleConsoleSettlement(c echo.Context, svc *settlement.Service) error {
	return s.settlementPage(c, svc, "", "/console/settlements")
}

func (s *Server) handleSettlementPageLinesCSV(c echo.Context, svc *settlement.Service) error {
	return batchLinesCSV(c, svc, settleMerchant(c))
}

// pageItemsCSV downloads a batch's items file, streamed from the database row by row.
func (s *Server) pageItemsCSV(c echo.Context, svc *settlement.Service, merchantID string) error {
	ctx := c.Request().Context()
	b, err := svc.Batch(ctx, merchantID, c.Param("id"))
	if err != nil {
		return err
	}
	h := c.Response().Header()
	h.Set("Content-Type", "text/csv; charset=utf-8")
	h.Set("Content-Disposition", `attachment; filename="`+b.ID+`-items.csv"`)
	c.Response().WriteHeader(http.StatusOK)
	w, err := settlement.NewItemsWriter(c.Response(), b, func(it settlement.Item) string {
		return it.At.In(s.Zone).Format(time.DateTime)
	})
	if err != nil {
		return nil
	}
	err = svc.EachItem(ctx, b.ID, w.Write)
	if err == nil {
		err = w.Close()
	}
	if err != nil {
		// The status is sent: end the file where it is and log why.
		s.Log.ErrorContext(ctx, "items csv", "batch", b.ID, "err", err)
	}
	return nil
}

func (s *Server) handleSettlementPageItemsCSV(c echo.Context, svc *settlement.Service) error {
	return s.pageItemsCSV(c, svc, settleMerchant(c))
}

func (s *Server) handleConsoleSettlementItemsCSV(c echo.Context, svc *settlement.Service) error {
	return s.pageItemsCSV(c, svc, "")
}

// --- the console ------------------------------------------------------------------------------

// batchTableData is a table of batches on a console page.
type batchTableData struct {
	V       *view
	Batches []*settlement.Batch
}

type consoleSettlementsData struct {
	Day        settlement.Date
	Prev, Next string
	Overview   *settlement.Overview
	LiveTable  batchTableData
	TestTable  batchTableData
	Breaks     []*settlement.Break
	OpenTotal  int
	Holidays   []settlement.Holiday
	CanAct     bool
	Providers  []string
	Yesterday  string
	Today      string
}

// handleConsoleSettlements is the operators' day: its sums across merchants, the batches, the
// open breaks, what is due for payout, and the actions (settle, reconcile, payout file).
func (s *Server) handleConsoleSettlements(c echo.Context, svc *settlement.Service) error {
	ctx := c.Request().Context()
	today := svc.Today()
	day, err := dateOr(c, "date", today.AddDays(-1))
	if err != nil {
		return err
	}
	d := consoleSettlementsData{Day: day, CanAct: canAct(c), Providers: gateway.Channels,
		Prev: "/console/settlements?date=" + day.AddDays(-1).String(), Next: "/console/settlements?date=" + day.AddDays(1).String(),
		Yesterday: today.AddDays(-1).String(), Today: today.String()}
	if d.Overview, err = svc.Overview(ctx, day); err != nil {
		return err
	}
	for _, b := range d.Overview.Batches {
		if b.Mode == merchant.ModeTest {
			d.TestTable.Batches = append(d.TestTable.Batches, b)
		} else {
			d.LiveTable.Batches = append(d.LiveTable.Batches, b)
		}
	}
	for _, n := range d.Overview.OpenBreaks {
		d.OpenTotal += n
	}
	if d.Breaks, _, err = svc.Breaks(ctx, settlement.BreakFilter{Status: settlement.BreakOpen, Limit: 10}); err != nil {
		return err
	}
	if d.Holidays, err = svc.Holidays(ctx, today.AddDays(-7), today.AddDays(90)); err != nil {
		return err
	}
	v := s.newView(c, "settle.console_title", nil)
	d.LiveTable.V, d.TestTable.V = v, v
	v.Data = d
	doneFlash(c, v)
	return s.render(c, http.StatusOK, "console_settlements", v)
}

// handleConsoleSettlementRun settles a day from the console.
func (s *Server) handleConsoleSettlementRun(c echo.Context, svc *settlement.Service) error {
	day, err := settlement.ParseDate("date", c.FormValue("date"))
	if err != nil {
		return err
	}
	var asOf time.Time
	if v := strings.TrimSpace(c.FormValue("as_of")); v != "" {
		if asOf, err = time.ParseInLocation("2006-01-02T15:04", v, s.Zone); err != nil {
			return qrpay.Invalid("as_of", "as_of must be a date and time.")
		}
	}
	if _, err := svc.RunBy(c.Request().Context(), userActor(c), day, asOf); err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, "/console/settlements?date="+day.String()+"&done=run")
}

// handleConsoleReconcile reconciles a provider's statement of a day: fetched through its API,
// or the uploaded bill file.
func (s *Server) handleConsoleReconcile(c echo.Context, svc *settlement.Service) error {
	ctx := c.Request().Context()
	day, err := settlement.ParseDate("date", c.FormValue("date"))
	if err != nil {
		return err
	}
	req := settlement.ReconcileRequest{Provider: c.FormValue("provider"), Date: day, Actor: userActor(c)}
	if fh, ferr := c.FormFile("file"); ferr == nil && fh.Size > 0 {
		f, err := fh.Open()
		if err != nil {
			return qrpay.Invalid("file", "The file could not be read.")
		}
		defer f.Close()
		_, err = svc.Import(ctx, req, f)
		if err != nil {
			return err
		}
	} else if _, err := svc.Reconcile(ctx, req); err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, "/console/settlements?date="+day.String()+"&done=reconciled")
}

// handleConsolePayoutFile downloads the payout file from the console.
func (s *Server) handleConsolePayoutFile(c echo.Context, svc *settlement.Service) error {
	return writePayoutFile(c, svc, userActor(c))
}

// handleConsoleSettlementPaid marks a batch paid from the console.
func (s *Server) handleConsoleSettlementPaid(c echo.Context, svc *settlement.Service) error {
	b, err := svc.MarkPaid(c.Request().Context(), userActor(c), c.Param("id"), c.FormValue("reference"))
	if err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, "/console/settlements/"+url.PathEscape(b.ID)+"?done=paid")
}

type consoleBreaksData struct {
	Status string
	Kind   string
	Kinds  []string
	Breaks []*settlement.Break
	Next   string
	CanAct bool
}

// handleConsoleBreaks lists breaks (open ones by default) with their resolution forms.
func (s *Server) handleConsoleBreaks(c echo.Context, svc *settlement.Service) error {
	f, err := breakFilter(c)
	if err != nil {
		return err
	}
	if c.QueryParam("status") == "" {
		f.Status = settlement.BreakOpen
	} else if f.Status == "all" {
		f.Status = ""
	}
	f.StartingAfter = c.QueryParam("after")
	f.Limit = 50
	d := consoleBreaksData{Status: c.QueryParam("status"), Kind: f.Kind, Kinds: settlement.BreakKinds, CanAct: canAct(c)}
	var more bool
	if d.Breaks, more, err = svc.Breaks(c.Request().Context(), f); err != nil {
		return err
	}
	if more {
		q := c.QueryParams()
		q.Set("after", d.Breaks[len(d.Breaks)-1].ID)
		d.Next = "/console/settlements/breaks?" + q.Encode()
	}
	v := s.newView(c, "recon.breaks", d)
	doneFlash(c, v)
	return s.render(c, http.StatusOK, "console_settlement_breaks", v)
}

// handleConsoleBreakResolve resolves a break from the console.
func (s *Server) handleConsoleBreakResolve(c echo.Context, svc *settlement.Service) error {
	r := settlement.ResolveRequest{Resolution: c.FormValue("resolution"), Note: c.FormValue("note")}
	if v := strings.TrimSpace(c.FormValue("adjustment")); v != "" && r.Resolution == settlement.ResolveAdjust {
		var err error
		if r.Adjustment, err = settlement.ParseAmountParam("adjustment", v); err != nil {
			return err
		}
	}
	if _, err := svc.Resolve(c.Request().Context(), userActor(c), c.Param("id"), r); err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, "/console/settlements/breaks?done=resolved")
}

// handleConsoleCalendar adds or removes a calendar entry from the console.
func (s *Server) handleConsoleCalendar(c echo.Context, svc *settlement.Service) error {
	day, err := settlement.ParseDate("date", c.FormValue("date"))
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	if c.FormValue("remove") != "" {
		err = svc.DeleteHoliday(ctx, userActor(c), day)
	} else {
		err = svc.PutHoliday(ctx, userActor(c), settlement.Holiday{Date: day, Kind: c.FormValue("kind"), Name: c.FormValue("name")})
	}
	if err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, "/console/settlements?done=holiday")
}
