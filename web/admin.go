package web

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/qrpay/qrpay"
	"github.com/qrpay/qrpay/merchant"
)

// registerAdminRoutes lists the operator API (/admin/v1) for merchants and access. Every route
// needs an operator's bearer token (adminAuth); the merchant service checks roles: reviewers
// read, approve and reject, admins do everything.
func (s *Server) registerAdminRoutes(g *echo.Group) {
	g.POST("/merchants", s.handleAdminMerchantCreate)
	g.GET("/merchants", s.handleAdminMerchantList)
	g.GET("/merchants/:id", s.handleAdminMerchantView)
	// Reviewers decide applications; everything else that changes something is for admins.
	for _, action := range []string{"approve", "reject", "submit"} {
		g.POST("/merchants/:id/"+action, s.handleAdminMerchantMove(action))
	}
	for _, action := range []string{"freeze", "unfreeze", "close"} {
		g.POST("/merchants/:id/"+action, s.handleAdminMerchantMove(action), requireAdmin)
	}
	g.GET("/merchants/:id/history", s.handleAdminHistory)
	g.GET("/merchants/:id/fee_rates", s.handleAdminFeeRates)
	g.PUT("/merchants/:id/fee_rates", s.handleAdminFeeRatesSet, requireAdmin)
	g.GET("/merchants/:id/fee_rates/history", s.handleAdminFeeRateHistory)
	g.GET("/merchants/:id/bindings", s.handleAdminBindings)
	g.PUT("/merchants/:id/bindings", s.handleAdminBindingsPut, requireAdmin)
	g.POST("/merchants/:id/bindings", s.handleAdminBindingPost, requireAdmin)
	g.GET("/merchants/:id/documents", s.handleAdminDocuments)
	g.POST("/merchants/:id/documents", s.handleAdminDocumentAdd, requireAdmin)
	g.GET("/merchants/:id/documents/:doc", s.handleAdminDocumentContent)
	g.GET("/merchants/:id/stores", s.handleAdminStores)
	g.POST("/merchants/:id/stores", s.handleAdminStoreCreate, requireAdmin)
	g.POST("/merchants/:id/stores/:store/disable", s.handleAdminStoreStatus("disabled"), requireAdmin)
	g.POST("/merchants/:id/stores/:store/enable", s.handleAdminStoreStatus("active"), requireAdmin)
	g.GET("/merchants/:id/terminals", s.handleAdminTerminals)
	g.POST("/merchants/:id/terminals", s.handleAdminTerminalCreate, requireAdmin)
	g.POST("/merchants/:id/terminals/:terminal/disable", s.handleAdminTerminalStatus("disabled"), requireAdmin)
	g.POST("/merchants/:id/terminals/:terminal/enable", s.handleAdminTerminalStatus("active"), requireAdmin)
	g.POST("/merchants/:id/terminals/:terminal/reset_pin", s.handleAdminTerminalPIN, requireAdmin)
	g.GET("/merchants/:id/stickers", s.handleAdminStickers)
	g.POST("/merchants/:id/stickers", s.handleAdminStickerCreate, requireAdmin)
	g.GET("/merchants/:id/stickers/sheet.pdf", s.handleAdminStickerSheet)
	g.GET("/merchants/:id/stickers/:sticker", s.handleAdminSticker)
	g.GET("/merchants/:id/stickers/:sticker/image", s.handleAdminStickerImage)
	g.POST("/merchants/:id/stickers/:sticker/bind", s.handleAdminStickerBind, requireAdmin)
	g.POST("/merchants/:id/stickers/:sticker/unbind", s.handleAdminStickerUnbind, requireAdmin)
	g.POST("/merchants/:id/stickers/:sticker/revoke", s.handleAdminStickerRevoke, requireAdmin)
	g.GET("/merchants/:id/api_keys", s.handleAdminKeys)
	g.POST("/merchants/:id/api_keys", s.handleAdminKeyCreate, requireAdmin)
	g.POST("/merchants/:id/api_keys/:key/rotate", s.handleAdminKeyRotate, requireAdmin)
	g.POST("/merchants/:id/api_keys/:key/revoke", s.handleAdminKeyRevoke, requireAdmin)
	g.GET("/merchants/:id/webhook_endpoints", s.handleAdminEndpoints)
	g.POST("/merchants/:id/webhook_endpoints", s.handleAdminEndpointCreate, requireAdmin)
	g.DELETE("/merchants/:id/webhook_endpoints/:endpoint", s.handleAdminEndpointDelete, requireAdmin)
	g.POST("/merchants/:id/webhook_endpoints/:endpoint/rotate", s.handleAdminEndpointRotate, requireAdmin)
	g.GET("/merchants/:id/users", s.handleAdminUsers)
	g.POST("/merchants/:id/users", s.handleAdminUserCreate, requireAdmin)
	g.POST("/merchants/:id/users/:user/reset_password", s.handleAdminUserReset, requireAdmin)
	g.POST("/merchants/:id/users/:user/disable", s.handleAdminUserStatus("disabled"), requireAdmin)
	g.POST("/merchants/:id/users/:user/enable", s.handleAdminUserStatus("active"), requireAdmin)
	g.GET("/audit", s.handleAdminAudit)
	g.GET("/operators", s.handleAdminOperators)
	g.POST("/operators", s.handleAdminOperatorCreate, requireAdmin)
	g.POST("/operators/:user/reset_password", s.handleAdminOperatorReset, requireAdmin)
	g.POST("/operators/:user/disable", s.handleAdminOperatorStatus("disabled"), requireAdmin)
	g.POST("/operators/:user/enable", s.handleAdminOperatorStatus("active"), requireAdmin)
	g.POST("/operators/:user/tokens", s.handleAdminOperatorToken, requireAdmin)
}

