package web

import (
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/qrpay/qrpay"
	"github.com/qrpay/qrpay/merchant"
)

// registerConsoleRoutes lists the operator console, the public application form and the
// merchant's settings pages.
func (s *Server) registerConsoleRoutes(pages *echo.Group) {
	// The public application form: anonymous, CSRF by double-submit cookie (checkCSRF).
	pages.GET("/apply", s.handleApplyPage)
	pages.POST("/apply", s.handleApply)
	pages.GET("/apply/status/:token", s.handleApplyStatus)

	op := s.requireUser(operatorRoles...)
	gate := s.passwordGate
	pages.GET("/console", s.handleConsoleHome, op, gate)
	pages.GET("/console/merchants", s.handleConsoleMerchants, op, gate)
	pages.GET("/console/merchants/new", s.handleConsoleNewPage, op, gate)
	pages.POST("/console/merchants/new", s.handleConsoleNew, op, gate)
	pages.GET("/console/merchants/:id", s.handleConsoleMerchant, op, gate)
	pages.POST("/console/merchants/:id/:action", s.handleConsoleAction, op, gate)
	pages.GET("/console/merchants/:id/documents/:doc", s.handleConsoleDocument, op, gate)
	pages.GET("/console/merchants/:id/stickers/:sticker/image", s.handleConsoleStickerImage, op, gate)
	pages.GET("/console/merchants/:id/stickers.pdf", s.handleConsoleStickerSheet, op, gate)
	pages.GET("/console/audit", s.handleConsoleAudit, op, gate)

	mu := s.requireUser(merchantRoles...)
	pages.GET("/stickers", s.handleStickersPage, mu, gate)
	pages.POST("/stickers/:action", s.handleStickersAction, mu, gate)
	pages.GET("/stickers/:sticker/image", s.handleStickerImage, mu, gate)
	pages.GET("/stickers/sheet.pdf", s.handleStickerSheet, mu, gate)
	owner := s.requireUser(merchant.RoleOwner)
	pages.GET("/developers", s.handleDevelopersPage, owner, gate)
	pages.POST("/developers/:action", s.handleDevelopersAction, owner, gate)

	user := s.requireUser()
	pages.GET("/settings", s.handleSettingsPage, user, gate)
	pages.GET("/settings/password", s.handlePasswordPage, user)
	pages.POST("/settings/password", s.handlePassword, user)
	pages.POST("/settings/:action", s.handleSettingsAction, user, gate)
}

// passwordGate sends a user whose password was handed over by an operator to choose their own
// before anything else.
func (s *Server) passwordGate(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if sess := sessionOf(c); sess != nil && sess.User != nil && sess.User.MustChangePassword {
			return c.Redirect(http.StatusSeeOther, "/settings/password")
		}
		return next(c)
	}
}

// MustChangePasswordGate is passwordGate for other features' pages (the dashboard): a user who
// must choose a new password goes to /settings/password first.
func (s *Server) MustChangePasswordGate(next echo.HandlerFunc) echo.HandlerFunc {
	return s.passwordGate(next)
}

// formErrors turns a validation error into translated messages by field, for a form to show
// next to each field; anything else is returned as it is.
func formErrors(lang string, err error) (map[string]string, error) {
	if !qrpay.IsCode(err, qrpay.EINVALID) {
		return nil, err
	}
	out := map[string]string{}
	var p *merchant.Problems
	if asProblems(err, &p) {
		for field, key := range p.Keys() {
			out[field] = ruleMessage(lang, key, p.Fields()[field])
		}
		return out, nil
	}
	field := qrpay.ErrorParam(err)
	if field == "" {
		field = "form"
	}
	out[field] = ruleMessage(lang, merchant.MessageKey(err), qrpay.ErrorMessage(err))
	return out, nil
}

// ruleMessage translates a merchant rule's key, falling back to its English message.
func ruleMessage(lang, key, english string) string {
	if key != "" {
		if msg := translate(lang, "apply.err."+key); msg != "apply.err."+key {
			return msg
		}
	}
	return english
}

// pageAction reads the action of a POST /x/:action page route, refusing names with odd
// characters.
func pageAction(c echo.Context) string {
	a := c.Param("action")
	if strings.Trim(a, "abcdefghijklmnopqrstuvwxyz_") != "" {
		return ""
	}
	return a
}

