package web

import (
	"encoding/base64"
	"html/template"
	"net/http"
	"net/url"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/qrpay/qrpay"
	"github.com/qrpay/qrpay/merchant"
	"github.com/qrpay/qrpay/qr"
)

// The merchant's own pages: stickers, developers (API keys, webhook endpoints) and settings
// (password, two-factor authentication, users). Everything is scoped to the session's
// merchant: another merchant's objects are not found.

// pageMerchant is the merchant of the session's user.
func pageMerchant(c echo.Context) string {
	if sess := sessionOf(c); sess != nil && sess.User != nil {
		return sess.User.MerchantID
	}
	return ""
}

// stickerRow is a sticker with its URL, for the stickers page.
type stickerRow struct {
	*merchant.Sticker
	URL string
}

type stickersData struct {
	Stores    []*merchant.Store
	Terminals []*merchant.Terminal
	Stickers  []stickerRow
	Batches   []string
	Owner     bool
}

func (s *Server) stickersView(c echo.Context) (*view, error) {
	ctx := c.Request().Context()
	mid := pageMerchant(c)
	d := &stickersData{}
	var err error
	if d.Stores, err = s.Merchants.Stores(ctx, mid); err != nil {
		return nil, err
	}
	if d.Terminals, err = s.Merchants.Terminals(ctx, mid); err != nil {
		return nil, err
	}
	sts, err := s.Merchants.Stickers(ctx, mid, "")
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	for i := len(sts) - 1; i >= 0; i-- {
		st := sts[i]
		u, err := s.Merchants.StickerURL(ctx, s.PublicURL, st.ID)
		if err != nil {
			return nil, err
		}
		d.Stickers = append(d.Stickers, stickerRow{st, u})
		if !seen[st.BatchID] {
			seen[st.BatchID] = true
			d.Batches = append(d.Batches, st.BatchID)
		}
	}
	v := s.newView(c, "stickers.title", d)
	d.Owner = v.IsOwner()
	if c.QueryParam("done") != "" {
		v.Flash = v.T("console.done")
	}
	return v, nil
}

func (s *Server) handleStickersPage(c echo.Context) error {
	v, err := s.stickersView(c)
	if err != nil {
		return err
	}
	return s.render(c, http.StatusOK, "stickers", v)
}

func (s *Server) handleStickersAction(c echo.Context) error {
	ctx := c.Request().Context()
	mid := pageMerchant(c)
	actor := userActor(c)
	f := func(k string) string { return strings.TrimSpace(c.FormValue(k)) }
	var err error
	switch pageAction(c) {
	case "create":
		_, err = s.Merchants.CreateStickers(ctx, actor, mid, f("store_id"), atoiDefault(f("count"), 0), f("label"))
	case "revoke":
		_, err = s.Merchants.RevokeSticker(ctx, actor, mid, f("sticker_id"))
	case "bind":
		_, err = s.Merchants.BindSticker(ctx, actor, mid, f("sticker_id"), f("store_id"), f("terminal_id"))
	case "unbind":
		_, err = s.Merchants.BindSticker(ctx, actor, mid, f("sticker_id"), "", "")
	default:
		return qrpay.NotFound("action")
	}
	if err != nil {
		if !isUserError(err) {
			return err
		}
		v, verr := s.stickersView(c)
		if verr != nil {
			return verr
		}
		v.Error = userMessage(v.Lang, err)
		return s.render(c, StatusOf(err), "stickers", v)
	}
	return c.Redirect(http.StatusSeeOther, "/stickers?done=1")
}

func (s *Server) handleStickerImage(c echo.Context) error {
	return s.serveStickerImage(c, pageMerchant(c), c.Param("sticker"))
}

func (s *Server) handleStickerSheet(c echo.Context) error {
	return s.serveStickerSheet(c, pageMerchant(c), c.QueryParam("batch_id"))
}

type developersData struct {
	Keys      []*merchant.APIKey
	Endpoints []*merchant.WebhookEndpoint
	Merchant  string
}

func (s *Server) developersView(c echo.Context) (*view, error) {
	ctx := c.Request().Context()
	mid := pageMerchant(c)
	d := &developersData{Merchant: mid}
	var err error
	if d.Keys, err = s.Merchants.APIKeys(ctx, mid); err != nil {
		return nil, err
	}
	if d.Endpoints, err = s.Merchants.Endpoints(ctx, mid); err != nil {
		return nil, err
	}
	v := s.newView(c, "dev.title", d)
	if c.QueryParam("done") != "" {
		v.Flash = v.T("console.done")
	}
	return v, nil
}

