package wechatfake

import (
	"encoding/json"
	"net/http"
	"time"
)

// order is a payment at the fake.
type order struct {
	outTradeNo    string
	partner       bool
	subMchID      string
	appID         string
	description   string
	total         int64
	currency      string
	notifyURL     string
	tradeType     string // NATIVE or MICROPAY
	state         string // NOTPAY, USERPAYING, SUCCESS, REFUND, CLOSED, REVOKED, PAYERROR
	stateDesc     string
	transactionID string
	openID        string
	codeURL       string
	deviceInfo    string
	created       time.Time
	expires       time.Time
	paidAt        time.Time
	refunded      int64
	queriesLeft   int // USERPAYING answers left before the customer confirms
	thenState     string
}

// refund is a refund at the fake.
type refund struct {
	outRefundNo string
	refundID    string
	outTradeNo  string
	amount      int64
	total       int64
	currency    string
	status      string // PROCESSING, SUCCESS, ABNORMAL, CLOSED
	notifyURL   string
	created     time.Time
	succeeded   time.Time
}

// Order is a snapshot of an order at the fake.
type Order struct {
	OutTradeNo    string
	SubMchID      string
	TradeType     string
	TradeState    string
	TransactionID string
	Total         int64
	Refunded      int64
	NotifyURL     string
	CodeURL       string
}

// RefundInfo is a snapshot of a refund at the fake.
type RefundInfo struct {
	OutRefundNo string
	RefundID    string
	OutTradeNo  string
	Amount      int64
	Status      string
}

// Order returns a snapshot of the order out_trade_no.
func (s *Server) Order(outTradeNo string) (Order, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	o, ok := s.orders[outTradeNo]
	if !ok {
		return Order{}, false
	}
	return Order{OutTradeNo: o.outTradeNo, SubMchID: o.subMchID, TradeType: o.tradeType, TradeState: o.state,
		TransactionID: o.transactionID, Total: o.total, Refunded: o.refunded, NotifyURL: o.notifyURL, CodeURL: o.codeURL}, true
}

// Refund returns a snapshot of the refund out_refund_no.
func (s *Server) Refund(outRefundNo string) (RefundInfo, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.refunds[outRefundNo]
	if !ok {
		return RefundInfo{}, false
	}
	return RefundInfo{OutRefundNo: r.outRefundNo, RefundID: r.refundID, OutTradeNo: r.outTradeNo, Amount: r.amount, Status: r.status}, true
}

// amountJSON is an APIv3 amount.
type amountJSON struct {
	Total         int64  `json:"total,omitempty"`
	Refund        int64  `json:"refund,omitempty"`
	PayerTotal    int64  `json:"payer_total,omitempty"`
	PayerRefund   int64  `json:"payer_refund,omitempty"`
	Currency      string `json:"currency,omitempty"`
	PayerCurrency string `json:"payer_currency,omitempty"`
}