// readBody reads a JSON body into v strictly; an empty body is allowed when optional (the
// lifecycle actions take {} or nothing).
func readBody(c echo.Context, v any, optional bool) error {
	b, err := readAll(c)
	if err != nil {
		return err
	}
	if optional && len(bytes.TrimSpace(b)) == 0 {
		return nil
	}
	return decodeJSON(b, v)
}

// adminMerchant loads the merchant of the route, so that every sub-resource of an unknown
// merchant is 404.
func (s *Server) adminMerchant(c echo.Context) (*merchant.Merchant, error) {
	return s.Merchants.Merchant(c.Request().Context(), c.Param("id"))
}

// merchantList answers what load lists of the route's merchant (404 for an unknown merchant),
// each shown by show.
func merchantList[T, U any](s *Server, c echo.Context, load func(context.Context, string) ([]T, error), show func(T) U) error {
	if _, err := s.adminMerchant(c); err != nil {
		return err
	}
	xs, err := load(c.Request().Context(), c.Param("id"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, List{Object: "list", Data: objects(xs, show)})
}

type merchantCreateBody struct {
	merchant.Application
	Draft bool `json:"draft"`
}

func (s *Server) handleAdminMerchantCreate(c echo.Context) error {
	var b merchantCreateBody
	if err := readBody(c, &b, false); err != nil {
		// Type errors of the embedded application's fields name them with its struct's name.
		var qe *qrpay.Error
		if errors.As(err, &qe) && strings.HasPrefix(qe.Param, "Application.") {
			qe.Param = strings.TrimPrefix(qe.Param, "Application.")
			qe.Message = strings.ReplaceAll(qe.Message, "Application.", "")
		}
		return err
	}
	res, err := s.Merchants.Submit(c.Request().Context(), operatorActor(c), b.Application,
		merchant.ApplyOptions{Source: "operator", Draft: b.Draft})
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, res.Merchant.View())
}

func (s *Server) handleAdminMerchantList(c echo.Context) error {
	limit, err := intParam(c, "limit")
	if err != nil {
		return err
	}
	st := merchant.Status(c.QueryParam("status"))
	if st != "" && !validStatus(st) {
		return qrpay.Invalid("status", "Unknown status %q.", st)
	}
	ms, more, err := s.Merchants.Merchants(c.Request().Context(), merchant.Filter{Status: st, Search: strings.TrimSpace(c.QueryParam("q")),
		USCC: c.QueryParam("uscc"), Limit: limit, StartingAfter: c.QueryParam("starting_after")})
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, List{Object: "list", Data: objects(ms, (*merchant.Merchant).View), HasMore: more})
}

func validStatus(st merchant.Status) bool {
	switch st {
	case merchant.StatusDraft, merchant.StatusSubmitted, merchant.StatusApproved, merchant.StatusRejected,
		merchant.StatusActive, merchant.StatusFrozen, merchant.StatusClosed:
		return true
	}
	return false
}

func (s *Server) handleAdminMerchantView(c echo.Context) error {
	m, err := s.adminMerchant(c)
	return reply(c, http.StatusOK, (*merchant.Merchant).View, m, err)
}

func (s *Server) handleAdminMerchantMove(action string) echo.HandlerFunc {
	return func(c echo.Context) error {
		var b struct {
			Reason string `json:"reason"`
		}
		if err := readBody(c, &b, true); err != nil {
			return err
		}
		m, err := s.Merchants.Move(c.Request().Context(), operatorActor(c), c.Param("id"), action, b.Reason)
		return reply(c, http.StatusOK, (*merchant.Merchant).View, m, err)
	}
}

// StatusChangeObject is a lifecycle step as the operator API shows it.
type StatusChangeObject struct {
	ID        string    `json:"id"`
	Action    string    `json:"action"`
	From      string    `json:"from"`
	To        string    `json:"to"`
	Reason    string    `json:"reason,omitempty"`
	ActorKind string    `json:"actor_kind"`
	ActorID   string    `json:"actor_id"`
	ActorName string    `json:"actor_name"`
	CreatedAt time.Time `json:"created_at"`
}

