package web

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/qrpay/qrpay"
	"github.com/qrpay/qrpay/gateway"
	"github.com/qrpay/qrpay/merchant"
)

// callerKey is where the authenticated caller is kept on the echo.Context.
const callerKey = "qrpay.caller"

// registerAPIRoutes lists the merchant API.
func (s *Server) registerAPIRoutes(e *echo.Echo) {
	e.GET("/v1/openapi.json", s.handleOpenAPI)
	v1 := e.Group("/v1", s.apiAuth)
	s.apiGroup = v1
	v1.POST("/payments", s.handlePaymentCreate)
	v1.GET("/payments", s.handlePaymentList)
	v1.GET("/payments/:id", s.handlePaymentView)
	v1.POST("/payments/:id/close", s.handlePaymentClose)
	v1.POST("/payments/:id/refunds", s.handleRefundCreate)
	v1.GET("/payments/:id/refunds", s.handleRefundList)
	v1.GET("/refunds/:id", s.handleRefundView)
	v1.GET("/events", s.handleEventList)
	v1.GET("/events/:id", s.handleEventView)
	v1.POST("/events/:id/resend", s.handleEventResend)
	v1.POST("/webhook_endpoints", s.handleEndpointCreate)
	v1.GET("/webhook_endpoints", s.handleEndpointList)
	v1.DELETE("/webhook_endpoints/:id", s.handleEndpointDelete)
	v1.POST("/webhook_endpoints/:id/rotate", s.handleEndpointRotate)
	v1.POST("/scan", s.handleScan)
}

// nonceInTx lists the routes whose handler records the request's nonce in its own transaction
// (one commit per request); every other route's nonce is recorded by apiAuth.
var nonceInTx = map[string]bool{
	"POST /v1/payments":             true,
	"POST /v1/payments/:id/close":   true,
	"POST /v1/payments/:id/refunds": true,
}

// apiAuth authenticates a merchant API request by its signature (CONTRACT.md), applies the
// key's rate limit, and keeps the caller and the raw body for the handler.
func (s *Server) apiAuth(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		r := c.Request()
		body, err := readAll(c)
		if err != nil {
			return err
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		keyID := r.Header.Get("Qrpay-Key")
		if keyID != "" && !s.limiter.allow("key:"+keyID) {
			return qrpay.Errorf(qrpay.ERATELIMITED, "Too many requests for this API key; slow down.")
		}
		caller, err := s.Gateway.Authenticate(r.Context(), s.Merchants, gateway.SignedRequest{
			Method: r.Method, PathWithQuery: r.URL.RequestURI(), KeyID: keyID,
			Timestamp: r.Header.Get("Qrpay-Timestamp"), Nonce: r.Header.Get("Qrpay-Nonce"),
			Signature: r.Header.Get("Qrpay-Signature"), Body: body,
		})
		if err != nil {
			return err
		}
		caller.ClientIP = c.RealIP()
		if k := r.Header.Get("Idempotency-Key"); k != "" && r.Method == http.MethodPost {
			if len(k) > 255 {
				return qrpay.Invalid("Idempotency-Key", "Idempotency-Key must be at most 255 characters.")
			}
			caller.IdempotencyKey, caller.RequestHash = k, hashBody(r.Method+" "+r.URL.Path, body)
		}
		if !nonceInTx[r.Method+" "+c.Path()] {
			if err := s.Gateway.BurnNonce(r.Context(), caller); err != nil {
				return err
			}
			caller.Nonce = ""
		}
		c.Set(callerKey, caller)
		c.Set("body", body)
		return next(c)
	}
}

func callerOf(c echo.Context) gateway.Caller {
	caller, _ := c.Get(callerKey).(gateway.Caller)
	return caller
}

func bodyOf(c echo.Context) []byte {
	b, _ := c.Get("body").([]byte)
	return b
}

// hashBody identifies a request for its Idempotency-Key: the route and the body.
func hashBody(route string, body []byte) string {
	sum := sha256.Sum256([]byte(route + "\n" + string(body)))
	return hex.EncodeToString(sum[:])
}

// readAll reads a request's body; one over the body limit is 413.
func readAll(c echo.Context) ([]byte, error) {
	b, err := io.ReadAll(c.Request().Body)
	if err != nil {
		var tl *tooLarge
		if errors.As(err, &tl) {
			return nil, tl
		}
		return nil, qrpay.Errorf(qrpay.EINVALID, "The request body could not be read.")
	}
	return b, nil
}

