package merchant_test

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/png"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"

	"github.com/qrpay/qrpay"
	"github.com/qrpay/qrpay/merchant"
	"github.com/qrpay/qrpay/store"
	"github.com/qrpay/qrpay/store/storetest"
)

// These tests drive the merchant service against real databases (SQLite always, PostgreSQL
// when QRPAY_TEST_DATABASE_URL is set), with a fake clock for every timeout.

var (
	keyA = bytes.Repeat([]byte{0xa1}, 32)
	keyB = bytes.Repeat([]byte{0xb2}, 32)
)

type fixture struct {
	svc   *merchant.Service
	db    *store.DB
	clock *qrpay.FakeClock
}

func newFixture(t *testing.T, dialect string) *fixture {
	t.Helper()
	clock := qrpay.NewFakeClock(time.Date(2026, 3, 2, 1, 0, 0, 0, time.UTC))
	db := storetest.Open(t, dialect, clock)
	sealer, err := merchant.NewSealer(map[string][]byte{"ka": keyA}, "ka", "ka")
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{db: db, clock: clock, svc: &merchant.Service{Store: db.Merchants(), Sealer: sealer, Clock: clock,
		DocumentsDir: filepath.Join(t.TempDir(), "documents")}}
}

var (
	admin    = merchant.Actor{Kind: "operator", ID: "usr_admin", Name: "admin", Role: merchant.RoleAdmin, RemoteAddr: "127.0.0.1"}
	reviewer = merchant.Actor{Kind: "operator", ID: "usr_reviewer", Name: "reviewer", Role: merchant.RoleReviewer}
)

// usccs makes valid unified social credit codes (GB 32100 check characters, with a valid
// GB 11714 organization code inside), so that tests can have many open applications.
func uscc(n int) string {
	const chars = "0123456789ABCDEFGHJKLMNPQRTUWXY"
	org := fmt.Sprintf("%08d", 31000000+n) // digits: worth the same in both alphabets
	orgW := []int{3, 7, 9, 10, 5, 8, 4, 2}
	sum := 0
	for i := 0; i < 8; i++ {
		sum += strings.IndexByte(chars, org[i]) * orgW[i]
	}
	c := 11 - sum%11
	switch c {
	case 10:
		org += "X"
	case 11:
		org += "0"
	default:
		org += fmt.Sprint(c)
	}
	body := "91350100" + org
	w := []int{1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28}
	sum = 0
	for i := 0; i < 17; i++ {
		sum += strings.IndexByte(chars, body[i]) * w[i]
	}
	return body + string(chars[(31-sum%31)%31])
}

func application(n int) merchant.Application {
	return merchant.Application{LegalName: "兰州马记牛肉面馆有限公司", ShortName: "马记牛肉面", USCC: uscc(n),
		LegalPersonName: "马明", LegalPersonID: "11010519491231002X", Phone: "13893100000", City: "兰州",
		Address: "城关区大众巷86号", MCC: "5812", BankName: "兰州银行城关支行", BankAccount: "6226090000000048"}
}

// inState makes a merchant in a status, through the lifecycle.
func (f *fixture) inState(t *testing.T, n int, st merchant.Status) *merchant.Merchant {
	t.Helper()
	ctx := context.Background()
	res, err := f.svc.Submit(ctx, admin, application(n), merchant.ApplyOptions{Draft: st == merchant.StatusDraft})
	if err != nil {
		t.Fatalf("submit: %v", err)
	}
	m := res.Merchant
	// History is in id order, and ids order by the millisecond: each step a second apart, as
	// requests would be.
	f.clock.Advance(time.Second)
	steps := map[merchant.Status][]string{
		merchant.StatusRejected: {"reject"}, merchant.StatusActive: {"approve"}, merchant.StatusFrozen: {"approve", "freeze"},
		merchant.StatusClosed: {"approve", "close"},
	}
	for _, a := range steps[st] {
		if m, err = f.svc.Move(ctx, admin, m.ID, a, "because"); err != nil {
			t.Fatalf("%s: %v", a, err)
		}
		f.clock.Advance(time.Second)
	}
	if m.Status != st {
		t.Fatalf("status %s, want %s", m.Status, st)
	}
	return m
}