func statusChangeObject(h *merchant.StatusChange) StatusChangeObject {
	return StatusChangeObject{ID: h.ID, Action: h.Action, From: string(h.From), To: string(h.To), Reason: h.Reason,
		ActorKind: h.ActorKind, ActorID: h.ActorID, ActorName: h.ActorName, CreatedAt: h.CreatedAt}
}

func (s *Server) handleAdminHistory(c echo.Context) error {
	return merchantList(s, c, s.Merchants.StatusHistory, statusChangeObject)
}

func (s *Server) handleAdminFeeRates(c echo.Context) error {
	m, err := s.adminMerchant(c)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, m.View().FeeRates)
}

func (s *Server) handleAdminFeeRatesSet(c echo.Context) error {
	// Either {"alipay": 38, ...} or {"fee_rates": {...}}.
	var raw map[string]any
	if err := readBody(c, &raw, false); err != nil {
		return err
	}
	if inner, ok := raw["fee_rates"].(map[string]any); ok && len(raw) == 1 {
		raw = inner
	}
	rates := map[string]int{}
	for ch, v := range raw {
		n, ok := v.(interface{ Int64() (int64, error) })
		if !ok {
			return qrpay.Invalid(ch, "%s must be an integer number of basis points.", ch)
		}
		bps, err := n.Int64()
		if err != nil || bps < 0 || bps > 10000 {
			return qrpay.Invalid(ch, "%s must be 0 to 10000 basis points.", ch)
		}
		rates[ch] = int(bps)
	}
	m, err := s.Merchants.SetFeeRates(c.Request().Context(), operatorActor(c), c.Param("id"), rates)
	return reply(c, http.StatusOK, (*merchant.Merchant).View, m, err)
}

// FeeRateChangeObject is a fee rate change as the operator API shows it.
type FeeRateChangeObject struct {
	ID        string    `json:"id"`
	Channel   string    `json:"channel"`
	Old       *int      `json:"old_bps"`
	New       int       `json:"new_bps"`
	ActorID   string    `json:"actor_id"`
	ActorName string    `json:"actor_name"`
	CreatedAt time.Time `json:"created_at"`
}

func feeRateChangeObject(h *merchant.FeeRateChange) FeeRateChangeObject {
	return FeeRateChangeObject{ID: h.ID, Channel: h.Channel, Old: h.Old, New: h.New, ActorID: h.ActorID,
		ActorName: h.ActorName, CreatedAt: h.CreatedAt}
}

func (s *Server) handleAdminFeeRateHistory(c echo.Context) error {
	return merchantList(s, c, s.Merchants.FeeRateHistory, feeRateChangeObject)
}

// BindingObject is a channel binding as the operator API shows it.
type BindingObject struct {
	ID            string    `json:"id"`
	Object        string    `json:"object"`
	Channel       string    `json:"channel"`
	AccountID     string    `json:"account_id"`
	SubMerchantID string    `json:"sub_merchant_id"`
	Weight        int       `json:"weight"`
	Status        string    `json:"status"`
	CreatedAt     time.Time `json:"created_at"`
}

func bindingObject(b merchant.Binding) BindingObject {
	return BindingObject{ID: b.ID, Object: "binding", Channel: b.Channel, AccountID: b.AccountID, SubMerchantID: b.SubMerchantID,
		Weight: b.Weight, Status: b.Status, CreatedAt: b.CreatedAt}
}

func (s *Server) bindingList(c echo.Context) error {
	bs, err := s.Merchants.Bindings(c.Request().Context(), c.Param("id"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, List{Object: "list", Data: objects(bs, bindingObject)})
}

func (s *Server) handleAdminBindings(c echo.Context) error {
	return merchantList(s, c, s.Merchants.Bindings, bindingObject)
}

// checkAccount refuses a binding to a channel account this server does not have, or of
// another channel.
func (s *Server) checkAccount(in merchant.BindingInput) error {
	if s.Gateway == nil || s.Gateway.Router == nil {
		return nil
	}
	acc, ok := s.Gateway.Router.Account(in.AccountID)
	if !ok {
		return qrpay.Invalid("account_id", "No channel account %q is configured.", in.AccountID)
	}
	if acc.Channel != in.Channel {
		return qrpay.Invalid("account_id", "Channel account %q is a %s account.", in.AccountID, acc.Channel)
	}
	return nil
}

// handleAdminBindingsPut sets several bindings: {"bindings": [...]} or a bare array; each is
// created or changed (bindings not named stay as they are).
func (s *Server) handleAdminBindingsPut(c echo.Context) error {
	if _, err := s.adminMerchant(c); err != nil {
		return err
	}
	b, err := readAll(c)
	if err != nil {
		return err
	}
	var list []merchant.BindingInput
	if t := bytes.TrimSpace(b); len(t) > 0 && t[0] == '[' {
		err = decodeJSON(b, &list)
	} else {
		var wrap struct {
			Bindings []merchant.BindingInput `json:"bindings"`
		}
		err = decodeJSON(b, &wrap)
		list = wrap.Bindings
	}
	if err != nil {
		return err
	}
	for _, in := range list {
		if err := s.checkAccount(in); err != nil {
			return err
		}
	}
	for _, in := range list {
		if _, err := s.Merchants.SetBinding(c.Request().Context(), operatorActor(c), c.Param("id"), in); err != nil {
			return err
		}
	}
	return s.bindingList(c)
}

func (s *Server) handleAdminBindingPost(c echo.Context) error {
	var in merchant.BindingInput
	if err := readBody(c, &in, false); err != nil {
		return err
	}
	if _, err := s.adminMerchant(c); err != nil {
		return err
	}
	if err := s.checkAccount(in); err != nil {
		return err
	}
	b, err := s.Merchants.SetBinding(c.Request().Context(), operatorActor(c), c.Param("id"), in)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, bindingObject(*b))
}