// decodeJSON reads a JSON body strictly into v: unknown fields, wrong types and trailing data
// are EINVALID errors that name the field.
func decodeJSON(body []byte, v any) error {
	if len(bytes.TrimSpace(body)) == 0 {
		return qrpay.Errorf(qrpay.EINVALID, "The request body must be a JSON object.")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		var te *json.UnmarshalTypeError
		var se *json.SyntaxError
		switch {
		case errors.As(err, &te):
			field := te.Field
			if field == "" {
				return qrpay.Errorf(qrpay.EINVALID, "The request body must be a JSON object.")
			}
			return qrpay.Invalid(field, "%s must be %s.", field, jsonKind(te.Type.Kind().String()))
		case errors.As(err, &se):
			return qrpay.Errorf(qrpay.EINVALID, "The request body is not valid JSON (at byte %d).", se.Offset)
		case strings.HasPrefix(err.Error(), "json: unknown field "):
			field := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
			return qrpay.Invalid(field, "Unknown field %q.", field)
		}
		return qrpay.Errorf(qrpay.EINVALID, "The request body is not valid JSON.")
	}
	// More misses a stray closing bracket after the value: look at what is left.
	if dec.More() || len(bytes.TrimSpace(body[dec.InputOffset():])) > 0 {
		return qrpay.Errorf(qrpay.EINVALID, "The request body must be one JSON object.")
	}
	return nil
}

func jsonKind(k string) string {
	switch k {
	case "int64", "int", "int32":
		return "an integer (minor units) that fits in 64 bits"
	case "string":
		return "a string"
	case "bool":
		return "true or false"
	case "map", "struct":
		return "an object"
	}
	return "of another type"
}

// paymentCreateBody is the JSON of POST /v1/payments.
type paymentCreateBody struct {
	MerchantOrderNo string            `json:"merchant_order_no"`
	Amount          int64             `json:"amount"`
	Currency        string            `json:"currency"`
	Description     string            `json:"description"`
	Scene           string            `json:"scene"`
	Channel         string            `json:"channel"`
	AuthCode        string            `json:"auth_code"`
	ExpiresIn       int64             `json:"expires_in"`
	TerminalID      string            `json:"terminal_id"`
	Metadata        map[string]string `json:"metadata"`
	Wait            *bool             `json:"wait"`
}

func (s *Server) handlePaymentCreate(c echo.Context) error {
	var b paymentCreateBody
	if err := decodeJSON(bodyOf(c), &b); err != nil {
		s.burn(c)
		return err
	}
	res, err := s.Gateway.CreatePayment(c.Request().Context(), callerOf(c), gateway.CreatePaymentRequest{
		MerchantOrderNo: b.MerchantOrderNo, Amount: b.Amount, Currency: b.Currency, Description: b.Description,
		Scene: b.Scene, Channel: b.Channel, AuthCode: b.AuthCode, ExpiresIn: b.ExpiresIn, TerminalID: b.TerminalID,
		Metadata: b.Metadata, NoWait: b.Wait != nil && !*b.Wait,
	})
	return s.result(c, res, err)
}

// burn records the nonce of a request refused before reaching the service.
func (s *Server) burn(c echo.Context) {
	caller := callerOf(c)
	if caller.Nonce != "" {
		s.Gateway.BurnNonce(c.Request().Context(), caller)
	}
}

// result writes a service's stored response.
func (s *Server) result(c echo.Context, res *gateway.Result, err error) error {
	if err != nil {
		return err
	}
	if res.Replayed {
		c.Response().Header().Set("Idempotent-Replayed", "true")
	}
	return c.JSONBlob(res.Status, res.Body)
}

