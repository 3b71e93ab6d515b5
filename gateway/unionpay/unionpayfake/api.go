package unionpayfake

import (
	"crypto/rand"
	"crypto/rsa"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"time"

	"github.com/qrpay/qrpay"
	"github.com/qrpay/qrpay/qr"
)

var (
	reOrderID = regexp.MustCompile(`^[0-9A-Za-z_-]{1,32}$`)
	reMerID   = regexp.MustCompile(`^[0-9A-Za-z]{15}$`)
	reAmount  = regexp.MustCompile(`^[1-9][0-9]{0,11}$`)
	reTime    = regexp.MustCompile(`^[0-9]{14}$`)
	reMCC     = regexp.MustCompile(`^[0-9]{4}$`)
	reMMDD    = regexp.MustCompile(`^[0-9]{4}$`)
)

// answer is a message under construction: the fields to sign and send.
type answer map[string]string

func (a answer) set(k, v string) answer {
	if v != "" {
		a[k] = v
	}
	return a
}

// handler is one transaction: it reads the request, acts, and returns the answer's own fields
// and the notifications to send. It runs with s.mu held.
type handler func(s *Server, f map[string]string, fault Fault) (answer, []*Notify)

// route is where each txnType/txnSubType is served.
type route struct {
	path string
	h    handler
}

var routes = map[string]route{
	"01/07": {pathBackTrans, (*Server).applyQRCode},
	"01/06": {pathBackTrans, (*Server).consumeC2B},
	"31/00": {pathBackTrans, (*Server).void},
	"31/01": {pathBackTrans, (*Server).closeOrder},
	"04/00": {pathBackTrans, (*Server).refund},
	"00/00": {pathQuery, (*Server).query},
	"76/01": {pathFileTrans, (*Server).fileTransfer},
}

func refusal(code, msg string) answer { return answer{"respCode": code, "respMsg": msg} }

// handle serves every path: it checks the request, applies the pending fault and dispatches.
func (s *Server) handle(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 1<<20)
	if err := r.ParseForm(); err != nil {
		http.Error(w, "bad request", http.StatusBadRequest)
		return
	}
	f := make(map[string]string, len(r.PostForm))
	dup := false
	for k, v := range r.PostForm {
		f[k] = v[0]
		dup = dup || len(v) != 1
	}
	call := Call{Path: r.URL.Path, Fields: f}
	rt, known := routes[f["txnType"]+"/"+f["txnSubType"]]

	// Refusals before the business system are answered unsigned.
	var early answer
	switch {
	case dup:
		early = refusal("10", "报文格式错误：重复的域")
	case f["version"] != "5.1.0" || f["encoding"] != "UTF-8" || f["signMethod"] != "01":
		early = refusal("10", "报文格式错误：version、encoding 或 signMethod 不支持")
	case f["certId"] != s.opts.MerchantCertID || !verifyFields(s.opts.MerchantKey, f):
		early = refusal("11", "验证签名失败")
	case !known || rt.path != r.URL.Path:
		early = refusal("10", "报文格式错误：交易类型不支持")
	case !reMerID.MatchString(f["merId"]) || !reTime.MatchString(f["txnTime"]) ||
		f["accessType"] != "0" || f["bizType"] != "000000":
		early = refusal("13", "报文交易要素缺失：merId、txnTime、accessType 或 bizType")
	}
	if early != nil {
		call.RespCode = early["respCode"]
		s.record(call)
		s.write(w, s.echo(f, early), false, 0)
		return
	}

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
		call.RespCode = pf.code
		s.record(call)
		s.write(w, s.echo(f, refusal(pf.code, pf.message)), true, 0)
		return
	}

	s.mu.Lock()
	a, notices := rt.h(s, f, pf.fault)
	s.mu.Unlock()
	call.RespCode = a["respCode"]
	s.record(call)
	s.deliverAsync(notices)
	if pf.fault == FaultTimeoutAfterApply {
		s.hold(r)
		return
	}
	s.write(w, s.echo(f, a), true, pf.fault)
}

