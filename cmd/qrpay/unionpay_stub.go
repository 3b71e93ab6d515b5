package main

import (
	"encoding/json"
	"time"

	"github.com/qrpay/qrpay"
	"github.com/qrpay/qrpay/gateway"
)

// unionpayProvider builds a UnionPay-style channel account.
func unionpayProvider(where string, raw json.RawMessage, zone *time.Location) (gateway.Provider, error) {
	return nil, qrpay.Errorf(qrpay.EINVALID, "%s: UnionPay channel accounts are not supported yet", where)
}