func (s *Server) handlePaymentView(c echo.Context) error {
	p, err := s.Gateway.Payment(c.Request().Context(), callerOf(c).MerchantID, c.Param("id"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, p.Object(s.PublicURL))
}

// List is a page of a list: {data, has_more}.
type List struct {
	Object  string `json:"object"`
	Data    any    `json:"data"`
	HasMore bool   `json:"has_more"`
}

// objects shows each of xs as the APIs do (an empty list is [], never null).
func objects[T, U any](xs []T, show func(T) U) []U {
	out := make([]U, len(xs))
	for i, x := range xs {
		out[i] = show(x)
	}
	return out
}

// reply answers x as show shows it, or the error that came with it.
func reply[T, U any](c echo.Context, status int, show func(T) U, x T, err error) error {
	if err != nil {
		return err
	}
	return c.JSON(status, show(x))
}

// intParam reads an integer query parameter; absent is 0.
func intParam(c echo.Context, name string) (int, error) {
	v := c.QueryParam(name)
	if v == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		return 0, qrpay.Invalid(name, "%s must be a positive integer.", name)
	}
	return n, nil
}

func (s *Server) handlePaymentList(c echo.Context) error {
	limit, err := intParam(c, "limit")
	if err != nil {
		return err
	}
	f := gateway.PaymentFilter{MerchantID: callerOf(c).MerchantID, MerchantOrderNo: c.QueryParam("merchant_order_no"),
		Status: gateway.Status(c.QueryParam("status")), Channel: c.QueryParam("channel"), Scene: gateway.Scene(c.QueryParam("scene")),
		Flag: c.QueryParam("flag"), Limit: limit, StartingAfter: c.QueryParam("starting_after")}
	ps, more, err := s.Gateway.Payments(c.Request().Context(), f)
	if err != nil {
		return err
	}
	out := objects(ps, func(p *gateway.Payment) gateway.PaymentObject { return p.Object(s.PublicURL) })
	return c.JSON(http.StatusOK, List{Object: "list", Data: out, HasMore: more})
}

func (s *Server) handlePaymentClose(c echo.Context) error {
	if len(bytes.TrimSpace(bodyOf(c))) > 0 {
		var empty struct{}
		if err := decodeJSON(bodyOf(c), &empty); err != nil {
			s.burn(c)
			return err
		}
	}
	res, err := s.Gateway.ClosePayment(c.Request().Context(), callerOf(c), c.Param("id"))
	return s.result(c, res, err)
}

type refundCreateBody struct {
	Amount           int64  `json:"amount"`
	MerchantRefundNo string `json:"merchant_refund_no"`
	Reason           string `json:"reason"`
}

func (s *Server) handleRefundCreate(c echo.Context) error {
	var b refundCreateBody
	if err := decodeJSON(bodyOf(c), &b); err != nil {
		s.burn(c)
		return err
	}
	res, err := s.Gateway.CreateRefund(c.Request().Context(), callerOf(c), c.Param("id"),
		gateway.CreateRefundRequest{Amount: b.Amount, MerchantRefundNo: b.MerchantRefundNo, Reason: b.Reason})
	return s.result(c, res, err)
}

func (s *Server) handleRefundView(c echo.Context) error {
	r, err := s.Gateway.Refund(c.Request().Context(), callerOf(c).MerchantID, c.Param("id"))
	return reply(c, http.StatusOK, (*gateway.Refund).Object, r, err)
}

func (s *Server) handleRefundList(c echo.Context) error {
	rs, err := s.Gateway.Refunds(c.Request().Context(), callerOf(c).MerchantID, c.Param("id"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, List{Object: "list", Data: objects(rs, (*gateway.Refund).Object)})
}

func (s *Server) handleEventList(c echo.Context) error {
	limit, err := intParam(c, "limit")
	if err != nil {
		return err
	}
	evs, more, err := s.Gateway.Events(c.Request().Context(), gateway.EventFilter{MerchantID: callerOf(c).MerchantID,
		Type: c.QueryParam("type"), ObjectID: c.QueryParam("object_id"), Limit: limit, StartingAfter: c.QueryParam("starting_after")})
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, List{Object: "list", Data: objects(evs, (*gateway.Event).Object), HasMore: more})
}

func (s *Server) handleEventView(c echo.Context) error {
	e, err := s.Gateway.Store.FindEvent(c.Request().Context(), callerOf(c).MerchantID, c.Param("id"))
	return reply(c, http.StatusOK, (*gateway.Event).Object, e, err)
}

func (s *Server) handleEventResend(c echo.Context) error {
	e, err := s.Gateway.ResendEvent(c.Request().Context(), callerOf(c).MerchantID, c.Param("id"))
	return reply(c, http.StatusAccepted, (*gateway.Event).Object, e, err)
}

