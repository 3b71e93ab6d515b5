package alipayfake

import (
	"encoding/json"
	"net/http"
	"strings"
	"time"
)

// methods the fake serves.
var methods = map[string]func(s *Server, p map[string]string, biz map[string]any) (obj, []*Notify){
	"alipay.trade.precreate":                         (*Server).precreate,
	"alipay.trade.pay":                               (*Server).pay,
	"alipay.trade.query":                             (*Server).query,
	"alipay.trade.cancel":                            (*Server).cancel,
	"alipay.trade.close":                             (*Server).closeTrade,
	"alipay.trade.refund":                            (*Server).refund,
	"alipay.trade.fastpay.refund.query":              (*Server).refundQuery,
	"alipay.data.dataservice.bill.downloadurl.query": (*Server).billURL,
}

func responseKey(method string) string { return strings.ReplaceAll(method, ".", "_") + "_response" }

// handleGateway serves gateway.do: parameters from the query string and the form body.
func (s *Server) handleGateway(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 1<<20)
	if err := r.ParseForm(); err != nil {
		http.Error(w, "bad request", http.StatusBadRequest)
		return
	}
	method := r.Form.Get("method")
	key := "error_response"
	if _, ok := methods[method]; ok {
		key = responseKey(method)
	}
	p := make(map[string]string, len(r.Form))
	dup := false
	for k, v := range r.Form {
		p[k] = v[0]
		dup = dup || len(v) != 1
	}
	call := Call{Method: method, Params: p}

	var aerr *apiError
	switch {
	case dup:
		aerr = &apiError{code: "40002", subCode: "isv.invalid-arguments", subMsg: "重复的参数"}
	case method == "":
		aerr = &apiError{code: "40001", subCode: "isv.missing-method", subMsg: "缺少方法名参数"}
	case key == "error_response":
		aerr = &apiError{code: "40002", subCode: "isv.invalid-method", subMsg: "不存在的方法名"}
	default:
		aerr = s.checkRequest(p)
	}
	if aerr != nil {
		// Refusals before the business system are answered unsigned.
		call.Code, call.SubCode = aerr.code, aerr.subCode
		s.record(call)
		s.render(w, key, errAnswer(aerr.code, aerr.subCode, aerr.subMsg), false, 0)
		return
	}

	biz := map[string]any{}
	dec := json.NewDecoder(strings.NewReader(p["biz_content"]))
	dec.UseNumber()
	if err := dec.Decode(&biz); err != nil && p["biz_content"] != "" {
		call.Code, call.SubCode = "40002", "isv.invalid-biz-content"
		s.record(call)
		s.render(w, key, errAnswer("40002", "isv.invalid-biz-content", "biz_content 不是 JSON"), false, 0)
		return
	}
	call.Biz = biz

	s.mu.Lock()
	var pf pendingFault
	if len(s.faults) > 0 {
		pf = s.faults[0]
		s.faults = s.faults[1:]
	}
	s.mu.Unlock()

	switch {
	case pf.fault == FaultTimeout:
		s.record(call)
		s.hold(r)
		return
	case pf.fault == FaultServerError:
		s.record(call)
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(http.StatusBadGateway)
		_, _ = w.Write([]byte("<html><body><h1>502 Bad Gateway</h1></body></html>"))
		return
	case pf.code != "":
		o := errAnswer(pf.code, pf.subCode, pf.subMsg)
		if method == "alipay.trade.cancel" {
			retry := "N"
			if pf.code == "20000" || pf.subCode == "ACQ.SYSTEM_ERROR" {
				retry = "Y"
			}
			o = o.set("retry_flag", retry)
		}
		call.Code, call.SubCode = pf.code, pf.subCode
		s.record(call)
		s.render(w, key, o, true, 0)
		return
	}

	s.mu.Lock()
	o, notices := methods[method](s, p, biz)
	s.mu.Unlock()
	call.Code, call.SubCode = o.get("code"), o.get("sub_code")
	s.record(call)
	s.deliverAsync(notices)
	if pf.fault == FaultTimeoutAfterApply {
		s.hold(r)
		return
	}
	s.render(w, key, o, true, pf.fault)
}

// hold keeps a call unanswered until the client gives up or the fake closes.
func (s *Server) hold(r *http.Request) {
	select {
	case <-r.Context().Done():
	case <-s.closing:
	}
}

func (s *Server) record(c Call) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls = append(s.calls, c)
}

func invalidParam(msg string) obj { return errAnswer("40004", "ACQ.INVALID_PARAMETER", msg) }