// DocumentObject is an application document as the operator API shows it.
type DocumentObject struct {
	ID          string    `json:"id"`
	Object      string    `json:"object"`
	Kind        string    `json:"kind"`
	ContentType string    `json:"content_type"`
	Size        int64     `json:"size"`
	SHA256      string    `json:"sha256"`
	CreatedAt   time.Time `json:"created_at"`
}

func documentObject(d *merchant.Document) DocumentObject {
	return DocumentObject{ID: d.ID, Object: "document", Kind: d.Kind, ContentType: d.ContentType, Size: d.Size,
		SHA256: d.SHA256, CreatedAt: d.CreatedAt}
}

func (s *Server) handleAdminDocuments(c echo.Context) error {
	return merchantList(s, c, s.Merchants.Documents, documentObject)
}

// handleAdminDocumentAdd takes a multipart form with "kind" and "file".
func (s *Server) handleAdminDocumentAdd(c echo.Context) error {
	if _, err := s.adminMerchant(c); err != nil {
		return err
	}
	data, err := formFile(c, "file")
	if err != nil {
		return err
	}
	d, err := s.Merchants.AddDocument(c.Request().Context(), operatorActor(c), c.Param("id"),
		merchant.Upload{Kind: c.FormValue("kind"), Data: data})
	return reply(c, http.StatusCreated, documentObject, d, err)
}

// formFile reads an uploaded file of a multipart form, up to one byte past the document limit
// (so that the service can say it is too large). A missing file is nil.
func formFile(c echo.Context, field string) ([]byte, error) {
	fh, err := c.FormFile(field)
	if errors.Is(err, http.ErrMissingFile) {
		return nil, nil
	} else if err != nil {
		var tl *tooLarge
		if errors.As(err, &tl) {
			return nil, tl
		}
		return nil, qrpay.Invalid(field, "Send a multipart form with a %s file.", field)
	}
	f, err := fh.Open()
	if err != nil {
		return nil, qrpay.Invalid(field, "The file could not be read.")
	}
	defer f.Close()
	return io.ReadAll(io.LimitReader(f, merchant.MaxDocumentSize+1))
}

func (s *Server) handleAdminDocumentContent(c echo.Context) error {
	return s.serveDocument(c, c.Param("id"), c.Param("doc"))
}

// serveDocument writes a document's content, as an attachment unless it is an image.
func (s *Server) serveDocument(c echo.Context, merchantID, id string) error {
	d, data, err := s.Merchants.OpenDocument(c.Request().Context(), merchantID, id)
	if err != nil {
		return err
	}
	h := c.Response().Header()
	h.Set("Cache-Control", "private, no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	if d.ContentType == "application/pdf" {
		h.Set("Content-Disposition", `attachment; filename="`+d.Kind+`.pdf"`)
	}
	return c.Blob(http.StatusOK, d.ContentType, data)
}

// StoreObject is a store as the APIs show it.
type StoreObject struct {
	ID        string    `json:"id"`
	Object    string    `json:"object"`
	Name      string    `json:"name"`
	City      string    `json:"city"`
	Address   string    `json:"address"`
	Status    string    `json:"status"`
	CreatedAt time.Time `json:"created_at"`
}

func storeObject(st *merchant.Store) StoreObject {
	return StoreObject{ID: st.ID, Object: "store", Name: st.Name, City: st.City, Address: st.Address, Status: st.Status, CreatedAt: st.CreatedAt}
}

func (s *Server) handleAdminStores(c echo.Context) error {
	return merchantList(s, c, s.Merchants.Stores, storeObject)
}

func (s *Server) handleAdminStoreCreate(c echo.Context) error {
	var b struct {
		Name    string `json:"name"`
		City    string `json:"city"`
		Address string `json:"address"`
	}
	if err := readBody(c, &b, false); err != nil {
		return err
	}
	st, err := s.Merchants.CreateStore(c.Request().Context(), operatorActor(c), c.Param("id"), b.Name, b.City, b.Address)
	return reply(c, http.StatusCreated, storeObject, st, err)
}