func TestLifecycleEveryStep(t *testing.T) {
	storetest.Each(t, func(t *testing.T, dialect string) {
		f := newFixture(t, dialect)
		ctx := context.Background()
		allowed := map[string]merchant.Status{
			"draft/submit": merchant.StatusSubmitted, "submitted/approve": merchant.StatusActive,
			"submitted/reject": merchant.StatusRejected, "rejected/submit": merchant.StatusSubmitted,
			"active/freeze": merchant.StatusFrozen, "active/close": merchant.StatusClosed,
			"frozen/unfreeze": merchant.StatusActive, "frozen/close": merchant.StatusClosed,
		}
		n := 0
		for _, st := range []merchant.Status{merchant.StatusDraft, merchant.StatusSubmitted, merchant.StatusRejected,
			merchant.StatusActive, merchant.StatusFrozen, merchant.StatusClosed} {
			for _, action := range []string{"submit", "approve", "reject", "freeze", "unfreeze", "close"} {
				n++
				m := f.inState(t, n, st)
				got, err := f.svc.Move(ctx, admin, m.ID, action, "a reason")
				want, ok := allowed[string(st)+"/"+action]
				if !ok {
					if qrpay.ErrorCode(err) != qrpay.EINVALIDSTATE {
						t.Errorf("%s a %s merchant: err %v, want invalid_state", action, st, err)
					}
					continue
				}
				if err != nil || got.Status != want {
					t.Errorf("%s a %s merchant: %v, %v; want %s", action, st, got, err, want)
					continue
				}
				hist, err := f.svc.StatusHistory(ctx, m.ID)
				if err != nil || len(hist) == 0 {
					t.Fatalf("history: %v %v", hist, err)
				}
				last := hist[len(hist)-1]
				if last.Action != action || last.From != st || last.To != want || last.ActorID != admin.ID {
					t.Errorf("%s a %s merchant: history ends with %+v", action, st, last)
				}
			}
		}
		// Approving sets the default fee rates and records them.
		m := f.inState(t, 100, merchant.StatusActive)
		if m.FeeRates["alipay"] != 38 || m.FeeRates["unionpay"] != 30 {
			t.Errorf("fee rates after approval: %v", m.FeeRates)
		}
		if fh, _ := f.svc.FeeRateHistory(ctx, m.ID); len(fh) != len(merchant.Channels) {
			t.Errorf("fee history after approval: %d entries", len(fh))
		}
		// Rejecting needs a reason.
		s := f.inState(t, 101, merchant.StatusSubmitted)
		if _, err := f.svc.Move(ctx, admin, s.ID, "reject", " "); qrpay.ErrorParam(err) != "reason" {
			t.Errorf("reject without a reason: %v", err)
		}
	})
}

func TestRolesAndUniqueness(t *testing.T) {
	storetest.Each(t, func(t *testing.T, dialect string) {
		f := newFixture(t, dialect)
		ctx := context.Background()
		m := f.inState(t, 1, merchant.StatusSubmitted)
		// One application of a business under review at a time.
		_, err := f.svc.Submit(ctx, admin, application(1), merchant.ApplyOptions{})
		if qrpay.ErrorCode(err) != qrpay.ECONFLICT || qrpay.ErrorParam(err) != "uscc" {
			t.Fatalf("second open application: %v, want conflict on uscc", err)
		}
		// Reviewers decide applications; freezing is for admins.
		if m, err = f.svc.Move(ctx, reviewer, m.ID, "approve", ""); err != nil {
			t.Fatalf("reviewer approves: %v", err)
		}
		if _, err := f.svc.Move(ctx, reviewer, m.ID, "freeze", ""); qrpay.ErrorCode(err) != qrpay.EFORBIDDEN {
			t.Errorf("reviewer freezes: %v, want forbidden", err)
		}
		if _, err := f.svc.SetFeeRates(ctx, reviewer, m.ID, map[string]int{"alipay": 60}); qrpay.ErrorCode(err) != qrpay.EFORBIDDEN {
			t.Errorf("reviewer sets fees: %v, want forbidden", err)
		}
		// A decided business may apply again (a new line of business); the reviewer is warned.
		res, err := f.svc.Submit(ctx, admin, application(1), merchant.ApplyOptions{})
		if err != nil || res.Merchant.Warnings["uscc"] != merchant.WarnUSCCExisting.Key {
			t.Fatalf("second application after approval: %v, warnings %v", err, res)
		}
		// Fee rates: changes are recorded with what they were.
		f.clock.Advance(time.Second)
		if _, err := f.svc.SetFeeRates(ctx, admin, m.ID, map[string]int{"alipay": 60, "wechat": 38}); err != nil {
			t.Fatal(err)
		}
		fh, err := f.svc.FeeRateHistory(ctx, m.ID)
		if err != nil || fh[0].Channel != "alipay" || fh[0].Old == nil || *fh[0].Old != 38 || fh[0].New != 60 {
			t.Fatalf("fee history: %+v %v", fh, err)
		}
		if len(fh) != len(merchant.Channels)+1 {
			t.Errorf("an unchanged rate was recorded: %d entries", len(fh))
		}
		if _, err := f.svc.SetFeeRates(ctx, admin, m.ID, map[string]int{"alipay": 10001}); qrpay.ErrorCode(err) != qrpay.EINVALID {
			t.Errorf("rate over 100%%: %v", err)
		}
		// Every change is in the audit log, with who and from where.
		es, _, err := f.svc.Audit(ctx, merchant.AuditFilter{MerchantID: m.ID, Action: "merchant.fee_rates"})
		if err != nil || len(es) != 1 || es[0].ActorID != admin.ID || es[0].RemoteAddr != "127.0.0.1" || !strings.Contains(es[0].After, "60") {
			t.Fatalf("audit: %+v %v", es, err)
		}
		all, _, _ := f.svc.Audit(ctx, merchant.AuditFilter{MerchantID: m.ID, Limit: 100})
		for _, e := range all {
			if strings.Contains(e.Before+e.After, "11010519491231002X") || strings.Contains(e.Before+e.After, "6226090000000048") {
				t.Errorf("audit entry %s holds personal data: %s %s", e.Action, e.Before, e.After)
			}
		}
	})
}

