package merchant

import (
	"context"
	"strings"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"github.com/qrpay/qrpay"
)

// Default session and login limits.
const (
	defaultSessionIdle     = 30 * time.Minute
	defaultSessionAbsolute = 12 * time.Hour
	defaultMaxFailedLogins = 5
	defaultLockoutFor      = 15 * time.Minute
)

// NewUser is what creating a user takes.
type NewUser struct {
	MerchantID  string // "" for an operator
	Login       string
	DisplayName string
	Password    string
	Role        string
	// MustChangePassword makes the user choose a new password at the first login (for a
	// password an operator handed over).
	MustChangePassword bool
}

// CheckLogin checks a login name: 3 to 64 characters of letters, digits and ._@-.
func CheckLogin(login string) error {
	if len(login) < 3 || len(login) > 64 {
		return qrpay.Invalid("login", "The login must be 3 to 64 characters long.")
	}
	for _, r := range login {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("._@-", r)) {
			return qrpay.Invalid("login", "The login may contain only letters, digits and . _ @ -.")
		}
	}
	return nil
}

// CreateUser adds a user. Operators have no merchant and an operator role; merchant users have a
// merchant and a merchant role. Only an admin creates operators; a merchant owner creates users
// of its own merchant.
func (s *Service) CreateUser(ctx context.Context, actor Actor, nu NewUser) (*User, error) {
	nu.Login = strings.TrimSpace(nu.Login)
	if err := CheckLogin(nu.Login); err != nil {
		return nil, err
	}
	if err := CheckPasswordStrength(nu.Password); err != nil {
		return nil, err
	}
	switch {
	case IsOperatorRole(nu.Role):
		if nu.MerchantID != "" {
			return nil, qrpay.Invalid("role", "Operators belong to no merchant.")
		}
		if actor.Kind != "system" && actor.Role != RoleAdmin {
			return nil, qrpay.Errorf(qrpay.EFORBIDDEN, "Only an admin creates operators.")
		}
	case nu.Role == RoleOwner || nu.Role == RoleCounter || nu.Role == RoleReadOnly:
		if nu.MerchantID == "" {
			return nil, qrpay.Invalid("merchant_id", "A merchant user belongs to a merchant.")
		}
		if actor.Kind == "merchant_user" && (actor.Role != RoleOwner || actor.MerchantID != nu.MerchantID) {
			return nil, qrpay.Errorf(qrpay.EFORBIDDEN, "Only the merchant's owner adds users.")
		}
		if actor.Kind == "operator" && actor.Role != RoleAdmin {
			return nil, qrpay.Errorf(qrpay.EFORBIDDEN, "Only an admin adds merchant users.")
		}
		if actor.Kind == "api_key" || actor.Kind == "anonymous" {
			return nil, qrpay.Errorf(qrpay.EFORBIDDEN, "Users are added by an admin or the merchant's owner.")
		}
	default:
		return nil, qrpay.Invalid("role", "Unknown role %q.", nu.Role)
	}
	hash, err := HashPassword(nu.Password)
	if err != nil {
		return nil, err
	}
	var u *User
	err = s.Store.InTx(ctx, func(tx Tx) error {
		u = &User{ID: qrpay.NewID("usr", tx.Now()), MerchantID: nu.MerchantID, Login: nu.Login,
			DisplayName: CleanText(nu.DisplayName), PasswordHash: hash, Role: nu.Role, Status: "active", CreatedAt: tx.Now(),
			MustChangePassword: nu.MustChangePassword}
		if err := tx.InsertUser(ctx, u); err != nil {
			if qrpay.IsCode(err, qrpay.ECONFLICT) {
				return &qrpay.Error{Code: qrpay.ECONFLICT, Param: "login", Message: "This login is taken.", Err: err}
			}
			return err
		}
		return audit(ctx, tx, actor, nu.MerchantID, "user.create", "user", u.ID, nil, u)
	})
	if err != nil {
		return nil, err
	}
	return u, nil
}

