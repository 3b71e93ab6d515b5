package main

import (
	"context"
	"io"

	"github.com/qrpay/qrpay"
)

// Commands whose capability is not built yet answer honestly.

func runSettle(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return qrpay.Errorf(qrpay.EINVALIDSTATE, "settle is not supported yet")
}

func runReconcile(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return qrpay.Errorf(qrpay.EINVALIDSTATE, "reconcile is not supported yet")
}