func TestSessionsExpire(t *testing.T) {
	storetest.Each(t, func(t *testing.T, dialect string) {
		f := newFixture(t, dialect)
		f.svc.SessionIdle, f.svc.SessionAbsolute = 30*time.Minute, 2*time.Hour
		ctx := context.Background()
		u, err := f.svc.CreateUser(ctx, merchant.System, merchant.NewUser{Login: "op-1", Password: "Good-Password-1", Role: merchant.RoleAdmin})
		if err != nil {
			t.Fatal(err)
		}
		_, token, err := f.svc.Login(ctx, "op-1", "Good-Password-1", "127.0.0.1", "test")
		if err != nil {
			t.Fatal(err)
		}
		// Idle: 29 minutes is fine (and touches the session); 31 more is not.
		f.clock.Advance(29 * time.Minute)
		if _, err := f.svc.SessionByToken(ctx, token); err != nil {
			t.Fatalf("after 29 idle minutes: %v", err)
		}
		f.clock.Advance(31 * time.Minute)
		if _, err := f.svc.SessionByToken(ctx, token); qrpay.ErrorCode(err) != qrpay.EUNAUTHORIZED {
			t.Fatalf("after 31 idle minutes: %v, want unauthorized", err)
		}
		// Absolute: busy all along, the session still ends after two hours.
		_, token, err = f.svc.Login(ctx, "op-1", "Good-Password-1", "127.0.0.1", "test")
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 5; i++ {
			f.clock.Advance(20 * time.Minute)
			if _, err := f.svc.SessionByToken(ctx, token); err != nil {
				t.Fatalf("busy session after %d minutes: %v", 20*(i+1), err)
			}
		}
		f.clock.Advance(21 * time.Minute)
		if _, err := f.svc.SessionByToken(ctx, token); qrpay.ErrorCode(err) != qrpay.EUNAUTHORIZED {
			t.Fatalf("after 121 minutes: %v, want unauthorized", err)
		}
		// Disabling a user ends its sessions.
		_, token, _ = f.svc.Login(ctx, "op-1", "Good-Password-1", "127.0.0.1", "test")
		other, _ := f.svc.CreateUser(ctx, merchant.System, merchant.NewUser{Login: "op-2", Password: "Good-Password-2", Role: merchant.RoleAdmin})
		otherActor := merchant.Actor{Kind: "operator", ID: other.ID, Role: merchant.RoleAdmin}
		if _, err := f.svc.SetUserStatus(ctx, otherActor, "", u.ID, "disabled"); err != nil {
			t.Fatal(err)
		}
		if _, err := f.svc.SessionByToken(ctx, token); qrpay.ErrorCode(err) != qrpay.EUNAUTHORIZED {
			t.Fatalf("a disabled user's session: %v", err)
		}
	})
}

