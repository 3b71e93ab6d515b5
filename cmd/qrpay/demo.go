package main

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"math/big"
	"os"
	"path/filepath"
	"strings"

	"github.com/qrpay/qrpay"
	"github.com/qrpay/qrpay/merchant"
)

// demoFile is what serve --demo writes to <data-dir>/demo.json (CONTRACT.md).
type demoFile struct {
	BaseURL       string    `json:"base_url"`
	MerchantID    string    `json:"merchant_id"`
	APIKeyID      string    `json:"api_key_id"`
	APISecret     string    `json:"api_secret"`
	WebhookSecret string    `json:"webhook_secret"`
	OperatorToken string    `json:"operator_token"`
	StickerURL    string    `json:"sticker_url"`
	StoreID       string    `json:"store_id"`
	Operator      demoLogin `json:"operator"`
	MerchantUser  demoLogin `json:"merchant_user"`
	Terminal      demoLogin `json:"terminal"`
}

type demoLogin struct {
	Login    string `json:"login"`
	Password string `json:"password"`
}

// The demo merchant: a noodle shop in Lanzhou, with check digits that pass.
var demoApplication = merchant.Application{
	LegalName: "兰州马记牛肉面馆有限公司", ShortName: "马记牛肉面", USCC: "91350100M000100Y43",
	LegalPersonName: "马明", LegalPersonID: "11010519491231002X", Phone: "13893100000", City: "兰州",
	Address: "城关区大众巷86号", MCC: "5812", BankName: "兰州银行城关支行", BankAccount: "6226090000000048",
}

// ensureDemo creates the demo data once. When demo.json exists and its merchant is still in the
// database nothing is created again; the file is rewritten with the current base URL.
func ensureDemo(ctx context.Context, a *app, dataDir, publicURL string) (*demoFile, error) {
	path := filepath.Join(dataDir, "demo.json")
	if b, err := os.ReadFile(path); err == nil {
		var d demoFile
		if json.Unmarshal(b, &d) == nil && d.MerchantID != "" {
			if _, err := a.merchants.Merchant(ctx, d.MerchantID); err == nil {
				if d.BaseURL != publicURL {
					if err := moveDemo(ctx, a, &d, publicURL); err != nil {
						return nil, err
					}
				}
				return &d, writeDemo(path, &d)
			}
		}
	}
	actor := merchant.System
	d := &demoFile{BaseURL: publicURL}
	opPassword := "Op-" + qrpay.RandomToken(9)
	op, err := a.merchants.CreateUser(ctx, actor, merchant.NewUser{Login: "operator-" + qrpay.RandomToken(3), DisplayName: "演示运营",
		Password: opPassword, Role: merchant.RoleAdmin})
	if err != nil {
		return nil, fmt.Errorf("operator: %w", err)
	}
	d.Operator = demoLogin{op.Login, opPassword}
	if d.OperatorToken, err = a.merchants.CreateOperatorToken(ctx, actor, op.ID, "demo"); err != nil {
		return nil, err
	}
	m, _, err := a.merchants.Apply(ctx, actor, demoApplication, "operator")
	if err != nil {
		return nil, fmt.Errorf("merchant: %w", err)
	}
	if m, err = a.merchants.Move(ctx, actor, m.ID, "approve", ""); err != nil {
		return nil, fmt.Errorf("approve: %w", err)
	}
	d.MerchantID = m.ID
	mPassword := "Shop-" + qrpay.RandomToken(9)
	u, err := a.merchants.CreateUser(ctx, actor, merchant.NewUser{MerchantID: m.ID, Login: "shop-" + qrpay.RandomToken(3),
		DisplayName: "马老板", Password: mPassword, Role: merchant.RoleOwner})
	if err != nil {
		return nil, fmt.Errorf("merchant user: %w", err)
	}
	d.MerchantUser = demoLogin{u.Login, mPassword}
	st, err := a.merchants.CreateStore(ctx, actor, m.ID, "大众巷总店", "兰州", "城关区大众巷86号")
	if err != nil {
		return nil, err
	}
	d.StoreID = st.ID
	pin, err := randomPIN()
	if err != nil {
		return nil, err
	}
	t, err := a.merchants.CreateTerminal(ctx, actor, m.ID, st.ID, "1号收银台", pin)
	if err != nil {
		return nil, err
	}
	d.Terminal = demoLogin{t.Code, pin}
	stickers, err := a.merchants.CreateStickers(ctx, actor, m.ID, st.ID, 1, "门口码牌")
	if err != nil {
		return nil, err
	}
	signer, err := a.merchants.StickerSigner(ctx)
	if err != nil {
		return nil, err
	}
	d.StickerURL = publicURL + "/p/" + signer.Token(stickers[0].ID)
	key, err := a.merchants.CreateAPIKey(ctx, actor, m.ID, merchant.ModeTest)
	if err != nil {
		return nil, err
	}
	d.APIKeyID, d.APISecret = key.ID, key.Secret
	ep, err := a.merchants.CreateEndpoint(ctx, actor, m.ID, publicURL+"/demo/webhooks")
	if err != nil {
		return nil, err
	}
	d.WebhookSecret = ep.Secret
	return d, writeDemo(path, d)
}

// moveDemo points the demo's sticker link and webhook endpoint at a new public URL.
func moveDemo(ctx context.Context, a *app, d *demoFile, publicURL string) error {
	if _, token, ok := strings.Cut(d.StickerURL, "/p/"); ok {
		d.StickerURL = publicURL + "/p/" + token
	}
	eps, err := a.merchants.Store.FindEndpoints(ctx, d.MerchantID)
	if err != nil {
		return err
	}
	for _, ep := range eps {
		if strings.HasSuffix(ep.URL, "/demo/webhooks") && ep.URL != publicURL+"/demo/webhooks" {
			if _, err := a.merchants.SetEndpointURL(ctx, merchant.System, d.MerchantID, ep.ID, publicURL+"/demo/webhooks"); err != nil {
				return err
			}
		}
	}
	d.BaseURL = publicURL
	return nil
}

func randomPIN() (string, error) {
	n, err := rand.Int(rand.Reader, big.NewInt(900000))
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("%06d", n.Int64()+100000), nil
}

func writeDemo(path string, d *demoFile) error {
	b, err := json.MarshalIndent(d, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, append(b, '\n'), 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// printDemo tells a person what to open.
func printDemo(w io.Writer, d *demoFile, dataDir string) {
	fmt.Fprintf(w, `
qrpay demo is ready (details in %s):

  Merchant dashboard  %s/login      login %s  password %s
  Operator console    %s/login      login %s  password %s
  Counter cashier     %s/counter    terminal %s  PIN %s
  Mock wallet         %s/mockpay/wallet
  Sticker (码牌)      %s
  Webhooks received   %s/demo/webhooks

  Test-mode API key   %s
`, filepath.Join(dataDir, "demo.json"), d.BaseURL, d.MerchantUser.Login, d.MerchantUser.Password,
		d.BaseURL, d.Operator.Login, d.Operator.Password, d.BaseURL, d.Terminal.Login, d.Terminal.Password,
		d.BaseURL, d.StickerURL, d.BaseURL, d.APIKeyID)
}
