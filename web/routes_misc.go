package web

import (
	"bytes"
	"encoding/json"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/qrpay/qrpay"
	"github.com/qrpay/qrpay/gateway"
	"github.com/qrpay/qrpay/gateway/mockpay"
	"github.com/qrpay/qrpay/qr"
)

// registerCallbackRoutes lists the providers' callbacks: one URL per channel account.
func (s *Server) registerCallbackRoutes(e *echo.Echo) {
	e.POST("/callbacks/:account", s.handleCallback)
}

// handleCallback hands a provider's callback to the gateway and answers what the provider
// expects to hear.
func (s *Server) handleCallback(c echo.Context) error {
	r := c.Request()
	body, err := readAll(c)
	if err != nil {
		return err
	}
	reply := s.Gateway.HandleCallback(r.Context(), c.Param("account"), gateway.CallbackRequest{
		Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery, Header: r.Header, Body: body})
	ct := reply.ContentType
	if ct == "" {
		ct = "text/plain; charset=utf-8"
	}
	return c.Blob(reply.Status, ct, reply.Body)
}

// registerMockRoutes serves the mock provider: its API and wallet API from the mockpay package,
// its pages from here.
func (s *Server) registerMockRoutes(e *echo.Echo) {
	if s.Mock == nil {
		return
	}
	h := echo.WrapHandler(s.Mock.Handler())
	e.POST("/mockpay/wallet/pay", h)
	e.POST("/mockpay/wallet/payment-code", h)
	e.GET("/mockpay/statements/:file", h)
	e.GET("/mockpay/wallet", s.handleWalletPage)
	e.POST("/mockpay/wallet/scan", s.handleWalletScan)
	e.GET("/mockpay/wallet/code.png", s.handleWalletCodeImage)
	e.GET("/mockpay/c/:trade", s.handleMockConfirmPage)
	e.POST("/mockpay/c/:trade", s.handleMockConfirm)
}

// handleWalletCodeImage renders a payment code the wallet shows, for the cashier to scan.
func (s *Server) handleWalletCodeImage(c echo.Context) error {
	code := c.QueryParam("c")
	if code == "" || len(code) > 32 || strings.Trim(code, "0123456789") != "" {
		return qrpay.Invalid("c", "A payment code is digits.")
	}
	return s.serveCode(c, code, qr.RenderOptions{Size: 256, Format: "png"}, true)
}

// handleQRImage serves a payment's dynamic code as a PNG (/qr/<payment id>.png, ?size=): the
// code of a payment never changes, so the image is immutable and cached.
func (s *Server) handleQRImage(c echo.Context) error {
	id, ok := strings.CutSuffix(c.Param("file"), ".png")
	format := "png"
	if !ok {
		if id, ok = strings.CutSuffix(c.Param("file"), ".svg"); !ok {
			return qrpay.NotFound("image")
		}
		format = "svg"
	}
	size := 256
	if v := c.QueryParam("size"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 64 || n > 2048 {
			return qrpay.Invalid("size", "size must be 64 to 2048 pixels.")
		}
		size = n
	}
	p, err := s.Gateway.Payment(c.Request().Context(), "", id)
	if err != nil {
		return err
	}
	if p.QRPayload == "" {
		return qrpay.NotFound("image")
	}
	return s.serveCode(c, p.QRPayload, qr.RenderOptions{Size: size, Format: format}, true)
}

// serveCode writes a rendered code from the cache, with a strong ETag; immutable codes (a
// payment's) may be cached by browsers for a year.
func (s *Server) serveCode(c echo.Context, text string, o qr.RenderOptions, immutable bool) error {
	body, ct, etag, err := s.qrCache.Get(text, o)
	if err != nil {
		return err
	}
	h := c.Response().Header()
	h.Set("ETag", etag)
	if immutable {
		h.Set("Cache-Control", "public, max-age=31536000, immutable")
	} else {
		h.Set("Cache-Control", "public, max-age=300")
	}
	if match := c.Request().Header.Get("If-None-Match"); match != "" && match == etag {
		return c.NoContent(http.StatusNotModified)
	}
	return c.Blob(http.StatusOK, ct, body)
}