func TestLoginLockoutAndTOTP(t *testing.T) {
	storetest.Each(t, func(t *testing.T, dialect string) {
		f := newFixture(t, dialect)
		ctx := context.Background()
		m := f.inState(t, 1, merchant.StatusActive)
		owner, err := f.svc.CreateUser(ctx, admin, merchant.NewUser{MerchantID: m.ID, Login: "owner-1", Password: "Good-Password-1",
			Role: merchant.RoleOwner, MustChangePassword: true})
		if err != nil || !owner.MustChangePassword {
			t.Fatalf("create owner: %v %+v", err, owner)
		}
		for i := 0; i < 5; i++ {
			if _, _, err := f.svc.Login(ctx, "owner-1", "wrong-password", "127.0.0.1", ""); qrpay.ErrorCode(err) != qrpay.EUNAUTHORIZED {
				t.Fatalf("wrong password #%d: %v", i+1, err)
			}
		}
		// Locked: even the right password is refused until the lockout ends.
		if _, _, err := f.svc.Login(ctx, "owner-1", "Good-Password-1", "127.0.0.1", ""); qrpay.ErrorCode(err) != qrpay.ELIMITEXCEEDED {
			t.Fatalf("right password while locked: %v, want limit_exceeded", err)
		}
		if es, _, _ := f.svc.Audit(ctx, merchant.AuditFilter{ObjectID: owner.ID, Action: "user.locked"}); len(es) != 1 {
			t.Errorf("lockout audited %d times", len(es))
		}
		f.clock.Advance(16 * time.Minute)
		if _, _, err := f.svc.Login(ctx, "owner-1", "Good-Password-1", "127.0.0.1", ""); err != nil {
			t.Fatalf("after the lockout: %v", err)
		}
		// Must change the handed-over password; the change lifts the flag.
		if err := f.svc.ChangePassword(ctx, owner.ID, "Good-Password-1", "short"); qrpay.ErrorParam(err) != "password" {
			t.Errorf("weak new password: %v", err)
		}
		if err := f.svc.ChangePassword(ctx, owner.ID, "Good-Password-1", "My-Own-Password-9"); err != nil {
			t.Fatal(err)
		}
		if u, _ := f.svc.User(ctx, m.ID, owner.ID); u.MustChangePassword {
			t.Error("must_change_password stays after a change")
		}

		// TOTP: begin, enable with a code from the secret, then logins need it.
		ownerActor := merchant.Actor{Kind: "merchant_user", ID: owner.ID, Role: merchant.RoleOwner, MerchantID: m.ID}
		otpURL, err := f.svc.BeginTOTP(ctx, ownerActor, owner.ID)
		if err != nil {
			t.Fatal(err)
		}
		u, _ := url.Parse(otpURL)
		secret := u.Query().Get("secret")
		if err := f.svc.EnableTOTP(ctx, ownerActor, owner.ID, "000000"); qrpay.ErrorParam(err) != "code" {
			t.Fatalf("enable with a wrong code: %v", err)
		}
		code, _ := totp.GenerateCode(secret, f.clock.Now())
		if err := f.svc.EnableTOTP(ctx, ownerActor, owner.ID, code); err != nil {
			t.Fatal(err)
		}
		sess, token, err := f.svc.Login(ctx, "owner-1", "My-Own-Password-9", "127.0.0.1", "")
		if err != nil || sess.Stage != "totp" {
			t.Fatalf("login with 2FA: %v stage %v", err, sess)
		}
		f.clock.Advance(90 * time.Second)
		if _, err := f.svc.VerifyTOTP(ctx, token, "123456"); qrpay.ErrorCode(err) != qrpay.EINVALID {
			t.Fatalf("wrong code: %v", err)
		}
		code, _ = totp.GenerateCode(secret, f.clock.Now())
		if sess, err = f.svc.VerifyTOTP(ctx, token, code); err != nil || sess.Stage != "full" {
			t.Fatalf("right code: %v %+v", err, sess)
		}
		// Staff have no second factor.
		staff, _ := f.svc.CreateUser(ctx, ownerActor, merchant.NewUser{MerchantID: m.ID, Login: "staff-1", Password: "Good-Password-2", Role: merchant.RoleCounter})
		if _, err := f.svc.BeginTOTP(ctx, ownerActor, staff.ID); qrpay.ErrorCode(err) != qrpay.EFORBIDDEN {
			t.Errorf("TOTP for staff: %v", err)
		}
	})
}