// EndpointObject is a webhook endpoint as the API shows it; the secret only when created.
type EndpointObject struct {
	ID             string `json:"id"`
	Object         string `json:"object"`
	URL            string `json:"url"`
	Status         string `json:"status"`
	DisabledReason string `json:"disabled_reason,omitempty"`
	Secret         string `json:"secret,omitempty"`
	// PreviousSecretExpires is when the secret replaced by the last rotation stops signing.
	PreviousSecretExpires int64 `json:"previous_secret_expires,omitempty"`
	CreatedAt             int64 `json:"created"`
}

// endpointObject shows a webhook endpoint without its secret.
func endpointObject(e *merchant.WebhookEndpoint) EndpointObject {
	o := EndpointObject{ID: e.ID, Object: "webhook_endpoint", URL: e.URL, Status: e.Status, DisabledReason: e.DisabledReason,
		CreatedAt: e.CreatedAt.Unix()}
	if e.PreviousExpiresAt != nil {
		o.PreviousSecretExpires = e.PreviousExpiresAt.Unix()
	}
	return o
}

// newEndpointObject shows an endpoint that was just made, with its secret.
func newEndpointObject(e *merchant.WebhookEndpoint) EndpointObject {
	o := endpointObject(e)
	o.Secret = e.Secret
	return o
}

// apiActor is the audit log's actor for an API key.
func apiActor(c echo.Context) merchant.Actor {
	caller := callerOf(c)
	return merchant.Actor{Kind: "api_key", ID: caller.KeyID, Name: caller.KeyID, Role: merchant.RoleOwner,
		MerchantID: caller.MerchantID, RemoteAddr: c.RealIP()}
}

func (s *Server) handleEndpointCreate(c echo.Context) error {
	var b struct {
		URL string `json:"url"`
	}
	if err := decodeJSON(bodyOf(c), &b); err != nil {
		return err
	}
	caller := callerOf(c)
	res, err := s.Gateway.Idempotent(c.Request().Context(), caller, func() (int, any, error) {
		e, err := s.Merchants.CreateEndpoint(c.Request().Context(), apiActor(c), caller.MerchantID, b.URL)
		if err != nil {
			return 0, nil, err
		}
		return http.StatusCreated, newEndpointObject(e), nil
	})
	return s.result(c, res, err)
}

func (s *Server) handleEndpointList(c echo.Context) error {
	es, err := s.Merchants.Store.FindEndpoints(c.Request().Context(), callerOf(c).MerchantID)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, List{Object: "list", Data: objects(es, endpointObject)})
}

// overlapOf reads the optional {"overlap_seconds": n} body of a rotation (0: the default).
func overlapOf(c echo.Context) (time.Duration, error) {
	var b struct {
		OverlapSeconds *int64 `json:"overlap_seconds"`
	}
	if err := readBody(c, &b, true); err != nil {
		return 0, err
	}
	if b.OverlapSeconds == nil {
		return 0, nil
	}
	if *b.OverlapSeconds < 1 || *b.OverlapSeconds > 30*24*3600 {
		return 0, qrpay.Invalid("overlap_seconds", "The overlap is one second to 30 days.")
	}
	return time.Duration(*b.OverlapSeconds) * time.Second, nil
}

// handleEndpointRotate gives an endpoint a new secret (shown once); the old one keeps signing
// beside it for the overlap.
func (s *Server) handleEndpointRotate(c echo.Context) error {
	overlap, err := overlapOf(c)
	if err != nil {
		return err
	}
	caller := callerOf(c)
	res, err := s.Gateway.Idempotent(c.Request().Context(), caller, func() (int, any, error) {
		e, err := s.Merchants.RotateEndpointSecret(c.Request().Context(), apiActor(c), caller.MerchantID, c.Param("id"), overlap)
		if err != nil {
			return 0, nil, err
		}
		return http.StatusOK, newEndpointObject(e), nil
	})
	return s.result(c, res, err)
}

func (s *Server) handleEndpointDelete(c echo.Context) error {
	caller := callerOf(c)
	e, err := s.Merchants.DeleteEndpoint(c.Request().Context(), apiActor(c), caller.MerchantID, c.Param("id"))
	return reply(c, http.StatusOK, endpointObject, e, err)
}