func notExist() obj { return errAnswer("40004", "ACQ.TRADE_NOT_EXIST", "交易不存在") }

// find looks a trade up by trade_no or out_trade_no within the request's app_auth_token.
func (s *Server) find(p map[string]string, biz map[string]any) *trade {
	token := p["app_auth_token"]
	var t *trade
	if no := bizString(biz, "trade_no"); no != "" {
		t = s.byTradeNo[no]
		if t != nil && t.AppAuthToken != token {
			t = nil
		}
	} else if out := bizString(biz, "out_trade_no"); out != "" {
		t = s.trades[tradeKey(token, out)]
	}
	if t != nil {
		s.expire(t)
	}
	return t
}

// newTrade reads the fields precreate and pay share. It returns an error answer or nil.
func (s *Server) newTrade(p map[string]string, biz map[string]any) (*trade, obj) {
	out := bizString(biz, "out_trade_no")
	if out == "" || len(out) > 64 {
		return nil, invalidParam("out_trade_no 无效")
	}
	amount, ok := parseYuan(bizString(biz, "total_amount"))
	if !ok || amount <= 0 || amount > 100_000_000_00 {
		return nil, invalidParam("total_amount 无效")
	}
	subject := bizString(biz, "subject")
	if subject == "" {
		return nil, invalidParam("subject 不能为空")
	}
	if pc := bizString(biz, "product_code"); pc != "" && pc != "FACE_TO_FACE_PAYMENT" {
		return nil, errAnswer("40004", "ACQ.PRODUCT_CODE_ERROR", "产品码错误")
	}
	t := &trade{Trade: Trade{
		OutTradeNo: out, TradeNo: s.newTradeNo(), Status: StatusWaitBuyerPay, TotalAmount: amount,
		Subject: subject, SellerID: s.opts.SellerID, AppAuthToken: p["app_auth_token"],
		StoreID: bizString(biz, "store_id"), TerminalID: bizString(biz, "terminal_id"),
		NotifyURL: p["notify_url"], CreatedAt: s.now(),
	}}
	if seller := bizString(biz, "seller_id"); seller != "" {
		t.SellerID = seller
	}
	if sm, ok := biz["sub_merchant"].(map[string]any); ok {
		t.SubMerchantID = bizString(sm, "merchant_id")
	}
	if te := bizString(biz, "time_expire"); te != "" {
		exp, err := time.ParseInLocation(timeLayout, te, shanghai)
		if err != nil {
			return nil, invalidParam("time_expire 格式错误")
		}
		t.TimeExpire = exp
	}
	return t, nil
}

// existing answers a precreate or pay for an out_trade_no already used.
func existing(t *trade) obj {
	switch t.Status {
	case StatusTradeSuccess, StatusTradeFinished:
		return errAnswer("40004", "ACQ.TRADE_HAS_SUCCESS", "交易已被支付")
	case StatusWaitBuyerPay:
		return errAnswer("40004", "ACQ.TRADE_STATUS_ERROR", "交易状态不合法")
	default:
		return errAnswer("40004", "ACQ.TRADE_HAS_CLOSE", "交易已经关闭")
	}
}

func (s *Server) store(t *trade) {
	s.trades[tradeKey(t.AppAuthToken, t.OutTradeNo)] = t
	s.byTradeNo[t.TradeNo] = t
}

func (s *Server) precreate(p map[string]string, biz map[string]any) (obj, []*Notify) {
	t, errObj := s.newTrade(p, biz)
	if errObj != nil {
		return errObj, nil
	}
	if old := s.trades[tradeKey(t.AppAuthToken, t.OutTradeNo)]; old != nil {
		s.expire(old)
		if old.Status != StatusWaitBuyerPay {
			return existing(old), nil
		}
		if old.TotalAmount != t.TotalAmount || old.Scene != "precreate" {
			return errAnswer("40004", "ACQ.CONTEXT_INCONSISTENT", "交易信息被篡改"), nil
		}
		return success().set("out_trade_no", old.OutTradeNo).set("qr_code", old.QRCode), nil
	}
	t.Scene = "precreate"
	t.QRCode = "https://qr.alipay.com/bax0" + randToken(20)
	s.store(t)
	return success().set("out_trade_no", t.OutTradeNo).set("qr_code", t.QRCode), nil
}

