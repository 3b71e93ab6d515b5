// Command example takes one payment through qrpay's merchant API with the Go client: it reads
// the demo's keys from demo.json, creates a dynamic code, and waits for the customer to pay it
// with the mock wallet (or pays it itself with -pay), printing the payment as it changes.
//
//	go run ./client/example -demo ./qrpay-data/demo.json [-amount 1234] [-pay]
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net/http"
	"os"
	"time"

	"github.com/qrpay/qrpay/client"
)

func main() {
	demoPath := flag.String("demo", "./qrpay-data/demo.json", "the demo.json that serve --demo wrote")
	amount := flag.Int64("amount", 1234, "amount in fen (the last two digits choose the mock provider's behaviour)")
	pay := flag.Bool("pay", false, "pay the code with the mock wallet instead of waiting for you to")
	flag.Parse()
	if err := run(*demoPath, *amount, *pay); err != nil {
		fmt.Fprintln(os.Stderr, "example:", err)
		os.Exit(1)
	}
}

func run(demoPath string, amount int64, pay bool) error {
	b, err := os.ReadFile(demoPath)
	if err != nil {
		return fmt.Errorf("read %s (start qrpay serve --demo first): %w", demoPath, err)
	}
	var demo struct {
		BaseURL   string `json:"base_url"`
		APIKeyID  string `json:"api_key_id"`
		APISecret string `json:"api_secret"`
	}
	if err := json.Unmarshal(b, &demo); err != nil {
		return err
	}
	ctx := context.Background()
	c := client.New(demo.BaseURL, demo.APIKeyID, demo.APISecret)
	order := fmt.Sprintf("example-%d", time.Now().UnixNano())
	p, err := c.CreatePayment(ctx, client.PaymentParams{MerchantOrderNo: order, Amount: amount, Currency: "CNY",
		Description: "Example order", Scene: "qr"}, client.IdempotencyKey(order))
	if err != nil {
		return err
	}
	fmt.Printf("payment %s: %s, ¥%d.%02d\n", p.ID, p.Status, p.Amount/100, p.Amount%100)
	fmt.Printf("code:  %s\nimage: %s\n", p.QR.Payload, p.QR.ImageURL)
	if pay {
		body, _ := json.Marshal(map[string]string{"qr": p.QR.Payload, "payer": "example-customer"})
		resp, err := http.Post(demo.BaseURL+"/mockpay/wallet/pay", "application/json", bytes.NewReader(body))
		if err != nil {
			return err
		}
		resp.Body.Close()
	} else {
		fmt.Printf("pay it: open %s/mockpay/wallet, paste the code (or upload the image) and press Pay\n", demo.BaseURL)
	}
	last := p.Status
	for deadline := time.Now().Add(10 * time.Minute); time.Now().Before(deadline); time.Sleep(time.Second) {
		p, err = c.Payment(ctx, p.ID)
		if err != nil {
			return err
		}
		if p.Status != last {
			fmt.Printf("payment %s: %s\n", p.ID, p.Status)
			last = p.Status
		}
		switch p.Status {
		case "succeeded", "failed", "closed", "expired":
			return nil
		}
	}
	return fmt.Errorf("payment %s is still %s", p.ID, p.Status)
}