func (s *Server) handleAdminStoreStatus(status string) echo.HandlerFunc {
	return func(c echo.Context) error {
		st, err := s.Merchants.SetStoreStatus(c.Request().Context(), operatorActor(c), c.Param("id"), c.Param("store"), status)
		return reply(c, http.StatusOK, storeObject, st, err)
	}
}

// TerminalObject is a terminal as the APIs show it; the PIN only when it was just set.
type TerminalObject struct {
	ID        string    `json:"id"`
	Object    string    `json:"object"`
	StoreID   string    `json:"store_id"`
	Name      string    `json:"name"`
	Code      string    `json:"code"`
	Status    string    `json:"status"`
	PIN       string    `json:"pin,omitempty"`
	CreatedAt time.Time `json:"created_at"`
}

func terminalObject(t *merchant.Terminal) TerminalObject {
	return TerminalObject{ID: t.ID, Object: "terminal", StoreID: t.StoreID, Name: t.Name, Code: t.Code, Status: t.Status, CreatedAt: t.CreatedAt}
}

func (s *Server) handleAdminTerminals(c echo.Context) error {
	return merchantList(s, c, s.Merchants.Terminals, terminalObject)
}

func (s *Server) handleAdminTerminalCreate(c echo.Context) error {
	var b struct {
		StoreID string `json:"store_id"`
		Name    string `json:"name"`
		PIN     string `json:"pin"`
	}
	if err := readBody(c, &b, false); err != nil {
		return err
	}
	pin := b.PIN
	if pin == "" {
		var err error
		if pin, err = merchant.RandomPIN(); err != nil {
			return err
		}
	}
	t, err := s.Merchants.CreateTerminal(c.Request().Context(), operatorActor(c), c.Param("id"), b.StoreID, b.Name, pin)
	if err != nil {
		return err
	}
	o := terminalObject(t)
	o.PIN = pin
	return c.JSON(http.StatusCreated, o)
}

func (s *Server) handleAdminTerminalStatus(status string) echo.HandlerFunc {
	return func(c echo.Context) error {
		t, err := s.Merchants.SetTerminalStatus(c.Request().Context(), operatorActor(c), c.Param("id"), c.Param("terminal"), status)
		return reply(c, http.StatusOK, terminalObject, t, err)
	}
}

func (s *Server) handleAdminTerminalPIN(c echo.Context) error {
	var b struct {
		PIN string `json:"pin"`
	}
	if err := readBody(c, &b, true); err != nil {
		return err
	}
	ctx := c.Request().Context()
	pin, err := s.Merchants.ResetTerminalPIN(ctx, operatorActor(c), c.Param("id"), c.Param("terminal"), b.PIN)
	if err != nil {
		return err
	}
	t, err := s.Merchants.Store.FindTerminal(ctx, c.Param("id"), c.Param("terminal"))
	if err != nil {
		return err
	}
	o := terminalObject(t)
	o.PIN = pin
	return c.JSON(http.StatusOK, o)
}

// StickerObject is a sticker as the APIs show it, with the URL its code holds.
type StickerObject struct {
	ID         string     `json:"id"`
	Object     string     `json:"object"`
	StoreID    string     `json:"store_id,omitempty"`
	TerminalID string     `json:"terminal_id,omitempty"`
	BatchID    string     `json:"batch_id"`
	Label      string     `json:"label"`
	Status     string     `json:"status"`
	URL        string     `json:"url"`
	CreatedAt  time.Time  `json:"created_at"`
	RevokedAt  *time.Time `json:"revoked_at,omitempty"`
}

func (s *Server) stickerObject(c echo.Context, st *merchant.Sticker) (StickerObject, error) {
	u, err := s.Merchants.StickerURL(c.Request().Context(), s.PublicURL, st.ID)
	if err != nil {
		return StickerObject{}, err
	}
	return StickerObject{ID: st.ID, Object: "sticker", StoreID: st.StoreID, TerminalID: st.TerminalID, BatchID: st.BatchID,
		Label: st.Label, Status: st.Status, URL: u, CreatedAt: st.CreatedAt, RevokedAt: st.RevokedAt}, nil
}

func (s *Server) stickerList(c echo.Context, status int, sts []*merchant.Sticker) error {
	out := make([]StickerObject, len(sts))
	for i, st := range sts {
		o, err := s.stickerObject(c, st)
		if err != nil {
			return err
		}
		out[i] = o
	}
	return c.JSON(status, List{Object: "list", Data: out})
}

func (s *Server) handleAdminStickers(c echo.Context) error {
	if _, err := s.adminMerchant(c); err != nil {
		return err
	}
	sts, err := s.Merchants.Stickers(c.Request().Context(), c.Param("id"), c.QueryParam("batch_id"))
	if err != nil {
		return err
	}
	return s.stickerList(c, http.StatusOK, sts)
}

