package qrpay

import (
	"errors"
	"fmt"
)

// Error codes. Each maps to one HTTP status in web (CONTRACT.md "Errors"); the list is short on
// purpose, and the message says the rest.
const (
	EINVALID                 = "invalid"                   // 400: bad input; Param names the field
	EUNAUTHORIZED            = "unauthorized"              // 401: missing or wrong credentials, stale or replayed request
	EFORBIDDEN               = "forbidden"                 // 403: authenticated but not allowed
	EMERCHANTFROZEN          = "merchant_frozen"           // 403: the merchant may not take new payments
	ENOTFOUND                = "not_found"                 // 404: no such object (or another merchant's)
	ECONFLICT                = "conflict"                  // 409: duplicate, or a concurrent request in flight
	EIDEMPOTENCYCONFLICT     = "idempotency_conflict"      // 422: an Idempotency-Key reused with another body
	EINVALIDSTATE            = "invalid_state"             // 422: the object's state does not allow this
	EAMOUNTEXCEEDSREFUNDABLE = "amount_exceeds_refundable" // 422: a refund beyond what remains
	ELIMITEXCEEDED           = "limit_exceeded"            // 422: a regulatory or configured limit
	ERATELIMITED             = "rate_limited"              // 429: too many requests
	EPROVIDERUNAVAILABLE     = "provider_unavailable"      // 502: the provider failed or did not answer
	EINTERNAL                = "internal"                  // 500: a bug or an outage; details are logged, not shown
)

// Codes lists every error code, in the order above.
var Codes = []string{EINVALID, EUNAUTHORIZED, EFORBIDDEN, EMERCHANTFROZEN, ENOTFOUND, ECONFLICT,
	EIDEMPOTENCYCONFLICT, EINVALIDSTATE, EAMOUNTEXCEEDSREFUNDABLE, ELIMITEXCEEDED, ERATELIMITED,
	EPROVIDERUNAVAILABLE, EINTERNAL}

// Error is qrpay's application error. Code is one of the codes above; Message is safe to show to
// the caller; Param names the offending input field, if any. Err keeps an underlying cause for
// logs and errors.Is, and is never shown.
type Error struct {
	Code    string
	Message string
	Param   string
	Err     error
}

// Error implements the error interface.
func (e *Error) Error() string {
	msg := e.Code + ": " + e.Message
	if e.Param != "" {
		msg += " (param " + e.Param + ")"
	}
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

// Unwrap returns the underlying cause.
func (e *Error) Unwrap() error { return e.Err }

// Errorf returns an *Error with the code and a formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Invalid returns an EINVALID error for the named input field.
func Invalid(param, format string, args ...any) *Error {
	return &Error{Code: EINVALID, Message: fmt.Sprintf(format, args...), Param: param}
}

// NotFound returns an ENOTFOUND error for a kind of object ("payment", "refund", ...).
func NotFound(kind string) *Error {
	return &Error{Code: ENOTFOUND, Message: "No such " + kind + "."}
}

// WrapError returns an *Error with the code and message that keeps err as its cause.
func WrapError(code string, err error, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...), Err: err}
}

// ErrorCode returns the code of the first *Error in err's chain, EINTERNAL for any other error,
// and "" for nil.
func ErrorCode(err error) string {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return EINTERNAL
}

// ErrorMessage returns the message of the first *Error in err's chain, and a generic message for
// any other error so that internals never leak to callers.
func ErrorMessage(err error) string {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Message
	}
	return "Internal error."
}

// ErrorParam returns the Param of the first *Error in err's chain, or "".
func ErrorParam(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Param
	}
	return ""
}

// IsCode reports whether err carries the code.
func IsCode(err error, code string) bool { return err != nil && ErrorCode(err) == code }
