package web

import (
	"fmt"
	"strings"
	"sync"

	"github.com/labstack/echo/v4"
)

// Languages the pages speak: Simplified Chinese first, English on request.
const (
	LangZH = "zh-CN"
	LangEN = "en"
)

// catalog holds every page string by key: [Chinese, English]. Features add their strings with
// addMessages from their own files, so that templates never hold text.
var (
	catalogMu sync.RWMutex
	catalog   = map[string][2]string{}
)

// addMessages adds strings to the catalog; a key added twice is a programming error.
func addMessages(m map[string][2]string) {
	catalogMu.Lock()
	defer catalogMu.Unlock()
	for k, v := range m {
		if _, dup := catalog[k]; dup {
			panic("web: message " + k + " defined twice")
		}
		catalog[k] = v
	}
}

// translate returns the string for key in lang, formatted with args. A missing key shows
// itself, so that a test can find it.
func translate(lang, key string, args ...any) string {
	catalogMu.RLock()
	v, ok := catalog[key]
	catalogMu.RUnlock()
	if !ok {
		return key
	}
	s := v[0]
	if lang == LangEN {
		s = v[1]
	}
	if len(args) > 0 {
		return fmt.Sprintf(s, args...)
	}
	return s
}

// langOf picks the page language: the "lang" cookie set by the switch, then Accept-Language,
// then Chinese.
func langOf(c echo.Context) string {
	if ck, err := c.Cookie("lang"); err == nil {
		if ck.Value == LangEN {
			return LangEN
		}
		if ck.Value == LangZH {
			return LangZH
		}
	}
	for _, part := range strings.Split(c.Request().Header.Get("Accept-Language"), ",") {
		tag := strings.ToLower(strings.TrimSpace(strings.SplitN(part, ";", 2)[0]))
		switch {
		case strings.HasPrefix(tag, "zh"):
			return LangZH
		case strings.HasPrefix(tag, "en"):
			return LangEN
		}
	}
	return LangZH
}