// ErrBadLogin is the one answer to a wrong login or password, so that logins cannot be probed.
var ErrBadLogin = qrpay.Errorf(qrpay.EUNAUTHORIZED, "Wrong login or password.")

// Login checks a user's password and starts a session. Failures count against the account: after
// MaxFailedLogins in a row it is locked for LockoutFor (ELIMITEXCEEDED while locked). A user
// with two-factor authentication gets a session in stage "totp" that VerifyTOTP completes. The
// returned token goes in the cookie; only its hash is stored.
func (s *Service) Login(ctx context.Context, login, password, remoteAddr, userAgent string) (*Session, string, error) {
	u, err := s.Store.FindUserByLogin(ctx, strings.TrimSpace(login))
	if qrpay.IsCode(err, qrpay.ENOTFOUND) {
		// Spend the time a real check would, so that timing does not tell which logins exist.
		_, _, _ = CheckPassword(dummyHash, password)
		return nil, "", ErrBadLogin
	} else if err != nil {
		return nil, "", err
	}
	now := s.now()
	if u.LockedUntil != nil && now.Before(*u.LockedUntil) {
		return nil, "", qrpay.Errorf(qrpay.ELIMITEXCEEDED, "Too many failed logins: the account is locked until %s.", u.LockedUntil.In(s.zone()).Format("15:04"))
	}
	ok, rehash, err := CheckPassword(u.PasswordHash, password)
	if err != nil {
		return nil, "", err
	}
	if !ok || u.Status != "active" {
		err := s.Store.InTx(ctx, func(tx Tx) error {
			u.FailedLogins++
			if u.FailedLogins >= s.maxFailed() {
				until := tx.Now().Add(s.lockout())
				u.LockedUntil = &until
				u.FailedLogins = 0
				if err := audit(ctx, tx, Actor{Kind: "system", ID: "system", Name: "qrpay", RemoteAddr: remoteAddr},
					u.MerchantID, "user.locked", "user", u.ID, nil, map[string]any{"locked_until": until}); err != nil {
					return err
				}
			}
			return tx.UpdateUser(ctx, u)
		})
		if err != nil {
			return nil, "", err
		}
		return nil, "", ErrBadLogin
	}
	token := qrpay.RandomToken(32)
	var sess *Session
	err = s.Store.InTx(ctx, func(tx Tx) error {
		now := tx.Now()
		u.FailedLogins, u.LockedUntil, u.LastLoginAt = 0, nil, &now
		if rehash {
			if h, err := HashPassword(password); err == nil {
				u.PasswordHash = h
			}
		}
		if err := tx.UpdateUser(ctx, u); err != nil {
			return err
		}
		stage := "full"
		if u.TOTPEnabled {
			stage = "totp"
		}
		sess = &Session{ID: HashToken(token), UserID: u.ID, CSRFToken: qrpay.RandomToken(20), Stage: stage,
			CreatedAt: now, LastSeenAt: now, RemoteAddr: remoteAddr, UserAgent: truncate(userAgent, 200), User: u}
		return tx.InsertSession(ctx, sess)
	})
	if err != nil {
		return nil, "", err
	}
	return sess, token, nil
}

// dummyHash is checked against when a login does not exist.
var dummyHash, _ = HashPassword("qrpay-no-such-user-password")

func (s *Service) maxFailed() int {
	if s.MaxFailedLogins > 0 {
		return s.MaxFailedLogins
	}
	return defaultMaxFailedLogins
}

func (s *Service) lockout() time.Duration {
	if s.LockoutFor > 0 {
		return s.LockoutFor
	}
	return defaultLockoutFor
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}