func pngBytes(t *testing.T) []byte {
	var b bytes.Buffer
	if err := png.Encode(&b, image.NewGray(image.Rect(0, 0, 8, 8))); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestDocumentsAndKeysRotation(t *testing.T) {
	storetest.Each(t, func(t *testing.T, dialect string) {
		f := newFixture(t, dialect)
		ctx := context.Background()
		img := pngBytes(t)
		pdf := []byte("%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n")
		// Every problem of the documents at once, under each kind.
		_, err := f.svc.Submit(ctx, admin, application(1), merchant.ApplyOptions{RequireDocuments: true, Documents: []merchant.Upload{
			{Kind: merchant.DocBusinessLicence, Data: []byte("just text, not an image")},
			{Kind: merchant.DocIDFront, Data: append(img, make([]byte, merchant.MaxDocumentSize)...)},
		}})
		var p *merchant.Problems
		if !asProblems(err, &p) {
			t.Fatalf("bad documents: %v", err)
		}
		keys := p.Keys()
		if keys[merchant.DocBusinessLicence] != "document.type" || keys[merchant.DocIDFront] != "document.size" || keys[merchant.DocIDBack] != "document.required" {
			t.Fatalf("document problems: %v", keys)
		}
		res, err := f.svc.Submit(ctx, admin, application(1), merchant.ApplyOptions{RequireDocuments: true, Documents: []merchant.Upload{
			{Kind: merchant.DocBusinessLicence, Data: pdf}, {Kind: merchant.DocIDFront, Data: img}, {Kind: merchant.DocIDBack, Data: img},
		}})
		if err != nil {
			t.Fatal(err)
		}
		m := res.Merchant
		if len(res.Documents) != 3 || res.Documents[0].ContentType != "application/pdf" || res.Documents[1].ContentType != "image/png" {
			t.Fatalf("documents: %+v", res.Documents)
		}
		// Sealed on disk: the file is not the image.
		raw, err := os.ReadFile(filepath.Join(f.svc.DocumentsDir, m.ID, res.Documents[1].ID+".sealed"))
		if err != nil || bytes.Contains(raw, img[:16]) || !bytes.HasPrefix(raw, []byte("v1.ka.")) {
			t.Fatalf("document at rest: %v %q", err, raw[:min(len(raw), 20)])
		}
		// The applicant's status link finds the application, a wrong one does not.
		if got, err := f.svc.ApplicationStatus(ctx, res.StatusToken); err != nil || got.ID != m.ID {
			t.Fatalf("status link: %v", err)
		}
		if _, err := f.svc.ApplicationStatus(ctx, m.ID+".wrong"); qrpay.ErrorCode(err) != qrpay.ENOTFOUND {
			t.Fatalf("forged status link: %v", err)
		}

		// Everything sealed: personal data, a key, an endpoint, a TOTP secret, a signing key.
		if m, err = f.svc.Move(ctx, admin, m.ID, "approve", ""); err != nil {
			t.Fatal(err)
		}
		key, err := f.svc.CreateAPIKey(ctx, admin, m.ID, merchant.ModeTest)
		if err != nil {
			t.Fatal(err)
		}
		ep, err := f.svc.CreateEndpoint(ctx, admin, m.ID, "https://example.com/hook")
		if err != nil {
			t.Fatal(err)
		}
		if ep, err = f.svc.RotateEndpointSecret(ctx, admin, m.ID, ep.ID, 0); err != nil {
			t.Fatal(err)
		}
		op, _ := f.svc.CreateUser(ctx, merchant.System, merchant.NewUser{Login: "op-1", Password: "Good-Password-1", Role: merchant.RoleAdmin})
		if _, err := f.svc.BeginTOTP(ctx, admin, op.ID); err != nil {
			t.Fatal(err)
		}
		signer, err := f.svc.StickerSigner(ctx)
		if err != nil {
			t.Fatal(err)
		}

		// Rotate to key kb: everything is re-sealed once; a second run changes nothing.
		rotated, err := merchant.ParseKeys(merchant.FormatKey("kb", keyB) + "," + merchant.FormatKey("ka", keyA))
		if err != nil {
			t.Fatal(err)
		}
		f.svc.Sealer = rotated
		rep, err := f.svc.RotateKeys(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, name := range []string{"merchant.legal_person_id", "merchant.phone", "merchant.bank_account", "api_key.secret",
			"webhook_endpoint.secret", "webhook_endpoint.previous_secret", "user.totp", "signing_key.key", "document.content"} {
			if rep.Resealed[name] == 0 {
				t.Errorf("rotation re-sealed no %s: %+v", name, rep)
			}
		}
		if rep.Resealed["document.content"] != 3 {
			t.Errorf("documents re-sealed: %d", rep.Resealed["document.content"])
		}
		if rep, err = f.svc.RotateKeys(ctx); err != nil || rep.Total() != 0 {
			t.Fatalf("second rotation: %+v %v", rep, err)
		}
		// The old key can go: everything opens with kb alone.
		only, _ := merchant.NewSealer(map[string][]byte{"kb": keyB}, "kb", "kb")
		fresh := &merchant.Service{Store: f.db.Merchants(), Sealer: only, Clock: f.clock, DocumentsDir: f.svc.DocumentsDir}
		got, err := fresh.Merchant(ctx, m.ID)
		if err != nil {
			t.Fatal(err)
		}
		if err := fresh.Open(got); err != nil || got.LegalPersonID != "11010519491231002X" || got.BankAccount != "6226090000000048" {
			t.Fatalf("open after rotation: %v %s", err, got.LegalPersonID)
		}
		if k, err := fresh.APIKey(ctx, key.ID); err != nil || k.Secret != key.Secret {
			t.Fatalf("API key after rotation: %v", err)
		}
		if e, err := f.db.Merchants().FindEndpoint(ctx, m.ID, ep.ID); err != nil {
			t.Fatal(err)
		} else if secrets, err := fresh.EndpointSecrets(e); err != nil || len(secrets) != 2 || secrets[0] != ep.Secret {
			t.Fatalf("endpoint secrets after rotation: %d, %v", len(secrets), err)
		}
		if _, data, err := fresh.OpenDocument(ctx, m.ID, res.Documents[1].ID); err != nil || !bytes.Equal(data, img) {
			t.Fatalf("document after rotation: %v", err)
		}
		freshSigner, err := fresh.StickerSigner(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if freshSigner.Token("stk_1") != signer.Token("stk_1") {
			t.Error("sticker tokens changed with the data key: printed stickers would break")
		}
	})
}

func asProblems(err error, p **merchant.Problems) bool {
	for err != nil {
		if q, ok := err.(*merchant.Problems); ok {
			*p = q
			return true
		}
		u, ok := err.(interface{ Unwrap() error })
		if !ok {
			return false
		}
		err = u.Unwrap()
	}
	return false
}

func TestKeysStickersAndIsolation(t *testing.T) {
	storetest.Each(t, func(t *testing.T, dialect string) {
		f := newFixture(t, dialect)
		ctx := context.Background()
		a := f.inState(t, 1, merchant.StatusActive)
		b := f.inState(t, 2, merchant.StatusActive)
		ownerA := merchant.Actor{Kind: "merchant_user", ID: "usr_a", Role: merchant.RoleOwner, MerchantID: a.ID}
		staffA := merchant.Actor{Kind: "merchant_user", ID: "usr_a2", Role: merchant.RoleReadOnly, MerchantID: a.ID}

		// Rotation with an overlap: the old key works for 24 hours beside the new one.
		old, err := f.svc.CreateAPIKey(ctx, ownerA, a.ID, merchant.ModeTest)
		if err != nil {
			t.Fatal(err)
		}
		nk, _, err := f.svc.RotateAPIKey(ctx, ownerA, a.ID, old.ID, 0)
		if err != nil {
			t.Fatal(err)
		}
		f.clock.Advance(23 * time.Hour)
		if _, err := f.svc.APIKey(ctx, old.ID); err != nil {
			t.Fatalf("old key within the overlap: %v", err)
		}
		f.clock.Advance(2 * time.Hour)
		if _, err := f.svc.APIKey(ctx, old.ID); qrpay.ErrorCode(err) != qrpay.EUNAUTHORIZED {
			t.Fatalf("old key after the overlap: %v", err)
		}
		if _, err := f.svc.APIKey(ctx, nk.ID); err != nil {
			t.Fatalf("new key: %v", err)
		}
		if _, err := f.svc.RevokeAPIKey(ctx, ownerA, a.ID, nk.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := f.svc.APIKey(ctx, nk.ID); qrpay.ErrorCode(err) != qrpay.EUNAUTHORIZED {
			t.Fatalf("revoked key: %v", err)
		}

		// Stickers: a token finds its sticker, a forged one is unauthorized, a revoked one
		// says so.
		shop, err := f.svc.CreateStore(ctx, ownerA, a.ID, "总店", "兰州", "大众巷")
		if err != nil {
			t.Fatal(err)
		}
		sts, err := f.svc.CreateStickers(ctx, ownerA, a.ID, shop.ID, 3, "门口")
		if err != nil || len(sts) != 3 || sts[0].BatchID != sts[2].BatchID {
			t.Fatalf("stickers: %v %v", sts, err)
		}
		signer, _ := f.svc.StickerSigner(ctx)
		st, sm, sshop, err := f.svc.StickerByToken(ctx, signer.Token(sts[0].ID))
		if err != nil || st.ID != sts[0].ID || sm.ID != a.ID || sshop.ID != shop.ID || !merchant.StickerUsable(st, sm, sshop) {
			t.Fatalf("sticker by token: %v", err)
		}
		tok := signer.Token(sts[0].ID)
		forged := tok[:len(tok)-2] + "AA"
		if forged == tok {
			forged = tok[:len(tok)-2] + "BB"
		}
		if _, _, _, err := f.svc.StickerByToken(ctx, forged); qrpay.ErrorCode(err) != qrpay.EUNAUTHORIZED {
			t.Fatalf("forged token: %v", err)
		}
		if _, err := f.svc.RevokeSticker(ctx, ownerA, a.ID, sts[0].ID); err != nil {
			t.Fatal(err)
		}
		st, sm, sshop, err = f.svc.StickerByToken(ctx, tok)
		if err != nil || st.Status != "revoked" || merchant.StickerUsable(st, sm, sshop) {
			t.Fatalf("revoked sticker: %v %v", st, err)
		}
		if _, err := f.svc.BindSticker(ctx, ownerA, a.ID, sts[1].ID, "", ""); err != nil {
			t.Fatal(err)
		}
		st, sm, sshop, _ = f.svc.StickerByToken(ctx, signer.Token(sts[1].ID))
		if merchant.StickerUsable(st, sm, sshop) {
			t.Error("an unbound sticker takes payments")
		}
		// A disabled store's terminals cannot log in.
		term, err := f.svc.CreateTerminal(ctx, ownerA, a.ID, shop.ID, "1号台", "4321")
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := f.svc.TerminalLogin(ctx, term.Code, "4321", "", ""); err != nil {
			t.Fatalf("terminal login: %v", err)
		}
		if _, err := f.svc.SetStoreStatus(ctx, ownerA, a.ID, shop.ID, "disabled"); err != nil {
			t.Fatal(err)
		}
		if _, _, err := f.svc.TerminalLogin(ctx, term.Code, "4321", "", ""); qrpay.ErrorCode(err) != qrpay.EFORBIDDEN {
			t.Errorf("terminal of a disabled store: %v", err)
		}
		if _, err := f.svc.SetStoreStatus(ctx, ownerA, a.ID, shop.ID, "active"); err != nil {
			t.Fatal(err)
		}
		// A frozen merchant's sticker takes no payment.
		if _, err := f.svc.Move(ctx, admin, a.ID, "freeze", ""); err != nil {
			t.Fatal(err)
		}
		st, sm, sshop, _ = f.svc.StickerByToken(ctx, signer.Token(sts[2].ID))
		if merchant.StickerUsable(st, sm, sshop) {
			t.Error("a frozen merchant's sticker takes payments")
		}

		// Isolation: A's owner reaches none of B's objects, and staff change nothing.
		shopB, _ := f.svc.CreateStore(ctx, admin, b.ID, "B店", "", "")
		stB, _ := f.svc.CreateStickers(ctx, admin, b.ID, shopB.ID, 1, "")
		keyB, _ := f.svc.CreateAPIKey(ctx, admin, b.ID, merchant.ModeTest)
		checks := map[string]error{}
		_, checks["revoke B's sticker as B"] = f.svc.RevokeSticker(ctx, ownerA, b.ID, stB[0].ID)
		_, checks["revoke B's sticker as A"] = f.svc.RevokeSticker(ctx, ownerA, a.ID, stB[0].ID)
		_, _, checks["rotate B's key"] = f.svc.RotateAPIKey(ctx, ownerA, a.ID, keyB.ID, 0)
		_, checks["revoke B's key"] = f.svc.RevokeAPIKey(ctx, ownerA, a.ID, keyB.ID)
		_, checks["disable B's store"] = f.svc.SetStoreStatus(ctx, ownerA, a.ID, shopB.ID, "disabled")
		_, checks["store for B"] = f.svc.CreateStore(ctx, ownerA, b.ID, "x店", "", "")
		_, checks["key for B"] = f.svc.CreateAPIKey(ctx, ownerA, b.ID, merchant.ModeTest)
		for what, err := range checks {
			if qrpay.ErrorCode(err) != qrpay.ENOTFOUND {
				t.Errorf("%s: %v, want not_found", what, err)
			}
		}
		if _, err := f.svc.CreateAPIKey(ctx, staffA, a.ID, merchant.ModeTest); qrpay.ErrorCode(err) != qrpay.EFORBIDDEN {
			t.Errorf("read-only staff make a key: %v", err)
		}
	})
}

// TestRotateEndpointSecret: a rotation shows a new secret once; both secrets sign until the
// overlap ends, then only the new one; a second rotation keeps only the secret it replaced; a
// read-only user cannot rotate, nor anyone another merchant's endpoint; the overlap is bounded.
func TestRotateEndpointSecret(t *testing.T) {
	storetest.Each(t, func(t *testing.T, dialect string) {
		f := newFixture(t, dialect)
		ctx := context.Background()
		a, _, err := f.svc.Apply(ctx, admin, application(1), "operator")
		if err != nil {
			t.Fatal(err)
		}
		b, _, err := f.svc.Apply(ctx, admin, application(2), "operator")
		if err != nil {
			t.Fatal(err)
		}
		ep, err := f.svc.CreateEndpoint(ctx, admin, a.ID, "https://example.com/hook")
		if err != nil {
			t.Fatal(err)
		}
		first := ep.Secret
		secrets := func() []string {
			t.Helper()
			e, err := f.db.Merchants().FindEndpoint(ctx, a.ID, ep.ID)
			if err != nil {
				t.Fatal(err)
			}
			out, err := f.svc.EndpointSecrets(e)
			if err != nil {
				t.Fatal(err)
			}
			return out
		}
		if got := secrets(); len(got) != 1 || got[0] != first {
			t.Fatalf("secrets before a rotation: %d", len(got))
		}
		rot, err := f.svc.RotateEndpointSecret(ctx, admin, a.ID, ep.ID, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		if rot.Secret == "" || rot.Secret == first || rot.PreviousExpiresAt == nil || !rot.PreviousExpiresAt.Equal(f.clock.Now().Add(time.Hour)) {
			t.Fatalf("rotated: %+v", rot)
		}
		if got := secrets(); len(got) != 2 || got[0] != rot.Secret || got[1] != first {
			t.Fatalf("secrets during the overlap: %d", len(got))
		}
		// A second rotation: the secret it replaces overlaps; the first is gone.
		again, err := f.svc.RotateEndpointSecret(ctx, admin, a.ID, ep.ID, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		if got := secrets(); len(got) != 2 || got[0] != again.Secret || got[1] != rot.Secret {
			t.Fatalf("secrets after a second rotation: %d", len(got))
		}
		// Pointing the endpoint elsewhere keeps both secrets signing.
		if _, err := f.svc.SetEndpointURL(ctx, admin, a.ID, ep.ID, "https://example.com/hook2"); err != nil {
			t.Fatal(err)
		}
		if got := secrets(); len(got) != 2 || got[0] != again.Secret || got[1] != rot.Secret {
			t.Fatalf("secrets after a URL change: %d", len(got))
		}
		f.clock.Advance(time.Hour + time.Second)
		if got := secrets(); len(got) != 1 || got[0] != again.Secret {
			t.Fatalf("secrets after the overlap: %d", len(got))
		}
		staff := merchant.Actor{Kind: "merchant_user", ID: "usr_ro", Role: merchant.RoleReadOnly, MerchantID: a.ID}
		owner := merchant.Actor{Kind: "merchant_user", ID: "usr_b", Role: merchant.RoleOwner, MerchantID: b.ID}
		for _, c := range []struct {
			actor   merchant.Actor
			mid     string
			overlap time.Duration
			code    string
		}{
			{staff, a.ID, 0, qrpay.EFORBIDDEN},
			{owner, a.ID, 0, qrpay.ENOTFOUND}, // another merchant is not there for it
			{owner, b.ID, 0, qrpay.ENOTFOUND},
			{admin, a.ID, 31 * 24 * time.Hour, qrpay.EINVALID},
		} {
			if _, err := f.svc.RotateEndpointSecret(ctx, c.actor, c.mid, ep.ID, c.overlap); qrpay.ErrorCode(err) != c.code {
				t.Errorf("%s on %s: %v, want %s", c.actor.ID, c.mid, err, c.code)
			}
		}
		if got := secrets(); len(got) != 1 || got[0] != again.Secret {
			t.Fatal("a refused rotation changed the secrets")
		}
	})
}