func (s *Server) payAnswer(code string, t *trade) obj {
	o := obj{}.set("code", code).set("msg", codeMsg[code]).
		set("trade_no", t.TradeNo).set("out_trade_no", t.OutTradeNo).set("buyer_logon_id", "138****0000").
		set("total_amount", yuan(t.TotalAmount))
	if t.Status == StatusTradeSuccess {
		o = o.set("receipt_amount", yuan(t.TotalAmount)).set("buyer_pay_amount", yuan(t.TotalAmount)).
			set("point_amount", "0.00").set("invoice_amount", yuan(t.TotalAmount)).
			set("gmt_payment", t.PaidAt.Format(timeLayout)).
			set("fund_bill_list", []obj{obj{}.set("fund_channel", "ALIPAYACCOUNT").set("amount", yuan(t.TotalAmount))}).
			set("buyer_user_id", t.BuyerID)
	}
	return o
}

func (s *Server) pay(p map[string]string, biz map[string]any) (obj, []*Notify) {
	scene := bizString(biz, "scene")
	if scene != "bar_code" && scene != "wave_code" {
		return invalidParam("scene 无效"), nil
	}
	code := bizString(biz, "auth_code")
	if code == "" {
		return invalidParam("auth_code 不能为空"), nil
	}
	t, errObj := s.newTrade(p, biz)
	if errObj != nil {
		return errObj, nil
	}
	if old := s.trades[tradeKey(t.AppAuthToken, t.OutTradeNo)]; old != nil {
		s.expire(old)
		if old.Status == StatusWaitBuyerPay && old.autoPay {
			return s.payAnswer("10003", old), nil
		}
		return existing(old), nil
	}
	t.Scene, t.AuthCode = scene, code
	b, ok := s.codes[code]
	if !ok {
		b = CodeBehavior{Outcome: CodeSuccess}
		if !reAuthCode.MatchString(code) {
			b = CodeBehavior{Outcome: CodeDeclined}
		}
	}
	t.BuyerID = b.BuyerID
	switch b.Outcome {
	case CodeDeclined:
		sub, msg := b.SubCode, b.SubMsg
		if sub == "" {
			sub, msg = "ACQ.PAYMENT_AUTH_CODE_INVALID", "支付失败，获取顾客账户信息失败，请顾客刷新付款码后重新收款"
		}
		return errAnswer("40004", sub, msg), nil
	case CodeUnknown:
		if b.Charged {
			s.markPaid(t)
			s.store(t)
			return errAnswer("20000", "isp.unknow-error", "系统繁忙"), noticeList(s.notice(t, nil))
		}
		return errAnswer("20000", "isp.unknow-error", "系统繁忙"), nil
	case CodeUserPaying:
		t.autoPay, t.waitQueries = true, b.Queries
		s.store(t)
		return s.payAnswer("10003", t), nil
	default:
		s.markPaid(t)
		s.store(t)
		return s.payAnswer("10000", t), noticeList(s.notice(t, nil))
	}
}

func noticeList(n *Notify) []*Notify {
	if n == nil {
		return nil
	}
	return []*Notify{n}
}

func (s *Server) query(p map[string]string, biz map[string]any) (obj, []*Notify) {
	t := s.find(p, biz)
	if t == nil {
		return notExist(), nil
	}
	var notices []*Notify
	if t.Status == StatusWaitBuyerPay && t.autoPay {
		if t.waitQueries > 0 {
			t.waitQueries--
		} else {
			s.markPaid(t)
			notices = noticeList(s.notice(t, nil))
		}
	}
	o := success().set("trade_no", t.TradeNo).set("out_trade_no", t.OutTradeNo).
		set("buyer_logon_id", "138****0000").set("trade_status", t.Status).
		set("total_amount", yuan(t.TotalAmount))
	if !t.PaidAt.IsZero() {
		o = o.set("buyer_pay_amount", yuan(t.TotalAmount)).set("receipt_amount", yuan(t.TotalAmount)).
			set("point_amount", "0.00").set("invoice_amount", yuan(t.TotalAmount)).
			set("send_pay_date", t.PaidAt.Format(timeLayout)).set("buyer_user_id", t.BuyerID)
	}
	return o, notices
}

func (s *Server) cancel(p map[string]string, biz map[string]any) (obj, []*Notify) {
	t := s.find(p, biz)
	if t == nil {
		return notExist().set("retry_flag", "N"), nil
	}
	switch t.Status {
	case StatusWaitBuyerPay:
		t.Status, t.ClosedAt, t.CancelAction, t.autoPay = StatusTradeClosed, s.now(), "close", false
	case StatusTradeSuccess:
		left := t.TotalAmount - t.Refunded
		t.Refunds = append(t.Refunds, Refund{Amount: left, Fee: s.fee(left), Reason: "cancel", At: s.now()})
		t.Refunded = t.TotalAmount
		t.Status, t.ClosedAt, t.CancelAction = StatusTradeClosed, s.now(), "refund"
	case StatusTradeFinished:
		return errAnswer("40004", "ACQ.TRADE_HAS_FINISHED", "交易已完结").set("retry_flag", "N"), nil
	default:
		if t.CancelAction == "" {
			t.CancelAction = "close"
		}
	}
	return success().set("trade_no", t.TradeNo).set("out_trade_no", t.OutTradeNo).
		set("retry_flag", "N").set("action", t.CancelAction), nil
}