func init() {
	addMessages(map[string][2]string{
		"app.name":          {"qrpay 聚合收款", "qrpay"},
		"nav.dashboard":     {"概览", "Dashboard"},
		"nav.payments":      {"交易", "Payments"},
		"nav.settlements":   {"结算", "Settlements"},
		"nav.stickers":      {"码牌", "Stickers"},
		"nav.developers":    {"开发者", "Developers"},
		"nav.settings":      {"设置", "Settings"},
		"nav.console":       {"运营后台", "Console"},
		"nav.merchants":     {"商户", "Merchants"},
		"nav.audit":         {"审计日志", "Audit log"},
		"nav.counter":       {"收银台", "Counter"},
		"nav.logout":        {"退出", "Log out"},
		"nav.login":         {"登录", "Log in"},
		"nav.lang_other":    {"English", "中文"},
		"login.title":       {"登录", "Log in"},
		"login.login":       {"账号", "Login"},
		"login.password":    {"密码", "Password"},
		"login.submit":      {"登录", "Log in"},
		"login.bad":         {"账号或密码错误。", "Wrong login or password."},
		"login.locked":      {"登录失败次数过多，账号已暂时锁定，请稍后再试。", "Too many failed logins: the account is locked for a while."},
		"login.throttled":   {"尝试过于频繁，请稍后再试。", "Too many attempts; wait a minute."},
		"login.totp_title":  {"两步验证", "Two-step verification"},
		"login.totp_code":   {"验证器中的 6 位数字", "The 6-digit code from your authenticator"},
		"login.totp_bad":    {"验证码不正确。", "The code does not match."},
		"login.expired":     {"登录已过期，请重新登录。", "Your session has expired; log in again."},
		"login.counter":     {"收银台登录请用终端号和 PIN", "Counters log in with a terminal code and PIN"},
		"dash.title":        {"概览", "Dashboard"},
		"dash.latest":       {"最近交易", "Latest payments"},
		"dash.none":         {"还没有交易。", "No payments yet."},
		"dash.today":        {"今日收款", "Today's takings"},
		"dash.today_count":  {"今日笔数", "Payments today"},
		"col.time":          {"时间", "Time"},
		"col.order":         {"商户订单号", "Order no."},
		"col.amount":        {"金额", "Amount"},
		"col.status":        {"状态", "Status"},
		"col.channel":       {"渠道", "Channel"},
		"col.scene":         {"方式", "Scene"},
		"col.id":            {"交易号", "Payment"},
		"status.created":    {"待支付", "Awaiting payment"},
		"status.pending":    {"支付中", "Paying"},
		"status.succeeded":  {"已支付", "Paid"},
		"status.failed":     {"支付失败", "Failed"},
		"status.closed":     {"已关闭", "Closed"},
		"status.expired":    {"已过期", "Expired"},
		"channel.alipay":    {"支付宝", "Alipay"},
		"channel.wechat":    {"微信支付", "WeChat Pay"},
		"channel.unionpay":  {"云闪付", "UnionPay"},
		"channel.mockpay":   {"模拟渠道", "Mock provider"},
		"scene.qr":          {"动态码", "Dynamic code"},
		"scene.code":        {"付款码", "Payment code"},
		"scene.sticker":     {"码牌", "Sticker"},
		"error.title":       {"出错了", "Something went wrong"},
		"error.back":        {"返回首页", "Back to the start"},
		"error.404":         {"页面不存在。", "No such page."},
		"error.403":         {"没有权限。", "You may not do this."},
		"error.500":         {"服务器出错，已记录。请稍后再试。", "Server error; it has been logged. Try again later."},
		"error.csrf":        {"页面已过期，请刷新后重试。", "The page expired; reload it and try again."},
		"wallet.title":      {"模拟钱包", "Mock wallet"},
		"wallet.intro":      {"用这个模拟钱包扫码付款：粘贴二维码内容，或上传二维码的照片或截图。", "Pay with this simulated wallet: paste a code's text, or upload a photo or screenshot of it."},
		"wallet.qr":         {"二维码内容", "Code text"},
		"wallet.image":      {"或上传图片", "Or upload an image"},
		"wallet.payer":      {"付款人", "Payer"},
		"wallet.amount":     {"金额（元，码牌需要）", "Amount (yuan, for stickers)"},
		"wallet.app":        {"钱包", "Wallet"},
		"wallet.pay":        {"付款", "Pay"},
		"wallet.paid":       {"付款成功", "Paid"},
		"wallet.declined":   {"付款被拒绝", "Declined"},
		"wallet.pending":    {"等待确认", "Waiting for confirmation"},
		"wallet.code_title": {"付款码", "Payment code"},
		"wallet.code_show":  {"出示付款码", "Show a payment code"},
		"wallet.code_help":  {"收银员扫描或输入这串数字即可收款；每个付款码只能用一次。", "The cashier scans or types these digits; each code works once."},
		"wallet.behaviours": {"金额的最后两位（分）决定模拟结果：01 拒绝，02 约 10 秒输密码后成功，03 渠道无应答，04 回调两次，05 关单后迟到成功，06 退款失败，07 首次请求 5xx。不足 1 元的金额总是成功。", "The amount's last two digits (fen) choose the outcome: 01 declined, 02 about 10 s of password then paid, 03 no answer, 04 callback twice, 05 success after the close, 06 refunds fail, 07 5xx on the first try. Amounts under ¥1 always pay."},
		"confirm.title":     {"确认付款", "Confirm payment"},
		"confirm.to":        {"付款给", "Pay to"},
		"confirm.pay":       {"确认付款", "Pay now"},
		"confirm.gone":      {"该付款码已失效。", "This code is no longer valid."},
		"demo.title":        {"演示商户收到的通知", "Webhooks received by the demo merchant"},
		"demo.none":         {"还没有收到通知。", "Nothing received yet."},
		"demo.verified":     {"签名有效", "Signature verified"},
		"demo.unverified":   {"签名无效", "Signature does not verify"},
	})
}