// handleNative creates a Native order (direct or partner mode).
func (s *Server) handleNative(partner bool) v3Handler {
	return func(r *http.Request, body []byte) (int, any) {
		var in struct {
			AppID       string     `json:"appid"`
			MchID       string     `json:"mchid"`
			SpAppID     string     `json:"sp_appid"`
			SpMchID     string     `json:"sp_mchid"`
			SubMchID    string     `json:"sub_mchid"`
			Description string     `json:"description"`
			OutTradeNo  string     `json:"out_trade_no"`
			TimeExpire  string     `json:"time_expire"`
			NotifyURL   string     `json:"notify_url"`
			Amount      amountJSON `json:"amount"`
		}
		if err := json.Unmarshal(body, &in); err != nil {
			return apiError(400, "PARAM_ERROR", "body is not JSON")
		}
		if partner {
			if in.SpAppID != s.keys.AppID || in.SpMchID != s.keys.MchID || in.SubMchID == "" {
				return apiError(400, "PARAM_ERROR", "sp_appid, sp_mchid and sub_mchid are required")
			}
			in.AppID = in.SpAppID
		} else if in.AppID != s.keys.AppID || in.MchID != s.keys.MchID {
			if in.AppID == "" || in.MchID == "" {
				return apiError(400, "PARAM_ERROR", "appid and mchid are required")
			}
			return apiError(400, "APPID_MCHID_NOT_MATCH", "appid and mchid do not match")
		}
		if in.Description == "" || in.OutTradeNo == "" || in.NotifyURL == "" || len(in.OutTradeNo) > 32 {
			return apiError(400, "PARAM_ERROR", "description, out_trade_no and notify_url are required")
		}
		if in.Amount.Total <= 0 || (in.Amount.Currency != "" && in.Amount.Currency != "CNY") {
			return apiError(400, "PARAM_ERROR", "amount.total must be positive CNY fen")
		}
		var expires time.Time
		if in.TimeExpire != "" {
			t, err := time.Parse(time.RFC3339, in.TimeExpire)
			if err != nil {
				return apiError(400, "PARAM_ERROR", "time_expire is not RFC 3339")
			}
			expires = t
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		if o, ok := s.orders[in.OutTradeNo]; ok {
			if o.state != "NOTPAY" {
				return apiError(400, "ORDERPAID", "该订单已支付")
			}
			if o.total != in.Amount.Total || o.subMchID != in.SubMchID || o.tradeType != "NATIVE" {
				return apiError(400, "OUT_TRADE_NO_USED", "商户订单号重复")
			}
			return 200, map[string]string{"code_url": o.codeURL}
		}
		o := &order{outTradeNo: in.OutTradeNo, partner: partner, subMchID: in.SubMchID, appID: in.AppID,
			description: in.Description, total: in.Amount.Total, currency: "CNY", notifyURL: in.NotifyURL,
			tradeType: "NATIVE", state: "NOTPAY", created: s.clock.Now(), expires: expires,
			codeURL: "weixin://wxpay/bizpayurl?pr=" + randAlnum(7)}
		s.orders[o.outTradeNo] = o
		return 200, map[string]string{"code_url": o.codeURL}
	}
}

// findOrder returns the order, checking the merchant fields of the query.
func (s *Server) findOrder(r *http.Request, partner bool, no string) (*order, int, any) {
	q := r.URL.Query()
	if partner {
		if q.Get("sp_mchid") != s.keys.MchID || q.Get("sub_mchid") == "" {
			st, v := apiError(400, "PARAM_ERROR", "sp_mchid and sub_mchid are required")
			return nil, st, v
		}
	} else if q.Get("mchid") != s.keys.MchID {
		st, v := apiError(400, "PARAM_ERROR", "mchid is required")
		return nil, st, v
	}
	o, ok := s.orders[no]
	if !ok || (partner && o.subMchID != q.Get("sub_mchid")) || (!partner && o.partner) {
		st, v := apiError(404, "ORDER_NOT_EXIST", "订单不存在")
		return nil, st, v
	}
	return o, 0, nil
}

// observe applies the passage of a query to a USERPAYING order: after its quota of answers
// the customer confirms.
func (s *Server) observe(o *order) {
	if o.state != "USERPAYING" {
		return
	}
	if o.queriesLeft > 0 {
		o.queriesLeft--
		return
	}
	s.settle(o, o.thenState)
}

// settle moves an order to state, marking it paid when state is SUCCESS.
func (s *Server) settle(o *order, state string) {
	if state == "" {
		state = "SUCCESS"
	}
	o.state = state
	if state == "SUCCESS" {
		o.paidAt = s.clock.Now()
		if o.transactionID == "" {
			o.transactionID = s.nextID("4200", 28)
		}
		if o.openID == "" {
			o.openID = "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"
		}
	}
}

// transactionJSON renders an order as APIv3 query and notices do.
func (s *Server) transactionJSON(o *order, amountDelta int64) map[string]any {
	m := map[string]any{
		"out_trade_no":     o.outTradeNo,
		"trade_type":       o.tradeType,
		"trade_state":      o.state,
		"trade_state_desc": stateDesc(o),
		"attach":           "",
	}
	if o.partner {
		m["sp_appid"], m["sp_mchid"], m["sub_mchid"] = o.appID, s.keys.MchID, o.subMchID
	} else {
		m["appid"], m["mchid"] = o.appID, s.keys.MchID
	}
	amount := amountJSON{Total: o.total + amountDelta, Currency: o.currency}
	if !o.paidAt.IsZero() {
		m["transaction_id"] = o.transactionID
		m["bank_type"] = "OTHERS"
		m["success_time"] = o.paidAt.In(china).Format(time.RFC3339)
		amount.PayerTotal = o.total + amountDelta
		amount.PayerCurrency = o.currency
		if o.partner {
			m["payer"] = map[string]string{"sp_openid": o.openID}
		} else {
			m["payer"] = map[string]string{"openid": o.openID}
		}
	}
	m["amount"] = amount
	return m
}

// stateDesc is the trade_state_desc of an order.
func stateDesc(o *order) string {
	if o.stateDesc != "" && o.state == "PAYERROR" {
		return o.stateDesc
	}
	switch o.state {
	case "SUCCESS":
		return "支付成功"
	case "REFUND":
		return "转入退款"
	case "NOTPAY":
		return "未支付"
	case "CLOSED":
		return "已关闭"
	case "REVOKED":
		return "已撤销（付款码支付）"
	case "USERPAYING":
		return "用户支付中（付款码支付）"
	case "PAYERROR":
		return "支付失败"
	}
	return o.state
}

// handleQuery answers an APIv3 order query.
func (s *Server) handleQuery(partner bool) v3Handler {
	return func(r *http.Request, _ []byte) (int, any) {
		s.mu.Lock()
		defer s.mu.Unlock()
		o, st, v := s.findOrder(r, partner, r.PathValue("no"))
		if o == nil {
			return st, v
		}
		if o.tradeType == "MICROPAY" && s.knobs.hideMicropay {
			return apiError(404, "ORDER_NOT_EXIST", "订单不存在")
		}
		s.observe(o)
		return 200, s.transactionJSON(o, 0)
	}
}

// handleClose closes an unpaid order.
func (s *Server) handleClose(partner bool) v3Handler {
	return func(r *http.Request, body []byte) (int, any) {
		var in struct {
			MchID    string `json:"mchid"`
			SpMchID  string `json:"sp_mchid"`
			SubMchID string `json:"sub_mchid"`
		}
		if err := json.Unmarshal(body, &in); err != nil {
			return apiError(400, "PARAM_ERROR", "body is not JSON")
		}
		if (partner && (in.SpMchID != s.keys.MchID || in.SubMchID == "")) || (!partner && in.MchID != s.keys.MchID) {
			return apiError(400, "PARAM_ERROR", "merchant fields are wrong")
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		o, ok := s.orders[r.PathValue("no")]
		if !ok || o.partner != partner || (partner && o.subMchID != in.SubMchID) {
			return apiError(404, "ORDER_NOT_EXIST", "订单不存在")
		}
		switch o.state {
		case "SUCCESS", "REFUND":
			return apiError(400, "ORDERPAID", "订单已支付")
		case "REVOKED":
			return apiError(400, "ORDER_CLOSED", "订单已撤销")
		}
		o.state = "CLOSED"
		return http.StatusNoContent, nil
	}
}

// refundJSON renders a refund as APIv3 does.
func (s *Server) refundJSON(rf *refund, o *order) map[string]any {
	m := map[string]any{
		"refund_id":             rf.refundID,
		"out_refund_no":         rf.outRefundNo,
		"transaction_id":        o.transactionID,
		"out_trade_no":          o.outTradeNo,
		"channel":               "ORIGINAL",
		"user_received_account": "支付用户零钱",
		"create_time":           rf.created.In(china).Format(time.RFC3339),
		"status":                rf.status,
		"funds_account":         "AVAILABLE",
		"amount": map[string]any{"total": rf.total, "refund": rf.amount, "payer_total": rf.total,
			"payer_refund": rf.amount, "settlement_total": rf.total, "settlement_refund": rf.amount,
			"discount_refund": 0, "currency": rf.currency},
	}
	if !rf.succeeded.IsZero() {
		m["success_time"] = rf.succeeded.In(china).Format(time.RFC3339)
	}
	return m
}

// handleRefund creates a refund, idempotently per out_refund_no.
func (s *Server) handleRefund(_ *http.Request, body []byte) (int, any) {
	var in struct {
		SubMchID      string     `json:"sub_mchid"`
		TransactionID string     `json:"transaction_id"`
		OutTradeNo    string     `json:"out_trade_no"`
		OutRefundNo   string     `json:"out_refund_no"`
		Reason        string     `json:"reason"`
		NotifyURL     string     `json:"notify_url"`
		Amount        amountJSON `json:"amount"`
	}
	if err := json.Unmarshal(body, &in); err != nil {
		return apiError(400, "PARAM_ERROR", "body is not JSON")
	}
	if in.OutRefundNo == "" || (in.OutTradeNo == "" && in.TransactionID == "") || in.Amount.Refund <= 0 || in.Amount.Total <= 0 {
		return apiError(400, "PARAM_ERROR", "out_refund_no, the order and amount are required")
	}
	if in.Amount.Currency != "CNY" {
		return apiError(400, "PARAM_ERROR", "currency must be CNY")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.knobs.notEnoughNext {
		s.knobs.notEnoughNext = false
		return apiError(403, "NOT_ENOUGH", "基本账户余额不足，请充值后重新发起")
	}
	var o *order
	if in.OutTradeNo != "" {
		o = s.orders[in.OutTradeNo]
	} else {
		for _, c := range s.orders {
			if c.transactionID == in.TransactionID {
				o = c
			}
		}
	}
	if o == nil || o.subMchID != in.SubMchID {
		return apiError(404, "RESOURCE_NOT_EXISTS", "订单不存在")
	}
	if rf, ok := s.refunds[in.OutRefundNo]; ok {
		if rf.outTradeNo != o.outTradeNo || rf.amount != in.Amount.Refund {
			return apiError(400, "INVALID_REQUEST", "商户退款单号重复")
		}
		return 200, s.refundJSON(rf, o)
	}
	if o.state != "SUCCESS" && o.state != "REFUND" {
		return apiError(400, "INVALID_REQUEST", "订单状态不正确，不能退款")
	}
	if in.Amount.Total != o.total {
		return apiError(400, "INVALID_REQUEST", "订单金额与原订单不符")
	}
	if o.refunded+in.Amount.Refund > o.total {
		return apiError(400, "INVALID_REQUEST", "申请退款金额超过订单可退金额")
	}
	notify := in.NotifyURL
	if notify == "" {
		notify = o.notifyURL
	}
	rf := &refund{outRefundNo: in.OutRefundNo, refundID: s.nextID("50", 29), outTradeNo: o.outTradeNo,
		amount: in.Amount.Refund, total: o.total, currency: "CNY", status: "PROCESSING", notifyURL: notify,
		created: s.clock.Now()}
	s.refunds[rf.outRefundNo] = rf
	o.refunded += rf.amount
	o.state = "REFUND"
	return 200, s.refundJSON(rf, o)
}

// handleRefundQuery answers a refund query.
func (s *Server) handleRefundQuery(r *http.Request, _ []byte) (int, any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rf, ok := s.refunds[r.PathValue("no")]
	if !ok {
		return apiError(404, "RESOURCE_NOT_EXISTS", "退款单不存在")
	}
	o := s.orders[rf.outTradeNo]
	if o.subMchID != r.URL.Query().Get("sub_mchid") {
		return apiError(404, "RESOURCE_NOT_EXISTS", "退款单不存在")
	}
	return 200, s.refundJSON(rf, o)
}