func (s *Server) closeTrade(p map[string]string, biz map[string]any) (obj, []*Notify) {
	t := s.find(p, biz)
	if t == nil {
		return notExist(), nil
	}
	if t.Status != StatusWaitBuyerPay {
		return errAnswer("40004", "ACQ.TRADE_STATUS_ERROR", "交易状态不合法"), nil
	}
	t.Status, t.ClosedAt, t.autoPay = StatusTradeClosed, s.now(), false
	return success().set("trade_no", t.TradeNo).set("out_trade_no", t.OutTradeNo), nil
}

func (s *Server) refund(p map[string]string, biz map[string]any) (obj, []*Notify) {
	t := s.find(p, biz)
	if t == nil {
		return notExist(), nil
	}
	amount, ok := parseYuan(bizString(biz, "refund_amount"))
	if !ok || amount <= 0 {
		return invalidParam("refund_amount 无效"), nil
	}
	reqNo := bizString(biz, "out_request_no")
	if reqNo == "" {
		reqNo = t.OutTradeNo
	}
	answer := func(fundChange string, r *Refund) obj {
		return success().set("trade_no", t.TradeNo).set("out_trade_no", t.OutTradeNo).
			set("buyer_logon_id", "138****0000").set("buyer_user_id", t.BuyerID).
			set("fund_change", fundChange).set("refund_fee", yuan(t.Refunded)).
			set("gmt_refund_pay", r.At.Format(timeLayout))
	}
	for i := range t.Refunds {
		if r := &t.Refunds[i]; r.OutRequestNo == reqNo {
			if r.Amount != amount {
				return errAnswer("40004", "ACQ.DISCORDANT_REPEAT_REQUEST", "不一致的请求"), nil
			}
			return answer("N", r), nil
		}
	}
	switch t.Status {
	case StatusTradeSuccess:
	case StatusTradeFinished:
		return errAnswer("40004", "ACQ.TRADE_HAS_FINISHED", "交易已完结"), nil
	case StatusTradeClosed:
		return errAnswer("40004", "ACQ.TRADE_HAS_CLOSE", "交易已经关闭"), nil
	default:
		return errAnswer("40004", "ACQ.TRADE_STATUS_ERROR", "交易状态不合法"), nil
	}
	if amount > t.TotalAmount-t.Refunded {
		return errAnswer("40004", "ACQ.REFUND_AMT_NOT_EQUAL_TOTAL", "退款金额超限"), nil
	}
	t.Refunds = append(t.Refunds, Refund{OutRequestNo: reqNo, Amount: amount, Fee: s.fee(amount),
		Reason: bizString(biz, "refund_reason"), At: s.now()})
	t.Refunded += amount
	if t.Refunded == t.TotalAmount {
		t.Status, t.ClosedAt = StatusTradeClosed, s.now()
	}
	r := &t.Refunds[len(t.Refunds)-1]
	return answer("Y", r), noticeList(s.notice(t, r))
}

func (s *Server) refundQuery(p map[string]string, biz map[string]any) (obj, []*Notify) {
	t := s.find(p, biz)
	if t == nil {
		return notExist(), nil
	}
	reqNo := bizString(biz, "out_request_no")
	if reqNo == "" {
		reqNo = t.OutTradeNo
	}
	o := success().set("trade_no", t.TradeNo).set("out_trade_no", t.OutTradeNo)
	for _, r := range t.Refunds {
		if r.OutRequestNo != reqNo {
			continue
		}
		o = o.set("out_request_no", r.OutRequestNo).set("total_amount", yuan(t.TotalAmount)).
			set("refund_amount", yuan(r.Amount)).set("refund_status", "REFUND_SUCCESS")
		if opts, ok := biz["query_options"].([]any); ok {
			for _, v := range opts {
				if v == "gmt_refund_pay" {
					o = o.set("gmt_refund_pay", r.At.Format(timeLayout))
				}
			}
		}
		return o, nil
	}
	// Alipay: no refund_status means the refund was not received (or not processed yet).
	return o, nil
}
