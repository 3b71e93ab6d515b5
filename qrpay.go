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
	"errors"
	"strings"
	"sync"
	"time"
)

// crockford is the Crockford base32 alphabet in lower case: no i, l, o or u, so ids read aloud
// or typed from a receipt are not confused.
const crockford = "0123456789abcdefghjkmnpqrstvwxyz"

// NewID returns a new identifier "<prefix>_<21 characters>": 48 bits of milliseconds since the
// Unix epoch (10 characters) followed by 55 random bits (11 characters), in Crockford base32, so
// that ids sort by creation time (cursor pagination and "newest first" rely on it) and cannot be
// guessed. Ids made by one process in the same millisecond sort in the order they were made too:
// the random part of each is the previous one's plus a random step of up to 24 bits. A payment
// id ("pay_" and 21 characters) fits the 25 characters of an EMV reference label (tag 62.05).
func NewID(prefix string, now time.Time) string {
	var out [21]byte
	ms := uint64(now.UnixMilli()) & (1<<48 - 1)
	r := idRandom(ms)
	for i := 9; i >= 0; i-- {
		out[i] = crockford[ms&31]
		ms >>= 5
	}
	for i := 20; i >= 10; i-- {
		out[i] = crockford[r&31]
		r >>= 5
	}
	var sb strings.Builder
	sb.Grow(len(prefix) + 22)
	sb.WriteString(prefix)
	sb.WriteByte('_')
	sb.Write(out[:])
	return sb.String()
}

// lastID is the millisecond and random part of the process's latest id.
var lastID struct {
	sync.Mutex
	ms, r uint64
}

// idRandom returns the 55 random bits of an id made at ms: fresh ones, or, in the millisecond of
// the latest id, that id's plus a random step (fresh ones again in the unlikely case that would
// overflow), so that ids of one millisecond keep their order.
func idRandom(ms uint64) uint64 {
	var rnd [8]byte
	if _, err := rand.Read(rnd[:]); err != nil {
		panic("qrpay: crypto/rand failed: " + err.Error())
	}
	fresh := binary.BigEndian.Uint64(rnd[:])
	const max = 1<<55 - 1
	lastID.Lock()
	defer lastID.Unlock()
	r := fresh & max
	if ms == lastID.ms {
		if next := lastID.r + 1 + fresh>>40; next <= max {
			r = next
		}
	}
	lastID.ms, lastID.r = ms, r
	return r
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

// QueuedJob is a Job that runs in a queue of its own, with its own workers, so that a backlog of
// it (webhooks to slow merchant endpoints under load) never delays the jobs of other queues
// (the sweep that reverses and expires payments, refund checks, the daily settlement).
type QueuedJob interface {
	Job
	Queue() string
}

// JobOptions tune how a job runs. The zero value runs it as soon as possible with the queue's
// default number of attempts.
type JobOptions struct {
	// RunAt delays the first attempt; zero means now.
	RunAt time.Time
	// MaxAttempts bounds the attempts; zero means the queue's default.
	MaxAttempts int
	// Unique makes the insert a no-op while another job of the same kind and arguments is
	// waiting or running.
	Unique bool
}

// permanentError marks a job failure that retrying cannot mend.
type permanentError struct{ err error }

func (e permanentError) Error() string { return e.err.Error() }
func (e permanentError) Unwrap() error { return e.err }

// Permanent marks err as a job failure that retrying cannot mend: the job is not tried again.
func Permanent(err error) error { return permanentError{err} }

// IsPermanent reports whether err was marked by Permanent.
func IsPermanent(err error) bool {
	var p permanentError
	return errors.As(err, &p)
}

// RetryAfter is returned by a job that wants to run again later without counting as a failure
// (a payment still awaiting the customer, say).
type RetryAfter struct{ After time.Duration }

func (r RetryAfter) Error() string { return "retry after " + r.After.String() }

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