// SessionByToken returns the live session of a cookie token, touching its last-seen time. A
// session past its idle or absolute timeout is deleted and EUNAUTHORIZED.
func (s *Service) SessionByToken(ctx context.Context, token string) (*Session, error) {
	if token == "" {
		return nil, qrpay.Errorf(qrpay.EUNAUTHORIZED, "Not logged in.")
	}
	sess, err := s.Store.FindSession(ctx, HashToken(token))
	if qrpay.IsCode(err, qrpay.ENOTFOUND) {
		return nil, qrpay.Errorf(qrpay.EUNAUTHORIZED, "Not logged in.")
	} else if err != nil {
		return nil, err
	}
	now := s.now()
	idle, abs := s.SessionIdle, s.SessionAbsolute
	if idle <= 0 {
		idle = defaultSessionIdle
	}
	if abs <= 0 {
		abs = defaultSessionAbsolute
	}
	if now.Sub(sess.LastSeenAt) > idle || now.Sub(sess.CreatedAt) > abs ||
		(sess.User != nil && sess.User.Status != "active") || (sess.Terminal != nil && sess.Terminal.Status != "active") {
		_ = s.Store.InTx(ctx, func(tx Tx) error { return tx.DeleteSession(ctx, sess.ID) })
		return nil, qrpay.Errorf(qrpay.EUNAUTHORIZED, "The session has expired; log in again.")
	}
	// Touch at most once a minute: a page load should not always be a write.
	if now.Sub(sess.LastSeenAt) > time.Minute {
		sess.LastSeenAt = now
		if err := s.Store.InTx(ctx, func(tx Tx) error { return tx.UpdateSession(ctx, sess) }); err != nil {
			return nil, err
		}
	}
	return sess, nil
}

// Logout ends a session.
func (s *Service) Logout(ctx context.Context, token string) error {
	return s.Store.InTx(ctx, func(tx Tx) error { return tx.DeleteSession(ctx, HashToken(token)) })
}

// totpIssuer names qrpay in authenticator apps.
const totpIssuer = "qrpay"

// BeginTOTP generates a TOTP secret for a user and stores it sealed, not yet enabled; it returns
// the otpauth:// URL to show as a QR code. EnableTOTP turns it on once a code verifies.
func (s *Service) BeginTOTP(ctx context.Context, actor Actor, userID string) (string, error) {
	u, err := s.Store.FindUser(ctx, userID)
	if err != nil {
		return "", err
	}
	if u.Role != RoleOwner && !u.IsOperator() {
		return "", qrpay.Errorf(qrpay.EFORBIDDEN, "Two-factor authentication is for operators and owners.")
	}
	key, err := totp.Generate(totp.GenerateOpts{Issuer: totpIssuer, AccountName: u.Login})
	if err != nil {
		return "", err
	}
	sealed, err := s.Sealer.Seal(key.Secret(), ad("user", u.ID, "totp"))
	if err != nil {
		return "", err
	}
	err = s.Store.InTx(ctx, func(tx Tx) error {
		u.TOTPSecretSealed, u.TOTPEnabled = sealed, false
		if err := tx.UpdateUser(ctx, u); err != nil {
			return err
		}
		return audit(ctx, tx, actor, u.MerchantID, "user.totp_begin", "user", u.ID, nil, nil)
	})
	return key.URL(), err
}