func init() {
	addMessages(map[string][2]string{
		// The application's rules (merchant.FieldRules), by "apply.err." + key.
		"apply.err.uscc.length":             {"统一社会信用代码应为 18 位。", "The unified social credit code must be 18 characters long."},
		"apply.err.uscc.charset":            {"统一社会信用代码只能包含数字和大写字母（不含 I、O、S、V、Z）。", "The unified social credit code may contain only digits and the capital letters A-H, J-N, P-R, T, U, W, X and Y."},
		"apply.err.uscc.authority":          {"统一社会信用代码第 1 位不是有效的登记管理部门代码。", "The first character of the unified social credit code is not a known registration authority."},
		"apply.err.uscc.entity_type":        {"统一社会信用代码第 2 位不是该登记管理部门的机构类别。", "The second character of the unified social credit code is not an entity type of its registration authority."},
		"apply.err.uscc.region":             {"统一社会信用代码第 3–8 位不是行政区划代码。", "Characters 3 to 8 of the unified social credit code are not an administrative division code."},
		"apply.err.uscc.org_code":           {"统一社会信用代码中的组织机构代码（第 9–17 位）有误：校验位不符。", "The organization code in the unified social credit code (characters 9 to 17) is mistyped: its check character does not match."},
		"apply.err.uscc.check":              {"统一社会信用代码有误：最后一位校验码不符。", "The unified social credit code is mistyped: its last character does not match."},
		"apply.err.uscc.open_application":   {"该统一社会信用代码已有一份申请正在审核中。", "An application for this unified social credit code is already under review."},
		"apply.err.uscc.existing_merchant":  {"已有商户使用该统一社会信用代码：请确认是同一企业的新业务。", "Another merchant already has this unified social credit code: check that this is a new business line of the same company."},
		"apply.err.resident_id.length":      {"身份证号应为 18 位（旧证 15 位）。", "The ID number must be 18 characters long (or 15 digits for an old card)."},
		"apply.err.resident_id.charset":     {"身份证号只能包含数字，最后一位可以是 X。", "The ID number may contain only digits, and X as its last character."},
		"apply.err.resident_id.region":      {"身份证号开头不是有效的地区代码。", "The ID number does not start with a known region code."},
		"apply.err.resident_id.birth_date":  {"身份证号中的出生日期（第 7–14 位）不是有效日期。", "The birth date in the ID number (characters 7 to 14) is not a real date."},
		"apply.err.resident_id.birth_range": {"身份证号中的出生日期晚于今天或早于 1900 年。", "The birth date in the ID number is in the future or before 1900."},
		"apply.err.resident_id.check":       {"身份证号有误：最后一位校验码不符。", "The ID number is mistyped: its last character does not match."},
		"apply.err.phone.format":            {"手机号应为 11 位数字，可带 +86。", "The mobile number must be 11 digits, optionally after +86."},
		"apply.err.phone.prefix":            {"手机号应以 13–19 开头。", "The mobile number must start with 13 to 19."},
		"apply.err.bank_account.charset":    {"银行账号只能包含数字。", "The bank account number may contain only digits."},
		"apply.err.bank_account.length":     {"银行账号应为 12–30 位数字。", "The bank account number must be 12 to 30 digits long."},
		"apply.err.bank_account.luhn":       {"请核对银行账号：它未通过常见的卡号校验（部分对公账号本就不通过）。", "Please check the bank account number: it fails the usual card check digit, which some accounts legitimately do."},
		"apply.err.mcc.format":              {"商户类别码（MCC）应为 4 位数字。", "The merchant category code must be 4 digits."},
		"apply.err.mcc.unknown":             {"不支持该商户类别码（MCC）。", "The merchant category code is not one that qrpay accepts."},
		"apply.err.legal_name.required":     {"请填写营业执照上的名称。", "The registered business name is required."},
		"apply.err.legal_name.length":       {"商户名称应为 2–100 个字。", "The registered business name must be 2 to 100 characters long."},
		"apply.err.legal_name.characters":   {"商户名称含有控制字符或不可见字符。", "The registered business name contains control or invisible characters."},
		"apply.err.short_name.required":     {"请填写展示给顾客的简称。", "The short name shown to customers is required."},
		"apply.err.short_name.length":       {"商户简称应为 2–20 个字。", "The short name shown to customers must be 2 to 20 characters long."},
		"apply.err.short_name.characters":   {"商户简称含有控制字符或不可见字符。", "The short name shown to customers contains control or invisible characters."},
		"apply.err.person_name.required":    {"请填写法定代表人姓名。", "The legal representative's name is required."},
		"apply.err.person_name.length":      {"法定代表人姓名应为 2–30 个字。", "The legal representative's name must be 2 to 30 characters long."},
		"apply.err.person_name.characters":  {"法定代表人姓名只能包含文字，各部分之间可用间隔号（·）、空格、连字符、撇号或点分隔。", "The legal representative's name may contain only letters, with a middle dot (·), space, hyphen, apostrophe or period between the parts."},
		"apply.err.address.required":        {"请填写经营地址。", "The address is required."},
		"apply.err.address.length":          {"经营地址应为 2–200 个字。", "The address must be 2 to 200 characters long."},
		"apply.err.address.characters":      {"经营地址含有控制字符或不可见字符。", "The address contains control or invisible characters."},
		"apply.err.city.required":           {"请填写城市。", "The city is required."},
		"apply.err.city.length":             {"城市应为 2–50 个字。", "The city must be 2 to 50 characters long."},
		"apply.err.city.characters":         {"城市含有控制字符或不可见字符。", "The city contains control or invisible characters."},
		"apply.err.bank_name.required":      {"请填写开户行。", "The bank name is required."},
		"apply.err.bank_name.length":        {"开户行名称应为 2–100 个字。", "The bank name must be 2 to 100 characters long."},
		"apply.err.bank_name.characters":    {"开户行名称含有控制字符或不可见字符。", "The bank name contains control or invisible characters."},
		"apply.err.password.too_short":      {"密码至少 10 个字符。", "The password must be at least 10 characters long."},
		"apply.err.password.too_long":       {"密码最多 256 个字符。", "The password must be at most 256 characters long."},
		"apply.err.password.one_class":      {"密码需包含小写字母、大写字母、数字、其他字符中的至少两类。", "The password must mix at least two of: lower-case letters, capital letters, digits, and other characters."},
		"apply.err.password.common":         {"该密码过于常见，请换一个。", "This password is too common; please choose another."},
		"apply.err.document.required":       {"请上传营业执照和法定代表人身份证正反面。", "Attach the business licence and both sides of the legal representative's ID card."},
		"apply.err.document.type":           {"文件须为 JPEG、PNG 图片或 PDF。", "A document must be a JPEG or PNG photo, or a PDF."},
		"apply.err.document.size":           {"文件不能超过 5 MB。", "A document must be at most 5 MB."},
		"apply.err.document.empty":          {"文件是空的。", "A document is empty."},
		"apply.title":                       {"商户入网申请", "Apply to take payments"},
		"apply.intro":                       {"填写营业执照和结算信息，上传证件照片。提交后我们会审核，审核结果可在申请状态页查看。", "Fill in your business licence and settlement details and upload the documents. We review every application; follow it on its status page."},
		"apply.section_business":            {"企业信息", "Business"},
		"apply.section_person":              {"法定代表人", "Legal representative"},
		"apply.section_bank":                {"结算账户", "Settlement account"},
		"apply.section_documents":           {"证件照片", "Documents"},
		"apply.legal_name":                  {"营业执照名称", "Registered business name"},
		"apply.short_name":                  {"商户简称（顾客可见）", "Short name (shown to customers)"},
		"apply.uscc":                        {"统一社会信用代码", "Unified social credit code"},
		"apply.legal_person_name":           {"法定代表人姓名", "Legal representative's name"},
		"apply.legal_person_id":             {"法定代表人身份证号", "Legal representative's ID number"},
		"apply.phone":                       {"联系手机", "Contact mobile number"},
		"apply.city":                        {"城市", "City"},
		"apply.address":                     {"经营地址", "Business address"},
		"apply.mcc":                         {"经营类目（MCC）", "Business category (MCC)"},
		"apply.mcc_choose":                  {"请选择", "Choose one"},
		"apply.bank_name":                   {"开户行", "Bank"},
		"apply.bank_account":                {"银行账号", "Bank account number"},
		"apply.business_licence":            {"营业执照（JPEG/PNG/PDF，≤5 MB）", "Business licence (JPEG/PNG/PDF, ≤5 MB)"},
		"apply.id_front":                    {"身份证人像面", "ID card, photo side"},
		"apply.id_back":                     {"身份证国徽面", "ID card, emblem side"},
		"apply.submit":                      {"提交申请", "Submit the application"},
		"apply.fix":                         {"请修改标出的内容后重新提交。", "Please correct the marked fields and submit again."},
		"apply.done_title":                  {"申请已提交", "Application submitted"},
		"apply.done":                        {"我们会尽快审核。请保存下面的链接，用它查看审核进度：", "We will review it soon. Keep this link to follow your application:"},
		"apply.status_title":                {"申请状态", "Application status"},
		"apply.status_submitted":            {"审核中", "Under review"},
		"apply.status_draft":                {"草稿", "Draft"},
		"apply.status_approved":             {"已通过", "Approved"},
		"apply.status_active":               {"已通过，可以收款", "Approved: you can take payments"},
		"apply.status_rejected":             {"未通过", "Rejected"},
		"apply.status_frozen":               {"已冻结", "Frozen"},
		"apply.status_closed":               {"已关闭", "Closed"},
		"apply.reason":                      {"原因", "Reason"},
		"apply.reapply":                     {"修改后可以重新提交一份申请。", "You may correct the details and apply again."},
		"apply.login_hint":                  {"收款后台的登录账号会由我们的工作人员发给您。", "Our staff will send you the login of your dashboard."},
		"apply.new_application":             {"新的申请", "New application"},
		"console.title":                     {"运营后台", "Operator console"},
		"console.queue":                     {"待审核申请", "Applications to review"},
		"console.queue_none":                {"没有待审核的申请。", "Nothing to review."},
		"console.merchants":                 {"商户", "Merchants"},
		"console.new":                       {"代商户提交申请", "Apply on a merchant's behalf"},
		"console.search":                    {"搜索（编号、信用代码、名称）", "Search (id, credit code, name)"},
		"console.filter":                    {"筛选", "Filter"},
		"console.all":                       {"全部", "All"},
		"console.next":                      {"下一页", "Next page"},
		"console.first":                     {"第一页", "First page"},
		"console.col_id":                    {"编号", "Id"},
		"console.col_name":                  {"名称", "Name"},
		"console.col_status":                {"状态", "Status"},
		"console.col_submitted":             {"提交时间", "Submitted"},
		"console.col_source":                {"来源", "Source"},
		"console.source.form":               {"公开申请表", "Public form"},
		"console.source.operator":           {"运营代填", "Operator"},
		"console.status.draft":              {"草稿", "Draft"},
		"console.status.submitted":          {"待审核", "Submitted"},
		"console.status.approved":           {"已通过", "Approved"},
		"console.status.rejected":           {"已驳回", "Rejected"},
		"console.status.active":             {"正常", "Active"},
		"console.status.frozen":             {"已冻结", "Frozen"},
		"console.status.closed":             {"已关闭", "Closed"},
		"console.application":               {"申请资料", "Application"},
		"console.checks":                    {"资质审核结果", "Checks"},
		"console.checks_ok":                 {"全部校验通过（统一社会信用代码、身份证号、手机号、MCC）。", "Every check passed (credit code, ID number, mobile number, MCC)."},
		"console.warning":                   {"提醒", "Warning"},
		"console.documents":                 {"证件", "Documents"},
		"console.documents_none":            {"没有上传证件。", "No documents uploaded."},
		"console.upload":                    {"上传", "Upload"},
		"console.kind":                      {"类型", "Kind"},
		"console.doc.business_licence":      {"营业执照", "Business licence"},
		"console.doc.id_front":              {"身份证人像面", "ID card, photo side"},
		"console.doc.id_back":               {"身份证国徽面", "ID card, emblem side"},
		"console.history":                   {"状态历史", "History"},
		"console.decide":                    {"审核与状态", "Review and status"},
		"console.approve":                   {"通过", "Approve"},
		"console.reject":                    {"驳回", "Reject"},
		"console.freeze":                    {"冻结", "Freeze"},
		"console.unfreeze":                  {"解冻", "Unfreeze"},
		"console.close":                     {"关闭商户", "Close"},
		"console.submit":                    {"提交审核", "Submit for review"},
		"console.reason":                    {"原因（驳回时必填，申请人可见）", "Reason (required to reject; the applicant sees it)"},
		"console.confirm_freeze":            {"冻结后该商户立即不能收款，确定吗？", "A frozen merchant cannot take payments from now on. Freeze?"},
		"console.confirm_close":             {"关闭后无法恢复，确定吗？", "Closing cannot be undone. Close?"},
		"console.action.approve":            {"通过", "approved"},
		"console.action.reject":             {"驳回", "rejected"},
		"console.action.freeze":             {"冻结", "frozen"},
		"console.action.unfreeze":           {"解冻", "unfrozen"},
		"console.action.close":              {"关闭", "closed"},
		"console.action.submit":             {"提交", "submitted"},
		"console.action.draft":              {"保存草稿", "saved as a draft"},
		"console.fee_rates":                 {"费率（基点，38 = 0.38%）", "Fee rates (basis points, 38 = 0.38%)"},
		"console.fee_history":               {"费率变更记录", "Fee rate changes"},
		"console.save":                      {"保存", "Save"},
		"console.bindings":                  {"渠道绑定", "Channel bindings"},
		"console.account":                   {"渠道账户", "Channel account"},
		"console.sub_merchant":              {"子商户号", "Sub-merchant id"},
		"console.weight":                    {"权重", "Weight"},
		"console.enabled":                   {"启用", "Enabled"},
		"console.disabled":                  {"停用", "Disabled"},
		"console.enable":                    {"启用", "Enable"},
		"console.disable":                   {"停用", "Disable"},
		"console.stores":                    {"门店与终端", "Stores and terminals"},
		"console.store_name":                {"门店名称", "Store name"},
		"console.add_store":                 {"添加门店", "Add a store"},
		"console.terminal_name":             {"终端名称", "Terminal name"},
		"console.add_terminal":              {"添加终端", "Add a terminal"},
		"console.terminal_code":             {"终端号", "Terminal code"},
		"console.reset_pin":                 {"重置 PIN", "Reset the PIN"},
		"console.pin_shown":                 {"终端 %s 的新 PIN：%s（只显示这一次）", "New PIN of terminal %s: %s (shown only this once)"},
		"console.stickers":                  {"码牌", "Stickers"},
		"console.keys":                      {"API 密钥", "API keys"},
		"console.users":                     {"商户用户", "Merchant users"},
		"console.login":                     {"登录账号", "Login"},
		"console.display_name":              {"姓名", "Name"},
		"console.role":                      {"角色", "Role"},
		"console.add_user":                  {"添加用户", "Add a user"},
		"console.reset_password":            {"重置密码", "Reset the password"},
		"console.password_shown":            {"%s 的临时密码：%s（只显示这一次；首次登录须修改）", "Temporary password of %s: %s (shown only this once; it must be changed at the first login)"},
		"console.role.owner":                {"店主", "Owner"},
		"console.role.counter":              {"收银员", "Counter staff"},
		"console.role.readonly":             {"只读", "Read only"},
		"console.role.admin":                {"管理员", "Admin"},
		"console.role.reviewer":             {"审核员", "Reviewer"},
		"console.locked":                    {"已锁定", "Locked"},
		"console.audit":                     {"审计日志", "Audit log"},
		"console.audit_merchant":            {"商户编号", "Merchant id"},
		"console.audit_actor":               {"操作人编号", "Actor id"},
		"console.audit_action":              {"操作", "Action"},
		"console.audit_object":              {"对象编号", "Object id"},
		"console.audit_when":                {"时间", "When"},
		"console.audit_who":                 {"操作人", "Who"},
		"console.audit_from":                {"来源地址", "From"},
		"console.audit_before":              {"修改前", "Before"},
		"console.audit_after":               {"修改后", "After"},
		"console.audit_none":                {"没有记录。", "No entries."},
		"console.done":                      {"已保存。", "Saved."},
		"console.view_audit":                {"查看该商户的审计日志", "This merchant's audit log"},
		"console.created":                   {"已创建", "Created"},
		"console.count":                     {"数量", "Count"},
		"console.label":                     {"备注", "Label"},
		"console.create":                    {"创建", "Create"},
		"console.print":                     {"打印 A4 码牌（PDF）", "Print on A4 (PDF)"},
		"console.mode":                      {"模式", "Mode"},
		"console.mode.test":                 {"测试", "Test"},
		"console.mode.live":                 {"生产", "Live"},
		"console.expires":                   {"到期", "Expires"},
		"console.secret_shown":              {"密钥 %s 的 secret：%s（只显示这一次，请妥善保存）", "Secret of key %s: %s (shown only this once: store it safely)"},
	})
}
