package web

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/qrpay/qrpay"
	"github.com/qrpay/qrpay/merchant"
)

// consoleHomeData is the console's start page: the review queue.
type consoleHomeData struct {
	Queue  []*merchant.Merchant
	Counts map[string]int
}

func (s *Server) handleConsoleHome(c echo.Context) error {
	ctx := c.Request().Context()
	q, _, err := s.Merchants.Merchants(ctx, merchant.Filter{Status: merchant.StatusSubmitted, Limit: 100})
	if err != nil {
		return err
	}
	// Oldest first: the queue is worked in the order applications came.
	for i, j := 0, len(q)-1; i < j; i, j = i+1, j-1 {
		q[i], q[j] = q[j], q[i]
	}
	return s.render(c, http.StatusOK, "console_home", s.newView(c, "console.title", consoleHomeData{Queue: q}))
}

// consoleListData is the merchants list with its filter and cursor.
type consoleListData struct {
	Merchants []*merchant.Merchant
	Status    string
	Q         string
	Next      string
	Statuses  []merchant.Status
	Paged     bool
}

var allStatuses = []merchant.Status{merchant.StatusDraft, merchant.StatusSubmitted, merchant.StatusActive, merchant.StatusFrozen,
	merchant.StatusRejected, merchant.StatusClosed}

func (s *Server) handleConsoleMerchants(c echo.Context) error {
	st := merchant.Status(c.QueryParam("status"))
	if st != "" && !validStatus(st) {
		st = ""
	}
	q := strings.TrimSpace(c.QueryParam("q"))
	after := c.QueryParam("starting_after")
	ms, more, err := s.Merchants.Merchants(c.Request().Context(), merchant.Filter{Status: st, Search: q, Limit: 50, StartingAfter: after})
	if err != nil {
		return err
	}
	d := consoleListData{Merchants: ms, Status: string(st), Q: q, Statuses: allStatuses, Paged: after != ""}
	if more && len(ms) > 0 {
		v := url.Values{"starting_after": {ms[len(ms)-1].ID}}
		if st != "" {
			v.Set("status", string(st))
		}
		if q != "" {
			v.Set("q", q)
		}
		d.Next = "/console/merchants?" + v.Encode()
	}
	return s.render(c, http.StatusOK, "console_merchants", s.newView(c, "console.merchants", d))
}

func (s *Server) handleConsoleNewPage(c echo.Context) error {
	return s.render(c, http.StatusOK, "apply", s.applyView(c, "console.new", merchant.Application{}, true))
}

func (s *Server) handleConsoleNew(c echo.Context) error { return s.submitApplication(c, true) }

// warning is one check's warning, translated.
type warning struct{ Field, Message string }

// accountChoice is a channel account a binding may name.
type accountChoice struct{ ID, Channel string }

// consoleMerchantData is everything the merchant's console page shows.
type consoleMerchantData struct {
	M          *merchant.Merchant
	V          merchant.MerchantView
	MCC        merchant.MCC
	Warnings   []warning
	Docs       []*merchant.Document
	History    []*merchant.StatusChange
	FeeHistory []*merchant.FeeRateChange
	Channels   []string
	Bindings   []merchant.Binding
	Accounts   []accountChoice
	Stores     []*merchant.Store
	Terminals  []*merchant.Terminal
	Stickers   []*merchant.Sticker
	Keys       []*merchant.APIKey
	Users      []*merchant.User
	Kinds      []string
	Roles      []string
	Can        map[string]bool
	Admin      bool
	Now        time.Time
}

func (s *Server) consoleMerchantView(c echo.Context, id string) (*view, error) {
	ctx := c.Request().Context()
	m, err := s.Merchants.Merchant(ctx, id)
	if err != nil {
		return nil, err
	}
	d := &consoleMerchantData{M: m, V: m.View(), Channels: merchant.Channels, Kinds: merchant.DocumentKinds,
		Roles: merchantRoles, Can: map[string]bool{}, Now: s.Clock.Now()}
	d.MCC, _ = merchant.LookupMCC(m.MCC)
	op := operatorOf(c)
	d.Admin = op != nil && op.Role == merchant.RoleAdmin
	for _, a := range []string{"approve", "reject", "freeze", "unfreeze", "close", "submit"} {
		d.Can[a] = merchant.CanMove(a, m.Status)
	}
	if d.History, err = s.Merchants.StatusHistory(ctx, id); err != nil {
		return nil, err
	}
	if d.FeeHistory, err = s.Merchants.FeeRateHistory(ctx, id); err != nil {
		return nil, err
	}
	if d.Docs, err = s.Merchants.Documents(ctx, id); err != nil {
		return nil, err
	}
	if d.Bindings, err = s.Merchants.Bindings(ctx, id); err != nil {
		return nil, err
	}
	if d.Stores, err = s.Merchants.Stores(ctx, id); err != nil {
		return nil, err
	}
	if d.Terminals, err = s.Merchants.Terminals(ctx, id); err != nil {
		return nil, err
	}
	if d.Stickers, err = s.Merchants.Stickers(ctx, id, ""); err != nil {
		return nil, err
	}
	if d.Keys, err = s.Merchants.APIKeys(ctx, id); err != nil {
		return nil, err
	}
	if d.Users, err = s.Merchants.Users(ctx, id); err != nil {
		return nil, err
	}
	if s.Gateway != nil && s.Gateway.Router != nil {
		for _, a := range s.Gateway.Router.Accounts() {
			d.Accounts = append(d.Accounts, accountChoice{a.ID, a.Channel})
		}
	}
	v := s.newView(c, "console.application", d)
	for _, f := range []string{"uscc", "legal_person_id", "phone", "bank_account", "mcc"} {
		if key, ok := m.Warnings[f]; ok {
			d.Warnings = append(d.Warnings, warning{Field: f, Message: ruleMessage(v.Lang, key, key)})
		}
	}
	if len(d.Docs) == 0 {
		d.Warnings = append(d.Warnings, warning{Field: "documents", Message: v.T("console.documents_none")})
	}
	v.Title = m.ShortName + " · " + v.T("console.application")
	if c.QueryParam("done") != "" {
		v.Flash = v.T("console.done")
	}
	return v, nil
}