// checkTOTP verifies a code against the user's sealed secret.
func (s *Service) checkTOTP(u *User, code string) bool {
	if u.TOTPSecretSealed == "" {
		return false
	}
	secret, err := s.Sealer.Open(u.TOTPSecretSealed, ad("user", u.ID, "totp"))
	if err != nil {
		return false
	}
	// At the service's clock, so that tests run on a fake one; one step of skew either way.
	ok, _ := totp.ValidateCustom(strings.TrimSpace(code), secret, s.now(),
		totp.ValidateOpts{Period: 30, Skew: 1, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	return ok
}

// EnableTOTP turns on two-factor authentication once the user proves the authenticator works.
func (s *Service) EnableTOTP(ctx context.Context, actor Actor, userID, code string) error {
	u, err := s.Store.FindUser(ctx, userID)
	if err != nil {
		return err
	}
	if !s.checkTOTP(u, code) {
		return qrpay.Invalid("code", "The code does not match; check the authenticator's clock and try again.")
	}
	return s.Store.InTx(ctx, func(tx Tx) error {
		u.TOTPEnabled = true
		if err := tx.UpdateUser(ctx, u); err != nil {
			return err
		}
		return audit(ctx, tx, actor, u.MerchantID, "user.totp_enable", "user", u.ID, nil, nil)
	})
}

// VerifyTOTP completes a session in stage "totp". A wrong code counts as a failed login.
func (s *Service) VerifyTOTP(ctx context.Context, token, code string) (*Session, error) {
	sess, err := s.SessionByToken(ctx, token)
	if err != nil {
		return nil, err
	}
	if sess.Stage != "totp" || sess.User == nil {
		return sess, nil
	}
	u := sess.User
	if !s.checkTOTP(u, code) {
		err := s.Store.InTx(ctx, func(tx Tx) error {
			u.FailedLogins++
			if u.FailedLogins >= s.maxFailed() {
				until := tx.Now().Add(s.lockout())
				u.LockedUntil, u.FailedLogins = &until, 0
				if err := tx.DeleteUserSessions(ctx, u.ID); err != nil {
					return err
				}
			}
			return tx.UpdateUser(ctx, u)
		})
		if err != nil {
			return nil, err
		}
		return nil, qrpay.Invalid("code", "The code does not match.")
	}
	err = s.Store.InTx(ctx, func(tx Tx) error {
		sess.Stage = "full"
		u.FailedLogins = 0
		if err := tx.UpdateUser(ctx, u); err != nil {
			return err
		}
		return tx.UpdateSession(ctx, sess)
	})
	return sess, err
}

// ResetPassword sets a new password for a user (an operator's action), unlocks the account,
// ends its sessions and asks for a change at the next login.
func (s *Service) ResetPassword(ctx context.Context, actor Actor, userID, password string) error {
	if actor.Kind != "system" && actor.Role != RoleAdmin {
		return qrpay.Errorf(qrpay.EFORBIDDEN, "Only an admin resets passwords.")
	}
	if err := CheckPasswordStrength(password); err != nil {
		return err
	}
	hash, err := HashPassword(password)
	if err != nil {
		return err
	}
	u, err := s.Store.FindUser(ctx, userID)
	if err != nil {
		return err
	}
	return s.Store.InTx(ctx, func(tx Tx) error {
		u.PasswordHash, u.FailedLogins, u.LockedUntil, u.MustChangePassword = hash, 0, nil, true
		if err := tx.UpdateUser(ctx, u); err != nil {
			return err
		}
		if err := tx.DeleteUserSessions(ctx, u.ID); err != nil {
			return err
		}
		return audit(ctx, tx, actor, u.MerchantID, "user.password_reset", "user", u.ID, nil, nil)
	})
}

// ChangePassword lets a user replace their own password.
func (s *Service) ChangePassword(ctx context.Context, userID, old, password string) error {
	u, err := s.Store.FindUser(ctx, userID)
	if err != nil {
		return err
	}
	if ok, _, _ := CheckPassword(u.PasswordHash, old); !ok {
		return qrpay.Invalid("old_password", "The current password is wrong.")
	}
	if err := CheckPasswordStrength(password); err != nil {
		return err
	}
	hash, err := HashPassword(password)
	if err != nil {
		return err
	}
	return s.Store.InTx(ctx, func(tx Tx) error {
		u.PasswordHash, u.MustChangePassword = hash, false
		if err := tx.UpdateUser(ctx, u); err != nil {
			return err
		}
		kind := "merchant_user"
		if u.IsOperator() {
			kind = "operator"
		}
		return audit(ctx, tx, Actor{Kind: kind, ID: u.ID, Name: u.Login, Role: u.Role, MerchantID: u.MerchantID, RemoteAddr: qrpay.RemoteAddr(ctx)},
			u.MerchantID, "user.password_change", "user", u.ID, nil, nil)
	})
}