func (s *Server) handleDevelopersPage(c echo.Context) error {
	v, err := s.developersView(c)
	if err != nil {
		return err
	}
	return s.render(c, http.StatusOK, "developers", v)
}

// handleDevelopersAction creates, rotates and revokes API keys and adds and removes webhook
// endpoints; a new secret is shown on the answering page, once.
func (s *Server) handleDevelopersAction(c echo.Context) error {
	ctx := c.Request().Context()
	mid := pageMerchant(c)
	actor := userActor(c)
	lang := langOf(c)
	f := func(k string) string { return strings.TrimSpace(c.FormValue(k)) }
	var shown string
	var err error
	switch pageAction(c) {
	case "key":
		var k *merchant.APIKey
		if k, err = s.Merchants.CreateAPIKey(ctx, actor, mid, f("mode")); err == nil {
			shown = translate(lang, "console.secret_shown", k.ID, k.Secret)
		}
	case "key_rotate":
		var k *merchant.APIKey
		if k, _, err = s.Merchants.RotateAPIKey(ctx, actor, mid, f("key_id"), 0); err == nil {
			shown = translate(lang, "console.secret_shown", k.ID, k.Secret)
		}
	case "key_revoke":
		_, err = s.Merchants.RevokeAPIKey(ctx, actor, mid, f("key_id"))
	case "endpoint":
		var e *merchant.WebhookEndpoint
		if e, err = s.Merchants.CreateEndpoint(ctx, actor, mid, f("url")); err == nil {
			shown = translate(lang, "dev.endpoint_secret", e.URL, e.Secret)
		}
	case "endpoint_rotate":
		var e *merchant.WebhookEndpoint
		if e, err = s.Merchants.RotateEndpointSecret(ctx, actor, mid, f("endpoint_id"), 0); err == nil {
			shown = translate(lang, "dev.endpoint_rotated", e.URL, e.Secret)
		}
	case "endpoint_delete":
		_, err = s.Merchants.DeleteEndpoint(ctx, actor, mid, f("endpoint_id"))
	default:
		return qrpay.NotFound("action")
	}
	if err != nil && !isUserError(err) {
		return err
	}
	if err != nil || shown != "" {
		v, verr := s.developersView(c)
		if verr != nil {
			return verr
		}
		status := http.StatusOK
		if err != nil {
			v.Error, status = userMessage(lang, err), StatusOf(err)
		} else {
			v.Flash = shown
		}
		return s.render(c, status, "developers", v)
	}
	return c.Redirect(http.StatusSeeOther, "/developers?done=1")
}

// settingsData is the settings page: the user, two-factor set-up, and the merchant's users.
type settingsData struct {
	Users      []*merchant.User
	TOTPImage  template.URL
	TOTPSecret string
	CanTOTP    bool
	Roles      []string
}

func (s *Server) settingsView(c echo.Context) (*view, error) {
	sess := sessionOf(c)
	d := &settingsData{Roles: []string{merchant.RoleCounter, merchant.RoleReadOnly}}
	u := sess.User
	d.CanTOTP = u.Role == merchant.RoleOwner || u.IsOperator()
	if u.Role == merchant.RoleOwner {
		var err error
		if d.Users, err = s.Merchants.Users(c.Request().Context(), u.MerchantID); err != nil {
			return nil, err
		}
	}
	v := s.newView(c, "settings.title", d)
	if c.QueryParam("done") != "" {
		v.Flash = v.T("console.done")
	}
	return v, nil
}

func (s *Server) handleSettingsPage(c echo.Context) error {
	v, err := s.settingsView(c)
	if err != nil {
		return err
	}
	return s.render(c, http.StatusOK, "settings", v)
}