func (s *Server) handleAdminStickerCreate(c echo.Context) error {
	var b struct {
		StoreID string `json:"store_id"`
		Count   *int   `json:"count"`
		Label   string `json:"label"`
	}
	if err := readBody(c, &b, false); err != nil {
		return err
	}
	n := 1
	if b.Count != nil {
		n = *b.Count
	}
	sts, err := s.Merchants.CreateStickers(c.Request().Context(), operatorActor(c), c.Param("id"), b.StoreID, n, b.Label)
	if err != nil {
		return err
	}
	return s.stickerList(c, http.StatusCreated, sts)
}

func (s *Server) handleAdminSticker(c echo.Context) error {
	return s.stickerAction(c, func() (*merchant.Sticker, error) {
		return s.Merchants.Sticker(c.Request().Context(), c.Param("id"), c.Param("sticker"))
	})
}

func (s *Server) handleAdminStickerImage(c echo.Context) error {
	return s.serveStickerImage(c, c.Param("id"), c.Param("sticker"))
}

func (s *Server) handleAdminStickerSheet(c echo.Context) error {
	return s.serveStickerSheet(c, c.Param("id"), c.QueryParam("batch_id"))
}

func (s *Server) handleAdminStickerBind(c echo.Context) error {
	var b struct {
		StoreID    string `json:"store_id"`
		TerminalID string `json:"terminal_id"`
	}
	if err := readBody(c, &b, false); err != nil {
		return err
	}
	if b.StoreID == "" {
		return qrpay.Invalid("store_id", "Name the store to bind the sticker to.")
	}
	return s.stickerAction(c, func() (*merchant.Sticker, error) {
		return s.Merchants.BindSticker(c.Request().Context(), operatorActor(c), c.Param("id"), c.Param("sticker"), b.StoreID, b.TerminalID)
	})
}

func (s *Server) handleAdminStickerUnbind(c echo.Context) error {
	return s.stickerAction(c, func() (*merchant.Sticker, error) {
		return s.Merchants.BindSticker(c.Request().Context(), operatorActor(c), c.Param("id"), c.Param("sticker"), "", "")
	})
}

func (s *Server) handleAdminStickerRevoke(c echo.Context) error {
	return s.stickerAction(c, func() (*merchant.Sticker, error) {
		return s.Merchants.RevokeSticker(c.Request().Context(), operatorActor(c), c.Param("id"), c.Param("sticker"))
	})
}

func (s *Server) stickerAction(c echo.Context, f func() (*merchant.Sticker, error)) error {
	st, err := f()
	if err != nil {
		return err
	}
	o, err := s.stickerObject(c, st)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, o)
}

// APIKeyObject is an API key as the APIs show it; the secret only when it was just made.
type APIKeyObject struct {
	ID        string     `json:"id"`
	Object    string     `json:"object"`
	Mode      string     `json:"mode"`
	Status    string     `json:"status"`
	Secret    string     `json:"secret,omitempty"`
	ExpiresAt *time.Time `json:"expires_at"`
	CreatedAt time.Time  `json:"created_at"`
	RevokedAt *time.Time `json:"revoked_at,omitempty"`
}

// keyObject shows an API key without its secret.
func keyObject(k *merchant.APIKey) APIKeyObject {
	return APIKeyObject{ID: k.ID, Object: "api_key", Mode: k.Mode, Status: k.Status, ExpiresAt: k.ExpiresAt, CreatedAt: k.CreatedAt,
		RevokedAt: k.RevokedAt}
}

// newKeyObject shows a key that was just made, with its secret.
func newKeyObject(k *merchant.APIKey) APIKeyObject {
	o := keyObject(k)
	o.Secret = k.Secret
	return o
}

func (s *Server) handleAdminKeys(c echo.Context) error {
	return merchantList(s, c, s.Merchants.APIKeys, keyObject)
}

func (s *Server) handleAdminKeyCreate(c echo.Context) error {
	var b struct {
		Mode string `json:"mode"`
	}
	if err := readBody(c, &b, false); err != nil {
		return err
	}
	k, err := s.Merchants.CreateAPIKey(c.Request().Context(), operatorActor(c), c.Param("id"), b.Mode)
	return reply(c, http.StatusCreated, newKeyObject, k, err)
}

func (s *Server) handleAdminKeyRotate(c echo.Context) error {
	overlap, err := overlapOf(c)
	if err != nil {
		return err
	}
	k, old, err := s.Merchants.RotateAPIKey(c.Request().Context(), operatorActor(c), c.Param("id"), c.Param("key"), overlap)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, map[string]any{"new": newKeyObject(k), "old": keyObject(old),
		"id": k.ID, "secret": k.Secret})
}