func (s *Server) handleConsoleMerchant(c echo.Context) error {
	v, err := s.consoleMerchantView(c, c.Param("id"))
	if err != nil {
		return err
	}
	return s.render(c, http.StatusOK, "console_merchant", v)
}

// handleConsoleAction takes the forms of the merchant's console page. A secret made by the
// action (a PIN, a password, an API secret) is shown on the page it answers with, once; other
// actions redirect back.
func (s *Server) handleConsoleAction(c echo.Context) error {
	ctx := c.Request().Context()
	id := c.Param("id")
	actor := operatorActor(c)
	f := func(k string) string { return strings.TrimSpace(c.FormValue(k)) }
	var shown string
	var err error
	lang := langOf(c)
	switch action := pageAction(c); action {
	case "approve", "reject", "freeze", "unfreeze", "close", "submit":
		_, err = s.Merchants.Move(ctx, actor, id, action, f("reason"))
	case "fee_rates":
		rates := map[string]int{}
		for _, ch := range merchant.Channels {
			if v := f("rate_" + ch); v != "" {
				n, perr := strconv.Atoi(v)
				if perr != nil {
					err = qrpay.Invalid("fee_rates", "A fee rate is a whole number of basis points.")
					break
				}
				rates[ch] = n
			}
		}
		if err == nil {
			_, err = s.Merchants.SetFeeRates(ctx, actor, id, rates)
		}
	case "binding":
		w := atoiDefault(f("weight"), 1)
		in := merchant.BindingInput{Channel: f("channel"), AccountID: f("account_id"), SubMerchantID: f("sub_merchant_id"),
			Weight: &w, Status: f("status")}
		if in.Channel == "" {
			if acc, ok := s.Gateway.Router.Account(in.AccountID); ok {
				in.Channel = acc.Channel
			}
		}
		if err = s.checkAccount(in); err == nil {
			_, err = s.Merchants.SetBinding(ctx, actor, id, in)
		}
	case "store":
		_, err = s.Merchants.CreateStore(ctx, actor, id, f("name"), f("city"), f("address"))
	case "store_disable", "store_enable":
		_, err = s.Merchants.SetStoreStatus(ctx, actor, id, f("store_id"), enableStatus(action))
	case "terminal":
		var pin string
		if pin, err = merchant.RandomPIN(); err == nil {
			var t *merchant.Terminal
			if t, err = s.Merchants.CreateTerminal(ctx, actor, id, f("store_id"), f("name"), pin); err == nil {
				shown = translate(lang, "console.pin_shown", t.Code, pin)
			}
		}
	case "terminal_disable", "terminal_enable":
		_, err = s.Merchants.SetTerminalStatus(ctx, actor, id, f("terminal_id"), enableStatus(action))
	case "reset_pin":
		var pin string
		if pin, err = s.Merchants.ResetTerminalPIN(ctx, actor, id, f("terminal_id"), ""); err == nil {
			shown = translate(lang, "console.pin_shown", f("terminal_id"), pin)
		}
	case "stickers":
		_, err = s.Merchants.CreateStickers(ctx, actor, id, f("store_id"), atoiDefault(f("count"), 0), f("label"))
	case "sticker_revoke":
		_, err = s.Merchants.RevokeSticker(ctx, actor, id, f("sticker_id"))
	case "api_key":
		var k *merchant.APIKey
		if k, err = s.Merchants.CreateAPIKey(ctx, actor, id, f("mode")); err == nil {
			shown = translate(lang, "console.secret_shown", k.ID, k.Secret)
		}
	case "key_rotate":
		var k *merchant.APIKey
		if k, _, err = s.Merchants.RotateAPIKey(ctx, actor, id, f("key_id"), 0); err == nil {
			shown = translate(lang, "console.secret_shown", k.ID, k.Secret)
		}
	case "key_revoke":
		_, err = s.Merchants.RevokeAPIKey(ctx, actor, id, f("key_id"))
	case "user":
		pw := merchant.RandomPassword()
		var u *merchant.User
		if !merchantRole(f("role")) {
			err = qrpay.Invalid("role", "A merchant user's role is owner, counter or readonly.")
		} else if u, err = s.Merchants.CreateUser(ctx, actor, merchant.NewUser{MerchantID: id, Login: f("login"),
			DisplayName: f("display_name"), Password: pw, Role: f("role"), MustChangePassword: true}); err == nil {
			shown = translate(lang, "console.password_shown", u.Login, pw)
		}
	case "reset_password":
		var u *merchant.User
		if u, err = s.Merchants.User(ctx, id, f("user_id")); err == nil {
			pw := merchant.RandomPassword()
			if err = s.Merchants.ResetPassword(ctx, actor, u.ID, pw); err == nil {
				shown = translate(lang, "console.password_shown", u.Login, pw)
			}
		}
	case "user_disable", "user_enable":
		_, err = s.Merchants.SetUserStatus(ctx, actor, id, f("user_id"), enableStatus(action))
	case "document":
		var data []byte
		if data, err = formFile(c, "file"); err == nil {
			_, err = s.Merchants.AddDocument(ctx, actor, id, merchant.Upload{Kind: f("kind"), Data: data})
		}
	default:
		return qrpay.NotFound("action")
	}
	if err != nil {
		if !isUserError(err) {
			return err
		}
		v, verr := s.consoleMerchantView(c, id)
		if verr != nil {
			return verr
		}
		v.Error = userMessage(lang, err)
		return s.render(c, StatusOf(err), "console_merchant", v)
	}
	if shown != "" {
		v, err := s.consoleMerchantView(c, id)
		if err != nil {
			return err
		}
		v.Flash = shown
		return s.render(c, http.StatusOK, "console_merchant", v)
	}
	return c.Redirect(http.StatusSeeOther, "/console/merchants/"+id+"?done=1")
}

