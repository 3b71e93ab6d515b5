package web

import (
	"errors"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/qrpay/qrpay"
)

// statuses maps every error code to its HTTP status: the one table (CONTRACT.md "Errors").
var statuses = map[string]int{
	qrpay.EINVALID:                 http.StatusBadRequest,
	qrpay.EUNAUTHORIZED:            http.StatusUnauthorized,
	qrpay.EFORBIDDEN:               http.StatusForbidden,
	qrpay.EMERCHANTFROZEN:          http.StatusForbidden,
	qrpay.ENOTFOUND:                http.StatusNotFound,
	qrpay.ECONFLICT:                http.StatusConflict,
	qrpay.EIDEMPOTENCYCONFLICT:     http.StatusUnprocessableEntity,
	qrpay.EINVALIDSTATE:            http.StatusUnprocessableEntity,
	qrpay.EAMOUNTEXCEEDSREFUNDABLE: http.StatusUnprocessableEntity,
	qrpay.ELIMITEXCEEDED:           http.StatusUnprocessableEntity,
	qrpay.ERATELIMITED:             http.StatusTooManyRequests,
	qrpay.EPROVIDERUNAVAILABLE:     http.StatusBadGateway,
	qrpay.EINTERNAL:                http.StatusInternalServerError,
}

// StatusOf returns the HTTP status of an error.
func StatusOf(err error) int {
	if st, ok := statuses[qrpay.ErrorCode(err)]; ok {
		return st
	}
	return http.StatusInternalServerError
}

// ErrorObject is the API's error body: {"error": {"code", "message", "param"}}.
type ErrorObject struct {
	Error ErrorDetail `json:"error"`
}

// ErrorDetail is the inside of ErrorObject.
type ErrorDetail struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Param   string `json:"param,omitempty"`
}

// fromEcho turns Echo's own errors (404 route, 405, 413 body limit) into qrpay errors.
func fromEcho(err error) error {
	var he *echo.HTTPError
	if !errors.As(err, &he) {
		return err
	}
	msg, _ := he.Message.(string)
	switch he.Code {
	case http.StatusNotFound:
		return qrpay.Errorf(qrpay.ENOTFOUND, "No such page or endpoint.")
	case http.StatusMethodNotAllowed:
		return qrpay.Errorf(qrpay.EINVALID, "This method is not allowed here.")
	case http.StatusRequestEntityTooLarge:
		return &tooLarge{}
	case http.StatusUnauthorized:
		return qrpay.Errorf(qrpay.EUNAUTHORIZED, "%s", orText(msg, "Unauthorized."))
	case http.StatusForbidden:
		return qrpay.Errorf(qrpay.EFORBIDDEN, "%s", orText(msg, "Forbidden."))
	case http.StatusTooManyRequests:
		return qrpay.Errorf(qrpay.ERATELIMITED, "Too many requests; slow down.")
	case http.StatusBadRequest:
		return qrpay.Errorf(qrpay.EINVALID, "%s", orText(msg, "Bad request."))
	}
	return err
}

// tooLarge is a body over the limit: 413 with the error object.
type tooLarge struct{}

func (*tooLarge) Error() string { return "request body too large" }

func orText(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// handleError is Echo's error handler: the one place errors become responses. API paths get the
// error object; pages get an error page. Internal errors are logged with the request id, and
// their details never reach the client.
func (s *Server) handleError(err error, c echo.Context) {
	if c.Response().Committed {
		return
	}
	err = fromEcho(err)
	status := StatusOf(err)
	code, msg, param := qrpay.ErrorCode(err), qrpay.ErrorMessage(err), qrpay.ErrorParam(err)
	var tl *tooLarge
	if errors.As(err, &tl) {
		status, code, msg = http.StatusRequestEntityTooLarge, qrpay.EINVALID, "The request body is too large."
	}
	if code == qrpay.EINTERNAL {
		s.Log.ErrorContext(c.Request().Context(), "internal error", "err", err, "request_id", c.Response().Header().Get(echo.HeaderXRequestID),
			"method", c.Request().Method, "path", c.Request().URL.Path)
	}
	if status == http.StatusTooManyRequests {
		c.Response().Header().Set("Retry-After", "1")
	}
	if wantsHTML(c) {
		s.renderError(c, status, msg)
		return
	}
	if c.Request().Method == http.MethodHead {
		c.NoContent(status)
		return
	}
	c.JSON(status, ErrorObject{Error: ErrorDetail{Code: code, Message: msg, Param: param}})
}

// wantsHTML reports whether a request is a page's: not the APIs, callbacks or machine routes.
func wantsHTML(c echo.Context) bool {
	p := c.Request().URL.Path
	for _, prefix := range []string{"/v1", "/admin/v1", "/callbacks/", "/mockpay/api", "/mockpay/wallet/pay",
		"/mockpay/wallet/payment-code", "/healthz", "/readyz", "/metrics", "/qr/", "/demo/webhooks"} {
		if strings.HasPrefix(p, prefix) {
			return false
		}
	}
	if strings.HasPrefix(p, "/p/") && strings.HasSuffix(p, "/pay") {
		return false
	}
	if strings.HasPrefix(p, "/counter/api") {
		return false
	}
	return strings.Contains(c.Request().Header.Get("Accept"), "text/html") || c.Request().Method == http.MethodGet
}