func (s *Server) handleAdminKeyRevoke(c echo.Context) error {
	k, err := s.Merchants.RevokeAPIKey(c.Request().Context(), operatorActor(c), c.Param("id"), c.Param("key"))
	return reply(c, http.StatusOK, keyObject, k, err)
}

func (s *Server) handleAdminEndpoints(c echo.Context) error {
	return merchantList(s, c, s.Merchants.Endpoints, endpointObject)
}

func (s *Server) handleAdminEndpointCreate(c echo.Context) error {
	var b struct {
		URL string `json:"url"`
	}
	if err := readBody(c, &b, false); err != nil {
		return err
	}
	e, err := s.Merchants.CreateEndpoint(c.Request().Context(), operatorActor(c), c.Param("id"), b.URL)
	return reply(c, http.StatusCreated, newEndpointObject, e, err)
}

func (s *Server) handleAdminEndpointRotate(c echo.Context) error {
	overlap, err := overlapOf(c)
	if err != nil {
		return err
	}
	e, err := s.Merchants.RotateEndpointSecret(c.Request().Context(), operatorActor(c), c.Param("id"), c.Param("endpoint"), overlap)
	return reply(c, http.StatusOK, newEndpointObject, e, err)
}

func (s *Server) handleAdminEndpointDelete(c echo.Context) error {
	e, err := s.Merchants.DeleteEndpoint(c.Request().Context(), operatorActor(c), c.Param("id"), c.Param("endpoint"))
	return reply(c, http.StatusOK, endpointObject, e, err)
}

// UserObject is a user as the APIs show it; a password only when one was just made up.
type UserObject struct {
	ID                 string     `json:"id"`
	Object             string     `json:"object"`
	MerchantID         string     `json:"merchant_id,omitempty"`
	Login              string     `json:"login"`
	DisplayName        string     `json:"display_name"`
	Role               string     `json:"role"`
	Status             string     `json:"status"`
	TOTPEnabled        bool       `json:"totp_enabled"`
	MustChangePassword bool       `json:"must_change_password"`
	Locked             bool       `json:"locked"`
	Password           string     `json:"password,omitempty"`
	CreatedAt          time.Time  `json:"created_at"`
	LastLoginAt        *time.Time `json:"last_login_at"`
}

// userObject shows a user; locked is as of now.
func (s *Server) userObject(u *merchant.User) UserObject {
	now := s.Clock.Now()
	return UserObject{ID: u.ID, Object: "user", MerchantID: u.MerchantID, Login: u.Login, DisplayName: u.DisplayName, Role: u.Role,
		Status: u.Status, TOTPEnabled: u.TOTPEnabled, MustChangePassword: u.MustChangePassword,
		Locked: u.LockedUntil != nil && now.Before(*u.LockedUntil), CreatedAt: u.CreatedAt, LastLoginAt: u.LastLoginAt}
}

func (s *Server) handleAdminUsers(c echo.Context) error {
	return merchantList(s, c, s.Merchants.Users, s.userObject)
}

func (s *Server) handleAdminUserCreate(c echo.Context) error {
	return s.createUser(c, true)
}

// createUser adds a user of the route's merchant, or else an operator (admin or reviewer).
// Without a password one is made up and returned once; either way the user must choose their
// own at the first login.
func (s *Server) createUser(c echo.Context, ofMerchant bool) error {
	var b struct {
		Login       string `json:"login"`
		DisplayName string `json:"display_name"`
		Role        string `json:"role"`
		Password    string `json:"password"`
	}
	if err := readBody(c, &b, false); err != nil {
		return err
	}
	var merchantID string
	if ofMerchant {
		m, err := s.adminMerchant(c)
		if err != nil {
			return err
		}
		merchantID = m.ID
		if !merchantRole(b.Role) {
			return qrpay.Invalid("role", "A merchant user's role is owner, counter or readonly.")
		}
	} else if !merchant.IsOperatorRole(b.Role) {
		return qrpay.Invalid("role", "An operator's role is admin or reviewer.")
	}
	pw := b.Password
	if pw == "" {
		pw = merchant.RandomPassword()
	}
	u, err := s.Merchants.CreateUser(c.Request().Context(), operatorActor(c), merchant.NewUser{MerchantID: merchantID,
		Login: b.Login, DisplayName: b.DisplayName, Password: pw, Role: b.Role, MustChangePassword: true})
	if err != nil {
		return err
	}
	o := s.userObject(u)
	if b.Password == "" {
		o.Password = pw
	}
	return c.JSON(http.StatusCreated, o)
}

func merchantRole(r string) bool {
	for _, m := range merchantRoles {
		if m == r {
			return true
		}
	}
	return false
}

func (s *Server) handleAdminUserReset(c echo.Context) error {
	return s.resetPassword(c, c.Param("id"), c.Param("user"))
}

