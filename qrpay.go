// Package qrpay is the shared vocabulary of the qrpay merchant QR-payment gateway: money and
// currencies, the one error type and its codes, the clock, identifiers and background jobs.
//
// It imports only the standard library. The domain packages (merchant, gateway, qr, settlement)
// build on it; store and web implement and serve them; cmd/qrpay wires everything together.
package qrpay

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"strings"
	"time"
)

// crockford is the Crockford base32 alphabet in lower case: no i, l, o or u, so ids read aloud
// or typed from a receipt are not confused.
const crockford = "0123456789abcdefghjkmnpqrstvwxyz"

// NewID returns a new identifier "<prefix>_<26 characters>": 48 bits of milliseconds since the
// Unix epoch followed by 80 random bits, in Crockford base32, so that ids sort by creation time
// (cursor pagination relies on it) and cannot be guessed.
func NewID(prefix string, now time.Time) string {
	var b [16]byte
	binary.BigEndian.PutUint64(b[0:8], uint64(now.UnixMilli())<<16)
	if _, err := rand.Read(b[6:]); err != nil {
		panic("qrpay: crypto/rand failed: " + err.Error())
	}
	// 128 bits -> 26 base32 characters (130 bits, the top two are zero).
	hi := binary.BigEndian.Uint64(b[0:8])
	lo := binary.BigEndian.Uint64(b[8:16])
	var out [26]byte
	for i := 25; i >= 0; i-- {
		out[i] = crockford[lo&31]
		lo = lo>>5 | hi<<59
		hi >>= 5
	}
	var sb strings.Builder
	sb.Grow(len(prefix) + 27)
	sb.WriteString(prefix)
	sb.WriteByte('_')
	sb.Write(out[:])
	return sb.String()
}

// RandomToken returns n random bytes encoded in Crockford base32 (lower case); used for secrets,
// nonces and tokens that people may have to copy.
func RandomToken(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic("qrpay: crypto/rand failed: " + err.Error())
	}
	var sb strings.Builder
	var acc uint32
	bits := 0
	for _, c := range b {
		acc = acc<<8 | uint32(c)
		bits += 8
		for bits >= 5 {
			bits -= 5
			sb.WriteByte(crockford[(acc>>uint(bits))&31])
		}
	}
	if bits > 0 {
		sb.WriteByte(crockford[(acc<<uint(5-bits))&31])
	}
	return sb.String()
}

// Job is a unit of background work that a state change asks for. Its Kind names the handler; the
// value itself is stored as JSON. Jobs are inserted in the same transaction as the change that
// causes them (DESIGN.md "Storage"), so a committed change never loses its follow-up and a
// rolled-back one never sends it. The interface matches River's JobArgs, so domain packages
// declare jobs without importing the job queue.
type Job interface {
	Kind() string
}

// JobOptions tune how a job runs. The zero value runs it as soon as possible with the queue's
// default number of attempts.
type JobOptions struct {
	// RunAt delays the first attempt; zero means now.
	RunAt time.Time
	// MaxAttempts bounds the attempts; zero means the queue's default.
	MaxAttempts int
	// UniqueKey, when set, makes the insert a no-op while another job of the same kind and key
	// is still waiting or running.
	UniqueKey string
}

// Request identity carried through a context: the request id for logs, and the remote address
// for the audit log. Everything else is an explicit parameter.
type ctxKey int

const (
	ctxRequestID ctxKey = iota
	ctxRemoteAddr
)

// WithRequestID returns ctx carrying the request id.
func WithRequestID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, ctxRequestID, id)
}

// RequestID returns the request id carried by ctx, or "".
func RequestID(ctx context.Context) string {
	s, _ := ctx.Value(ctxRequestID).(string)
	return s
}

// WithRemoteAddr returns ctx carrying the caller's address.
func WithRemoteAddr(ctx context.Context, addr string) context.Context {
	return context.WithValue(ctx, ctxRemoteAddr, addr)
}

// RemoteAddr returns the caller's address carried by ctx, or "".
func RemoteAddr(ctx context.Context) string {
	s, _ := ctx.Value(ctxRemoteAddr).(string)
	return s
}