// enableStatus is the status an "x_enable" or "x_disable" action sets.
func enableStatus(action string) string {
	if strings.HasSuffix(action, "_enable") {
		return "active"
	}
	return "disabled"
}

// isUserError reports whether an error is the person's to fix (shown on the page), not ours.
func isUserError(err error) bool {
	switch qrpay.ErrorCode(err) {
	case qrpay.EINVALID, qrpay.ECONFLICT, qrpay.EINVALIDSTATE, qrpay.EFORBIDDEN, qrpay.ENOTFOUND, qrpay.ELIMITEXCEEDED:
		return true
	}
	return false
}

// userMessage is a user error's message in the page's language when a rule says it.
func userMessage(lang string, err error) string {
	msg := ruleMessage(lang, merchant.MessageKey(err), qrpay.ErrorMessage(err))
	if p := qrpay.ErrorParam(err); p != "" && merchant.MessageKey(err) == "" {
		msg += " (" + p + ")"
	}
	return msg
}

func (s *Server) handleConsoleDocument(c echo.Context) error {
	return s.serveDocument(c, c.Param("id"), c.Param("doc"))
}

func (s *Server) handleConsoleStickerImage(c echo.Context) error {
	return s.serveStickerImage(c, c.Param("id"), c.Param("sticker"))
}

func (s *Server) handleConsoleStickerSheet(c echo.Context) error {
	return s.serveStickerSheet(c, c.Param("id"), c.QueryParam("batch_id"))
}

// consoleAuditData is the audit log page: its filters, entries and cursor.
type consoleAuditData struct {
	F       merchant.AuditFilter
	Entries []*merchant.AuditEntry
	Next    string
	Paged   bool
}

func (s *Server) handleConsoleAudit(c echo.Context) error {
	f, err := auditFilter(c)
	if err != nil {
		return err
	}
	f.Limit = 50
	es, more, err := s.Merchants.Audit(c.Request().Context(), f)
	if err != nil {
		return err
	}
	d := consoleAuditData{F: f, Entries: es, Paged: f.StartingAfter != ""}
	if more && len(es) > 0 {
		v := url.Values{}
		for k, val := range map[string]string{"merchant_id": f.MerchantID, "actor_id": f.ActorID, "action": f.Action,
			"object_id": f.ObjectID, "object_type": f.ObjectType} {
			if val != "" {
				v.Set(k, val)
			}
		}
		v.Set("starting_after", es[len(es)-1].ID)
		d.Next = "/console/audit?" + v.Encode()
	}
	return s.render(c, http.StatusOK, "console_audit", s.newView(c, "console.audit", d))
}
