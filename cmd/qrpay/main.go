// Command qrpay is the merchant QR-payment gateway: one binary that serves the merchant API,
// the dashboard and the cashier pages, runs background jobs, settles and reconciles, and works
// with QR codes from the command line.
//
//	qrpay serve     [--addr] [--data-dir | --database-url] [--public-url] [--demo]
//	qrpay migrate   [--data-dir | --database-url]
//	qrpay settle    --date YYYY-MM-DD [--as-of RFC3339]
//	qrpay reconcile --date YYYY-MM-DD [--provider NAME] [--file STATEMENT]
//	qrpay qr        parse | render | decode | classify
//	qrpay keys      generate | rotate
//	qrpay bench     [--target URL] [--duration] [--connections] [--mix] [--json]
//
// Every flag can also be set with QRPAY_<FLAG> in the environment (QRPAY_DATABASE_URL, ...).
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/qrpay/qrpay"
)

// exitUsage is the exit code of a command-line mistake.
const exitUsage = 2

// usageError is a mistake in the command line: exit code 2 and one line.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error { return usageError{fmt.Sprintf(format, args...)} }

// exitError carries a chosen exit code with no further message (the command printed it).
type exitError struct{ code int }

func (e exitError) Error() string { return fmt.Sprintf("exit %d", e.code) }

const usage = `qrpay — a merchant QR-payment gateway

Usage:
  qrpay serve     [--addr 127.0.0.1:8080] [--data-dir ./qrpay-data] [--database-url URL] [--public-url URL] [--demo]
  qrpay migrate   [--data-dir DIR | --database-url URL]
  qrpay settle    --date YYYY-MM-DD [--as-of RFC3339] [--data-dir DIR | --database-url URL]
  qrpay reconcile --date YYYY-MM-DD [--provider NAME] [--file STATEMENT]
  qrpay qr parse PAYLOAD | render [--size 256] [--format png|svg] --out FILE PAYLOAD | decode FILE | classify TEXT
  qrpay keys generate [--write --data-dir DIR] | rotate [--data-dir DIR | --database-url URL] [--json]
  qrpay bench     [--target URL] [--duration 30s] [--connections 32] [--mix create=1] [--json]

Every flag also reads QRPAY_<FLAG> from the environment. Run "qrpay <command> -h" for its flags.
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(exitCode(err, os.Stderr))
}

// exitCode prints err in one line and returns the process's exit code.
func exitCode(err error, stderr io.Writer) int {
	var ue usageError
	var ee exitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ee):
		return ee.code
	case errors.As(err, &ue):
		fmt.Fprintln(stderr, "qrpay: "+ue.msg)
		return exitUsage
	}
	fmt.Fprintln(stderr, "qrpay: "+oneLine(err))
	return 1
}

// oneLine is an error's message for a person: a qrpay error's own message, or the error.
func oneLine(err error) string {
	var qe *qrpay.Error
	if errors.As(err, &qe) && qe.Code != qrpay.EINTERNAL {
		msg := qe.Message
		if qe.Param != "" {
			msg += " (" + qe.Param + ")"
		}
		return msg
	}
	return err.Error()
}

// run dispatches a command line.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return exitError{exitUsage}
	}
	switch args[0] {
	case "serve":
		return runServe(ctx, args[1:], stdout, stderr)
	case "migrate":
		return runMigrate(ctx, args[1:], stdout, stderr)
	case "qr":
		return runQR(ctx, args[1:], stdout, stderr)
	case "settle":
		return runSettle(ctx, args[1:], stdout, stderr)
	case "reconcile":
		return runReconcile(ctx, args[1:], stdout, stderr)
	case "keys":
		return runKeys(ctx, args[1:], stdout, stderr)
	case "bench":
		return runBench(ctx, args[1:], stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	return usagef("unknown command %q; run qrpay help", args[0])
}