// handleSettingsAction starts and confirms two-factor authentication and lets an owner add,
// disable and enable the merchant's staff.
func (s *Server) handleSettingsAction(c echo.Context) error {
	ctx := c.Request().Context()
	sess := sessionOf(c)
	u := sess.User
	actor := userActor(c)
	lang := langOf(c)
	f := func(k string) string { return strings.TrimSpace(c.FormValue(k)) }
	v, err := s.settingsView(c)
	if err != nil {
		return err
	}
	d := v.Data.(*settingsData)
	switch pageAction(c) {
	case "totp_begin":
		var otpURL string
		if otpURL, err = s.Merchants.BeginTOTP(ctx, actor, u.ID); err == nil {
			png, _, rerr := qr.Render(otpURL, qr.RenderOptions{Size: 240})
			if rerr != nil {
				return rerr
			}
			d.TOTPImage = template.URL("data:image/png;base64," + base64.StdEncoding.EncodeToString(png))
			if parsed, perr := url.Parse(otpURL); perr == nil {
				d.TOTPSecret = parsed.Query().Get("secret")
			}
			return s.render(c, http.StatusOK, "settings", v)
		}
	case "totp_enable":
		if err = s.Merchants.EnableTOTP(ctx, actor, u.ID, f("code")); err == nil {
			return c.Redirect(http.StatusSeeOther, "/settings?done=1")
		}
	case "user":
		pw := merchant.RandomPassword()
		var nu *merchant.User
		role := f("role")
		if role != merchant.RoleCounter && role != merchant.RoleReadOnly {
			err = qrpay.Invalid("role", "Staff are counter or readonly users.")
		} else if nu, err = s.Merchants.CreateUser(ctx, actor, merchant.NewUser{MerchantID: u.MerchantID, Login: f("login"),
			DisplayName: f("display_name"), Password: pw, Role: role, MustChangePassword: true}); err == nil {
			if d.Users, err = s.Merchants.Users(ctx, u.MerchantID); err != nil {
				return err
			}
			v.Flash = translate(lang, "console.password_shown", nu.Login, pw)
			return s.render(c, http.StatusOK, "settings", v)
		}
	case "user_disable", "user_enable":
		if _, err = s.Merchants.SetUserStatus(ctx, actor, u.MerchantID, f("user_id"), enableStatus(pageAction(c))); err == nil {
			return c.Redirect(http.StatusSeeOther, "/settings?done=1")
		}
	default:
		return qrpay.NotFound("action")
	}
	if !isUserError(err) {
		return err
	}
	v.Error = userMessage(lang, err)
	return s.render(c, StatusOf(err), "settings", v)
}

func (s *Server) handlePasswordPage(c echo.Context) error {
	return s.render(c, http.StatusOK, "settings_password", s.newView(c, "settings.password_title", nil))
}

// handlePassword changes the user's own password (and so lifts must-change-password).
func (s *Server) handlePassword(c echo.Context) error {
	sess := sessionOf(c)
	v := s.newView(c, "settings.password_title", nil)
	old, pw, again := c.FormValue("old_password"), c.FormValue("password"), c.FormValue("password_again")
	if pw != again {
		v.Errors = map[string]string{"password_again": v.T("settings.mismatch")}
		return s.render(c, http.StatusBadRequest, "settings_password", v)
	}
	ctx := qrpay.WithRemoteAddr(c.Request().Context(), c.RealIP())
	if err := s.Merchants.ChangePassword(ctx, sess.User.ID, old, pw); err != nil {
		errs, ferr := formErrors(v.Lang, err)
		if ferr != nil {
			return ferr
		}
		if _, ok := errs["old_password"]; ok {
			errs["old_password"] = v.T("settings.old_wrong")
		}
		v.Errors = errs
		return s.render(c, http.StatusBadRequest, "settings_password", v)
	}
	if sess.User.IsOperator() {
		return c.Redirect(http.StatusSeeOther, "/console")
	}
	return c.Redirect(http.StatusSeeOther, "/dashboard")
}