// handleScan is POST /v1/scan: an image (multipart field "image") or JSON {"text": ...}.
func (s *Server) handleScan(c echo.Context) error {
	ctx := c.Request().Context()
	text, err := s.scanText(c, bodyOf(c))
	if err != nil {
		return err
	}
	res := s.scanner().Classify(ctx, text, callerOf(c).MerchantID)
	return c.JSON(http.StatusOK, res)
}

// scanText reads the text of a scan request: JSON {"text"} or an uploaded image, decoded.
func (s *Server) scanText(c echo.Context, body []byte) (string, error) {
	ct, params, _ := mime.ParseMediaType(c.Request().Header.Get("Content-Type"))
	if ct == "application/json" || ct == "" {
		var b struct {
			Text string `json:"text"`
		}
		if err := decodeJSON(body, &b); err != nil {
			return "", err
		}
		if b.Text == "" {
			return "", qrpay.Invalid("text", "Give the scanned text, or upload an image.")
		}
		if len(b.Text) > 4096 {
			return "", qrpay.Invalid("text", "The text is too long to be a payment code.")
		}
		return b.Text, nil
	}
	if ct != "multipart/form-data" || params["boundary"] == "" {
		return "", qrpay.Invalid("image", "Send JSON {\"text\": ...} or a multipart form with an image.")
	}
	c.Request().Body = io.NopCloser(bytes.NewReader(body))
	fh, err := c.FormFile("image")
	if err != nil {
		return "", qrpay.Invalid("image", "The multipart form has no image field.")
	}
	f, err := fh.Open()
	if err != nil {
		return "", qrpay.Invalid("image", "The image could not be read.")
	}
	defer f.Close()
	texts, err := qr.DecodeContext(c.Request().Context(), f, qr.DecodeOptions{})
	if qrpay.IsCode(err, qrpay.ENOTFOUND) {
		return "", qrpay.Invalid("image", "No QR code was found in the image.")
	} else if err != nil {
		return "", err
	}
	return texts[0], nil
}

// scanner builds the classifier with this server's lookups.
func (s *Server) scanner() *gateway.Scanner {
	return &gateway.Scanner{PublicURL: s.PublicURL, Router: s.Gateway.Router, Signer: s.Merchants.StickerSigner,
		Store: s.Gateway.Store, AcquirerIIN: s.AcquirerIIN, Clock: s.Clock, CodePayment: mockpay.CodePaymentID}
}

// demoReceiver keeps the last webhooks the demo merchant's endpoint received, for its page.
type demoReceiver struct {
	mu     sync.Mutex
	events []demoEvent
}

type demoEvent struct {
	At       time.Time
	Type     string
	ObjectID string
	Verified bool
	Body     string
}

// handleDemoWebhook receives the demo merchant's webhooks and checks their signature with the
// demo endpoint's secret.
func (s *Server) handleDemoWebhook(c echo.Context) error {
	body, err := io.ReadAll(c.Request().Body)
	if err != nil {
		return qrpay.Errorf(qrpay.EINVALID, "unreadable body")
	}
	var ev struct {
		Type string `json:"type"`
		Data struct {
			Object struct {
				ID string `json:"id"`
			} `json:"object"`
		} `json:"data"`
	}
	_ = json.Unmarshal(body, &ev)
	verified := false
	if s.DemoWebhookSecret != "" {
		verified = gateway.VerifyWebhook(s.DemoWebhookSecret, c.Request().Header.Get("Qrpay-Signature"), body, s.Clock.Now(), 5*time.Minute) == nil
	}
	s.demoHook.mu.Lock()
	s.demoHook.events = append([]demoEvent{{At: s.Clock.Now(), Type: ev.Type, ObjectID: ev.Data.Object.ID, Verified: verified,
		Body: string(body)}}, s.demoHook.events...)
	if len(s.demoHook.events) > 50 {
		s.demoHook.events = s.demoHook.events[:50]
	}
	s.demoHook.mu.Unlock()
	if !verified {
		return c.String(http.StatusBadRequest, "signature does not verify")
	}
	return c.String(http.StatusOK, "ok")
}
