package web

import (
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/qrpay/qrpay"
	"github.com/qrpay/qrpay/merchant"
)

// operatorKey is where adminAuth keeps the operator on the echo.Context.
const operatorKey = "qrpay.operator"

// adminAuth authenticates the operator API: Authorization: Bearer <operator token>.
func (s *Server) adminAuth(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		h := c.Request().Header.Get("Authorization")
		token, ok := strings.CutPrefix(h, "Bearer ")
		if !ok || token == "" {
			return qrpay.Errorf(qrpay.EUNAUTHORIZED, "Send Authorization: Bearer <operator token>.")
		}
		if !s.limiter.allow("op:" + c.RealIP()) {
			return qrpay.Errorf(qrpay.ERATELIMITED, "Too many requests; slow down.")
		}
		u, err := s.Merchants.OperatorByToken(c.Request().Context(), strings.TrimSpace(token))
		if err != nil {
			return err
		}
		c.Set(operatorKey, u)
		return next(c)
	}
}

// operatorOf returns the operator a request is authenticated as (operator API or console).
func operatorOf(c echo.Context) *merchant.User {
	if u, ok := c.Get(operatorKey).(*merchant.User); ok {
		return u
	}
	if sess := sessionOf(c); sess != nil && sess.User != nil && sess.User.IsOperator() {
		return sess.User
	}
	return nil
}

// operatorActor is the audit log's actor for an operator request.
func operatorActor(c echo.Context) merchant.Actor {
	u := operatorOf(c)
	if u == nil {
		return merchant.Actor{Kind: "anonymous", ID: "anonymous", RemoteAddr: c.RealIP()}
	}
	return merchant.Actor{Kind: "operator", ID: u.ID, Name: u.Login, Role: u.Role, RemoteAddr: c.RealIP()}
}

// requireAdmin refuses operators without the admin role (reviewers read and review only).
func requireAdmin(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if u := operatorOf(c); u == nil || u.Role != merchant.RoleAdmin {
			return qrpay.Errorf(qrpay.EFORBIDDEN, "This needs an admin operator.")
		}
		return next(c)
	}
}