// echo adds the fields every answer repeats from its request.
func (s *Server) echo(req map[string]string, a answer) answer {
	out := answer{"version": "5.1.0", "encoding": "UTF-8", "signMethod": "01", "certId": s.opts.UnionPayCertID}
	for _, k := range []string{"accessType", "bizType", "merId", "txnType", "txnSubType", "txnTime", "orderId",
		"origOrderId", "origQryId", "reqReserved"} {
		out.set(k, req[k])
	}
	for k, v := range a {
		out[k] = v
	}
	return out
}

// write signs (or not) and sends an answer, applying a signature fault.
func (s *Server) write(w http.ResponseWriter, a answer, signed bool, fault Fault) {
	form := url.Values{}
	if signed {
		key := s.opts.UnionPayKey
		switch fault {
		case FaultBadSignature:
			if k, err := rsa.GenerateKey(rand.Reader, 2048); err == nil {
				key = k
			}
		case FaultUnknownCert:
			a["certId"] = "10000000001"
		}
		f, err := signedForm(key, a)
		if err != nil {
			http.Error(w, "signing failed", http.StatusInternalServerError)
			return
		}
		form = f
		switch fault {
		case FaultTamper:
			if form.Get("txnAmt") != "" {
				form.Set("txnAmt", form.Get("txnAmt")+"0")
			} else {
				form.Set("respMsg", form.Get("respMsg")+"!")
			}
		case FaultUnsigned:
			form.Del("signature")
		}
	} else {
		for k, v := range a {
			form.Set(k, v)
		}
	}
	w.Header().Set("Content-Type", "application/x-www-form-urlencoded;charset=UTF-8")
	_, _ = w.Write([]byte(form.Encode()))
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

// money reads txnAmt and currencyCode.
func money(f map[string]string) (int64, qrpay.Currency, bool) {
	if !reAmount.MatchString(f["txnAmt"]) {
		return 0, "", false
	}
	v, err := strconv.ParseInt(f["txnAmt"], 10, 64)
	if err != nil {
		return 0, "", false
	}
	cur, ok := qrpay.CurrencyByNumeric(f["currencyCode"])
	return v, cur, ok
}

// label is the EMV reference label of an orderId: itself, or its last 25 characters.
func label(s string) string {
	if len(s) > 25 {
		return s[len(s)-25:]
	}
	return s
}

func (s *Server) applyQRCode(f map[string]string, fault Fault) (answer, []*Notify) {
	amount, cur, ok := money(f)
	switch {
	case !reOrderID.MatchString(f["orderId"]):
		return refusal("10", "orderId 格式错误"), nil
	case !ok:
		return refusal("10", "txnAmt 或 currencyCode 格式错误"), nil
	case !reMCC.MatchString(f["merCatCode"]) || f["merName"] == "" || f["merCity"] == "":
		return refusal("13", "报文交易要素缺失：merCatCode、merName 或 merCity"), nil
	}
	var timeout time.Time
	if v := f["payTimeout"]; v != "" {
		t, err := time.ParseInLocation(timeLayout, v, shanghai)
		if err != nil {
			return refusal("10", "payTimeout 格式错误"), nil
		}
		timeout = t
	}
	if old := s.txns[orderKey(f["merId"], f["orderId"])]; old != nil {
		s.expire(old)
		if old.Kind == KindQROrder && old.Status == StatusWaiting && old.Amount == amount && old.Currency == f["currencyCode"] {
			return answer{"respCode": "00", "respMsg": "成功[0000000]", "qrCode": old.QRCode,
				"txnAmt": f["txnAmt"], "currencyCode": f["currencyCode"]}, nil
		}
		return refusal("12", "重复交易"), nil
	}
	code := qr.MerchantCode{
		Dynamic: true, UnionPayAccount: s.opts.AcquirerIIN + s.opts.ForwardingIIN + f["merId"], MCC: f["merCatCode"],
		Amount: qrpay.Money{Amount: amount, Currency: cur}, Name: f["merName"], City: f["merCity"],
		NameZH: f["merNameLocal"], CityZH: f["merCityLocal"], ReferenceLabel: label(f["orderId"]),
		TerminalLabel: f["termId"],
	}
	switch fault {
	case FaultWrongAmount:
		code.Amount.Amount++
	case FaultWrongAccount:
		code.UnionPayAccount = s.opts.AcquirerIIN + s.opts.ForwardingIIN + "999999999999999"
	}
	payload, err := qr.BuildMerchantCode(code)
	if err != nil {
		return refusal("10", "无法生成二维码："+qrpay.ErrorMessage(err)), nil
	}
	if fault == FaultBadCRC {
		last := payload[len(payload)-1]
		repl := byte('0')
		if last == '0' {
			repl = '1'
		}
		payload = payload[:len(payload)-1] + string(repl)
	}
	t := &txn{Txn: Txn{Kind: KindQROrder, MerID: f["merId"], OrderID: f["orderId"], Status: StatusWaiting,
		RespCode: "05", RespMsg: "交易已受理，等待支付", Amount: amount, Currency: f["currencyCode"], QRCode: payload,
		TermID: f["termId"], BackURL: f["backUrl"], TxnTime: f["txnTime"], PayTimeout: timeout, CreatedAt: s.now(),
		Request: f}}
	s.store(t)
	return answer{"respCode": "00", "respMsg": "成功[0000000]", "qrCode": payload, "txnAmt": f["txnAmt"],
		"currencyCode": f["currencyCode"]}, nil
}

// consumeAnswer is the answer to a C2B charge in its current state.
func consumeAnswer(t *txn) answer {
	a := answer{"respCode": t.RespCode, "respMsg": t.RespMsg}
	if t.Status == StatusProcessing {
		a["respCode"] = t.pendingCode
	}
	a.set("queryId", t.QueryID)
	if t.Status == StatusSucceeded {
		a.set("txnAmt", fmt.Sprint(t.Amount)).set("currencyCode", t.Currency).
			set("finishTime", t.FinishedAt.Format(timeLayout)).set("accNo", t.Payer)
	}
	return a
}

func (s *Server) consumeC2B(f map[string]string, _ Fault) (answer, []*Notify) {
	amount, _, ok := money(f)
	switch {
	case !reOrderID.MatchString(f["orderId"]):
		return refusal("10", "orderId 格式错误"), nil
	case !ok:
		return refusal("10", "txnAmt 或 currencyCode 格式错误"), nil
	case f["qrNo"] == "":
		return refusal("13", "报文交易要素缺失：qrNo"), nil
	}
	if s.txns[orderKey(f["merId"], f["orderId"])] != nil {
		return refusal("12", "重复交易"), nil
	}
	b, ok := s.codes[f["qrNo"]]
	if !ok {
		b = CodeBehavior{Outcome: CodeSuccess}
		if !reC2B.MatchString(f["qrNo"]) {
			b = CodeBehavior{Outcome: CodeDeclined, RespCode: "01", RespMsg: "付款码无效"}
		}
	}
	t := &txn{Txn: Txn{Kind: KindC2B, MerID: f["merId"], OrderID: f["orderId"], Amount: amount,
		Currency: f["currencyCode"], QRNo: f["qrNo"], TermID: f["termId"], BackURL: f["backUrl"], Payer: b.Payer,
		TxnTime: f["txnTime"], CreatedAt: s.now(), Request: f}}
	t.QueryID = s.newQueryID()
	s.store(t)
	switch b.Outcome {
	case CodeDeclined:
		t.Status, t.RespCode, t.RespMsg, t.FinishedAt = StatusFailed, b.RespCode, b.RespMsg, s.now()
		if t.RespCode == "" {
			t.RespCode, t.RespMsg = "01", "交易失败，付款码已失效"
		}
		return consumeAnswer(t), nil
	case CodeProcessing, CodeUnknown:
		t.Status, t.waitQueries, t.charged = StatusProcessing, b.Queries, true
		t.pendingCode, t.RespMsg = "05", "交易已受理，请稍后查询交易结果"
		if b.Outcome == CodeUnknown {
			t.pendingCode, t.RespMsg, t.charged = "04", "交易状态未明，请查询交易结果", b.Charged
		}
		return consumeAnswer(t), nil
	default:
		s.markPaid(t)
		return consumeAnswer(t), []*Notify{s.notice(t)}
	}
}

// findOrig finds the consume a refund, void or close names by origQryId or origOrderId.
func (s *Server) findOrig(f map[string]string) *txn {
	var t *txn
	if q := f["origQryId"]; q != "" {
		t = s.byQueryID[q]
	} else if o := f["origOrderId"]; o != "" {
		t = s.txns[orderKey(f["merId"], o)]
	}
	if t == nil || t.MerID != f["merId"] || (t.Kind != KindQROrder && t.Kind != KindC2B) {
		return nil
	}
	s.expire(t)
	return t
}

// origCode is the origRespCode of a consume in its current state.
func origCode(t *txn) (string, string) {
	if t.Status == StatusProcessing {
		return t.pendingCode, t.RespMsg
	}
	return t.RespCode, t.RespMsg
}

func notFound() answer { return refusal("34", "查无此交易") }

func (s *Server) void(f map[string]string, _ Fault) (answer, []*Notify) {
	t := s.findOrig(f)
	if t == nil {
		return notFound(), nil
	}
	code, msg := origCode(t)
	a := answer{"respCode": "00", "respMsg": "成功[0000000]", "origRespCode": code, "origRespMsg": msg}
	switch t.Status {
	case StatusWaiting, StatusProcessing:
		t.Status, t.RespCode, t.RespMsg, t.FinishedAt = StatusClosed, "01", "订单已关闭", s.now()
	case StatusSucceeded:
		if left := t.Amount - t.Refunded; left > 0 {
			v := &txn{Txn: Txn{Kind: KindVoid, MerID: t.MerID, QueryID: s.newQueryID(), Status: StatusSucceeded,
				RespCode: "00", RespMsg: "成功[0000000]", Amount: left, Currency: t.Currency, TxnTime: f["txnTime"],
				CreatedAt: s.now(), FinishedAt: s.now(), OrigOrderID: t.OrderID, OrigQueryID: t.QueryID,
				Fee: s.fee(left), Request: f}}
			s.store(v)
			a["queryId"] = v.QueryID
			t.Refunded = t.Amount
		}
		t.Status = StatusVoided
	}
	return a, nil
}

func (s *Server) closeOrder(f map[string]string, _ Fault) (answer, []*Notify) {
	t := s.findOrig(f)
	if t == nil {
		return notFound(), nil
	}
	switch t.Status {
	case StatusSucceeded:
		return answer{"respCode": "35", "respMsg": "原交易状态不正确：已支付", "origRespCode": "00"}, nil
	case StatusVoided:
		return answer{"respCode": "35", "respMsg": "原交易状态不正确：已撤销", "origRespCode": "00",
			"origTxnStatus": "voided"}, nil
	case StatusWaiting, StatusProcessing:
		t.Status, t.RespCode, t.RespMsg, t.FinishedAt = StatusClosed, "01", "订单已关闭", s.now()
	}
	return answer{"respCode": "00", "respMsg": "成功[0000000]"}, nil
}

func refundAnswer(r *txn) answer {
	return answer{"respCode": r.RespCode, "respMsg": r.RespMsg, "queryId": r.QueryID,
		"origQryId": r.OrigQueryID, "origOrderId": r.OrigOrderID, "txnAmt": fmt.Sprint(r.Amount),
		"currencyCode": r.Currency, "finishTime": r.FinishedAt.Format(timeLayout)}
}

func (s *Server) refund(f map[string]string, _ Fault) (answer, []*Notify) {
	amount, _, ok := money(f)
	switch {
	case !reOrderID.MatchString(f["orderId"]):
		return refusal("10", "orderId 格式错误"), nil
	case !ok:
		return refusal("10", "txnAmt 或 currencyCode 格式错误"), nil
	}
	t := s.findOrig(f)
	if t == nil {
		return notFound(), nil
	}
	if old := s.txns[orderKey(f["merId"], f["orderId"])]; old != nil {
		if old.Kind == KindRefund && old.OrigQueryID == t.QueryID && old.Amount == amount {
			return refundAnswer(old), nil
		}
		return refusal("12", "重复交易"), nil
	}
	switch {
	case t.Status == StatusClosed || t.Status == StatusVoided:
		return answer{"respCode": "35", "respMsg": "原交易状态不正确", "origTxnStatus": t.Status}, nil
	case t.Status != StatusSucceeded:
		return refusal("35", "原交易状态不正确：未支付"), nil
	case f["currencyCode"] != t.Currency || amount > t.Amount-t.Refunded:
		return refusal("36", "与原交易信息不符：退货金额超限"), nil
	}
	r := &txn{Txn: Txn{Kind: KindRefund, MerID: t.MerID, OrderID: f["orderId"], QueryID: s.newQueryID(),
		Status: StatusSucceeded, RespCode: "00", RespMsg: "成功[0000000]", Amount: amount, Currency: t.Currency,
		BackURL: f["backUrl"], TxnTime: f["txnTime"], CreatedAt: s.now(), FinishedAt: s.now(),
		OrigOrderID: t.OrderID, OrigQueryID: t.QueryID, Fee: s.fee(amount), Request: f}}
	s.store(r)
	t.Refunded += amount
	return refundAnswer(r), []*Notify{s.notice(r)}
}

func (s *Server) query(f map[string]string, _ Fault) (answer, []*Notify) {
	var t *txn
	if q := f["queryId"]; q != "" {
		t = s.byQueryID[q]
	} else if o := f["orderId"]; o != "" {
		t = s.txns[orderKey(f["merId"], o)]
	}
	if t == nil || t.MerID != f["merId"] || (f["orderId"] != "" && t.OrderID != f["orderId"]) {
		return notFound(), nil
	}
	s.expire(t)
	var notices []*Notify
	if t.Status == StatusProcessing {
		if t.waitQueries > 0 {
			t.waitQueries--
		} else if t.charged {
			s.markPaid(t)
			notices = append(notices, s.notice(t))
		} else {
			t.Status, t.RespCode, t.RespMsg, t.FinishedAt = StatusFailed, "01", "交易失败", s.now()
		}
	}
	code, msg := origCode(t)
	a := answer{"respCode": "00", "respMsg": "成功[0000000]", "origRespCode": code, "origRespMsg": msg,
		"txnAmt": fmt.Sprint(t.Amount), "currencyCode": t.Currency}
	a.set("orderId", t.OrderID).set("queryId", t.QueryID).set("origOrderId", t.OrigOrderID).set("origQryId", t.OrigQueryID)
	switch t.Kind {
	case KindRefund:
		a["origTxnType"] = "04"
	case KindVoid:
		a["origTxnType"] = "31"
	default:
		a["origTxnType"] = "01"
		a.set("accNo", t.Payer)
	}
	switch t.Status {
	case StatusClosed, StatusVoided:
		a["origTxnStatus"] = t.Status
	}
	if t.Status == StatusSucceeded || t.Status == StatusVoided {
		a["finishTime"] = t.FinishedAt.Format(timeLayout)
	}
	return a, notices
}