func init() {
	addMessages(map[string][2]string{
		"stickers.title":           {"码牌", "Stickers"},
		"stickers.intro":           {"码牌是贴在店里的静态收款码，顾客用支付宝、微信或云闪付扫码后输入金额付款。", "A sticker is a printed static code: customers scan it with Alipay, WeChat Pay or UnionPay and enter the amount."},
		"stickers.create":          {"制作一批码牌", "Make a batch of stickers"},
		"stickers.store":           {"门店", "Store"},
		"stickers.terminal":        {"收银台（可选）", "Terminal (optional)"},
		"stickers.none":            {"还没有码牌。", "No stickers yet."},
		"stickers.batch":           {"批次", "Batch"},
		"stickers.print":           {"打印 A4（PDF）", "Print on A4 (PDF)"},
		"stickers.png":             {"PNG", "PNG"},
		"stickers.svg":             {"SVG", "SVG"},
		"stickers.revoke":          {"作废", "Revoke"},
		"stickers.confirm_revoke":  {"作废后该码牌无法再收款，确定吗？", "A revoked sticker takes no more payments. Revoke?"},
		"stickers.bind":            {"绑定", "Bind"},
		"stickers.unbind":          {"解绑", "Unbind"},
		"stickers.status.active":   {"使用中", "Active"},
		"stickers.status.revoked":  {"已作废", "Revoked"},
		"stickers.unbound":         {"未绑定", "Unbound"},
		"stickers.owner_only":      {"只有店主可以制作、绑定和作废码牌。", "Only the owner makes, binds and revokes stickers."},
		"dev.title":                {"开发者", "Developers"},
		"dev.keys":                 {"API 密钥", "API keys"},
		"dev.keys_intro":           {"测试密钥的交易都走模拟渠道；生产密钥走真实渠道。secret 只在创建时显示一次。轮换后旧密钥还能用 24 小时。", "Test keys route every payment to the mock provider; live keys to the real providers. A secret is shown once, when it is made. A rotated key keeps working for 24 hours."},
		"dev.create_key":           {"创建密钥", "Create a key"},
		"dev.rotate":               {"轮换", "Rotate"},
		"dev.revoke":               {"吊销", "Revoke"},
		"dev.confirm_revoke":       {"吊销后使用该密钥的请求会立即失败，确定吗？", "Requests with this key fail at once after it is revoked. Revoke?"},
		"dev.status.active":        {"有效", "Active"},
		"dev.status.revoked":       {"已吊销", "Revoked"},
		"dev.expires_at":           {"有效期至", "Expires"},
		"dev.never":                {"长期", "Never"},
		"dev.none":                 {"还没有密钥。", "No keys yet."},
		"dev.endpoints":            {"通知地址（Webhook）", "Webhook endpoints"},
		"dev.endpoints_intro":      {"交易状态变化时，我们会向这些地址发送签名的通知。", "We send signed events to these URLs when something happens."},
		"dev.url":                  {"URL", "URL"},
		"dev.add_endpoint":         {"添加", "Add"},
		"dev.delete":               {"删除", "Delete"},
		"dev.endpoints_none":       {"还没有通知地址。", "No endpoints yet."},
		"dev.endpoint_secret":      {"%s 的签名密钥：%s（只显示这一次）", "Signing secret of %s: %s (shown only this once)"},
		"dev.endpoint_rotated":     {"%s 的新签名密钥：%s（只显示这一次）。24 小时内通知同时带新旧两个签名，请在此期间换用新密钥。", "New signing secret of %s: %s (shown only this once). For 24 hours events carry a signature with the old secret and one with the new: switch your receiver within that time."},
		"dev.previous_until":       {"旧密钥签名至", "Old secret signs until"},
		"settings.title":           {"设置", "Settings"},
		"settings.account":         {"我的账号", "My account"},
		"settings.change_password": {"修改密码", "Change the password"},
		"settings.password_title":  {"修改密码", "Change your password"},
		"settings.must_change":     {"请先设置您自己的密码。", "Please choose your own password first."},
		"settings.old_password":    {"当前密码", "Current password"},
		"settings.new_password":    {"新密码（至少 10 位，包含两类字符）", "New password (10 characters or more, two kinds of character)"},
		"settings.password_again":  {"再输入一次新密码", "The new password again"},
		"settings.mismatch":        {"两次输入的新密码不一致。", "The two new passwords differ."},
		"settings.old_wrong":       {"当前密码不正确。", "The current password is wrong."},
		"settings.save_password":   {"保存密码", "Save the password"},
		"settings.totp":            {"两步验证", "Two-step verification"},
		"settings.totp_on":         {"已开启：登录时需要输入验证器里的 6 位数字。", "On: logging in asks for the 6-digit code of your authenticator."},
		"settings.totp_off":        {"未开启。开启后登录时还需输入验证器（如 Google Authenticator）里的 6 位数字。", "Off. When on, logging in also asks for the 6-digit code of an authenticator app."},
		"settings.totp_begin":      {"开启两步验证", "Turn on two-step verification"},
		"settings.totp_scan":       {"用验证器扫描这个二维码，或手动输入密钥，然后填写验证器显示的 6 位数字：", "Scan this code with your authenticator, or type the key, then enter the 6 digits it shows:"},
		"settings.totp_code":       {"6 位验证码", "6-digit code"},
		"settings.totp_enable":     {"确认开启", "Turn it on"},
		"settings.users":           {"店员", "Staff"},
		"settings.add_user":        {"添加店员", "Add a staff member"},
		"settings.you":             {"（您）", "(you)"},
	})
}