// resetPassword sets a user's password (or a made-up one, returned once) and asks for a change
// at the next login.
func (s *Server) resetPassword(c echo.Context, merchantID, userID string) error {
	var b struct {
		Password string `json:"password"`
	}
	if err := readBody(c, &b, true); err != nil {
		return err
	}
	ctx := c.Request().Context()
	u, err := s.Merchants.User(ctx, merchantID, userID)
	if err != nil {
		return err
	}
	pw := b.Password
	if pw == "" {
		pw = merchant.RandomPassword()
	}
	if err := s.Merchants.ResetPassword(ctx, operatorActor(c), u.ID, pw); err != nil {
		return err
	}
	u, err = s.Merchants.User(ctx, merchantID, u.ID)
	if err != nil {
		return err
	}
	o := s.userObject(u)
	if b.Password == "" {
		o.Password = pw
	}
	return c.JSON(http.StatusOK, o)
}

func (s *Server) handleAdminUserStatus(status string) echo.HandlerFunc {
	return func(c echo.Context) error {
		u, err := s.Merchants.SetUserStatus(c.Request().Context(), operatorActor(c), c.Param("id"), c.Param("user"), status)
		return reply(c, http.StatusOK, s.userObject, u, err)
	}
}

// AuditObject is an audit entry as the operator API shows it.
type AuditObject struct {
	ID         string    `json:"id"`
	ActorKind  string    `json:"actor_kind"`
	ActorID    string    `json:"actor_id"`
	ActorName  string    `json:"actor_name"`
	MerchantID string    `json:"merchant_id,omitempty"`
	Action     string    `json:"action"`
	ObjectType string    `json:"object_type"`
	ObjectID   string    `json:"object_id"`
	Before     rawJSON   `json:"before"`
	After      rawJSON   `json:"after"`
	RemoteAddr string    `json:"remote_addr"`
	CreatedAt  time.Time `json:"created_at"`
}

// rawJSON is stored JSON written as it is (null when empty).
type rawJSON string

// MarshalJSON implements json.Marshaler.
func (r rawJSON) MarshalJSON() ([]byte, error) {
	if r == "" {
		return []byte("null"), nil
	}
	return []byte(r), nil
}

// auditFilter reads the audit log's filters from the query.
func auditFilter(c echo.Context) (merchant.AuditFilter, error) {
	limit, err := intParam(c, "limit")
	if err != nil {
		return merchant.AuditFilter{}, err
	}
	q := func(k string) string { return strings.TrimSpace(c.QueryParam(k)) }
	return merchant.AuditFilter{MerchantID: q("merchant_id"), ActorID: q("actor_id"), Action: q("action"), ObjectID: q("object_id"),
		ObjectType: q("object_type"), Limit: limit, StartingAfter: q("starting_after")}, nil
}

func (s *Server) handleAdminAudit(c echo.Context) error {
	f, err := auditFilter(c)
	if err != nil {
		return err
	}
	es, more, err := s.Merchants.Audit(c.Request().Context(), f)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, List{Object: "list", Data: objects(es, auditObject), HasMore: more})
}

func auditObject(e *merchant.AuditEntry) AuditObject {
	return AuditObject{ID: e.ID, ActorKind: e.ActorKind, ActorID: e.ActorID, ActorName: e.ActorName, MerchantID: e.MerchantID,
		Action: e.Action, ObjectType: e.ObjectType, ObjectID: e.ObjectID, Before: rawJSON(e.Before), After: rawJSON(e.After),
		RemoteAddr: e.RemoteAddr, CreatedAt: e.CreatedAt}
}

// atoiDefault parses a form's integer, or returns def.
func atoiDefault(s string, def int) int {
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil {
		return def
	}
	return n
}

// --- operators ---------------------------------------------------------------------------------

func (s *Server) handleAdminOperators(c echo.Context) error {
	us, err := s.Merchants.Users(c.Request().Context(), "")
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, List{Object: "list", Data: objects(us, s.userObject)})
}

func (s *Server) handleAdminOperatorCreate(c echo.Context) error {
	return s.createUser(c, false)
}

func (s *Server) handleAdminOperatorReset(c echo.Context) error {
	return s.resetPassword(c, "", c.Param("user"))
}

func (s *Server) handleAdminOperatorStatus(status string) echo.HandlerFunc {
	return func(c echo.Context) error {
		u, err := s.Merchants.SetUserStatus(c.Request().Context(), operatorActor(c), "", c.Param("user"), status)
		return reply(c, http.StatusOK, s.userObject, u, err)
	}
}

// handleAdminOperatorToken makes a bearer token of the operator API for an operator, returned
// once.
func (s *Server) handleAdminOperatorToken(c echo.Context) error {
	var b struct {
		Name string `json:"name"`
	}
	if err := readBody(c, &b, true); err != nil {
		return err
	}
	tok, err := s.Merchants.CreateOperatorToken(c.Request().Context(), operatorActor(c), c.Param("user"), b.Name)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, map[string]string{"object": "operator_token", "token": tok, "name": b.Name})
}
