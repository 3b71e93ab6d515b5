package web

import (
	"errors"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/qrpay/qrpay"
	"github.com/qrpay/qrpay/merchant"
)

// applyData is the application form: what was typed (personal fields too, so that a form
// with a mistake need not be typed again; they are never logged), the MCC table, and where the
// form posts.
type applyData struct {
	A        merchant.Application
	MCCs     []merchant.MCC
	Action   string // "/apply" or "/console/merchants/new"
	Operator bool
	Kinds    []string
	Sections []formSection
	Values   map[string]string
}

// formSection is a group of the form's text fields.
type formSection struct {
	TitleKey string
	Fields   []formField
}

// formField is one text field: its name (the JSON field), input type, autocomplete and
// inputmode hints (for phones' keyboards) and length bound.
type formField struct {
	Name, Type, Auto, Mode string
	Max                    int
}

var applySections = []formSection{
	{"apply.section_business", []formField{
		{"legal_name", "text", "organization", "", 100}, {"short_name", "text", "", "", 20},
		{"uscc", "text", "off", "", 18}, {"city", "text", "address-level2", "", 50},
		{"address", "text", "street-address", "", 200}}},
	{"apply.section_person", []formField{
		{"legal_person_name", "text", "name", "", 30}, {"legal_person_id", "text", "off", "", 18},
		{"phone", "tel", "tel", "tel", 14}}},
	{"apply.section_bank", []formField{
		{"bank_name", "text", "off", "", 100}, {"bank_account", "text", "off", "numeric", 30}}},
}

func (s *Server) applyView(c echo.Context, titleKey string, a merchant.Application, operator bool) *view {
	d := &applyData{A: a, MCCs: merchant.MCCs, Action: "/apply", Operator: operator, Kinds: merchant.DocumentKinds,
		Sections: applySections, Values: map[string]string{"legal_name": a.LegalName, "short_name": a.ShortName, "uscc": a.USCC,
			"city": a.City, "address": a.Address, "legal_person_name": a.LegalPersonName, "legal_person_id": a.LegalPersonID,
			"phone": a.Phone, "bank_name": a.BankName, "bank_account": a.BankAccount}}
	if operator {
		d.Action = "/console/merchants/new"
	}
	return s.newView(c, titleKey, d)
}

func (s *Server) handleApplyPage(c echo.Context) error {
	return s.render(c, http.StatusOK, "apply", s.applyView(c, "apply.title", merchant.Application{}, false))
}

// applicationForm reads the application's fields from a form.
func applicationForm(c echo.Context) merchant.Application {
	f := func(k string) string { return strings.TrimSpace(c.FormValue(k)) }
	return merchant.Application{LegalName: f("legal_name"), ShortName: f("short_name"), USCC: f("uscc"),
		LegalPersonName: f("legal_person_name"), LegalPersonID: f("legal_person_id"), Phone: f("phone"), City: f("city"),
		Address: f("address"), MCC: f("mcc"), BankName: f("bank_name"), BankAccount: f("bank_account")}
}

// formUploads reads the documents of an application form (multipart).
func formUploads(c echo.Context) ([]merchant.Upload, error) {
	var ups []merchant.Upload
	for _, k := range merchant.DocumentKinds {
		data, err := formFile(c, k)
		if err != nil {
			return nil, err
		}
		if data != nil {
			ups = append(ups, merchant.Upload{Kind: k, Data: data})
		}
	}
	return ups, nil
}

// handleApply takes the public application form: every field checked, each problem shown next
// to its field in the page's language; on success, the status link.
func (s *Server) handleApply(c echo.Context) error {
	return s.submitApplication(c, false)
}

func (s *Server) submitApplication(c echo.Context, operator bool) error {
	a := applicationForm(c)
	titleKey := "apply.title"
	if operator {
		titleKey = "console.new"
	}
	v := s.applyView(c, titleKey, a, operator)
	ups, err := formUploads(c)
	if err != nil {
		return err
	}
	actor := merchant.Actor{Kind: "anonymous", ID: "applicant", Name: "applicant", RemoteAddr: c.RealIP()}
	opts := merchant.ApplyOptions{Source: "form", Documents: ups, RequireDocuments: true}
	if operator {
		actor = operatorActor(c)
		opts = merchant.ApplyOptions{Source: "operator", Documents: ups, Draft: c.FormValue("draft") != ""}
	}
	res, err := s.Merchants.Submit(c.Request().Context(), actor, a, opts)
	if err != nil {
		if qrpay.IsCode(err, qrpay.ECONFLICT) && qrpay.ErrorParam(err) == "uscc" {
			v.Errors = map[string]string{"uscc": ruleMessage(v.Lang, merchant.ErrUSCCOpen.Key, qrpay.ErrorMessage(err))}
		} else if v.Errors, err = formErrors(v.Lang, err); err != nil {
			return err
		}
		v.Error = v.T("apply.fix")
		return s.render(c, http.StatusBadRequest, "apply", v)
	}
	if operator {
		return c.Redirect(http.StatusSeeOther, "/console/merchants/"+res.Merchant.ID)
	}
	done := s.newView(c, "apply.done_title", map[string]string{"Link": s.PublicURL + "/apply/status/" + res.StatusToken,
		"Path": "/apply/status/" + res.StatusToken})
	return s.render(c, http.StatusCreated, "apply_done", done)
}

// handleApplyStatus is the applicant's view of their application: its status, and the reason
// when it was rejected. Nothing personal is shown.
func (s *Server) handleApplyStatus(c echo.Context) error {
	m, err := s.Merchants.ApplicationStatus(c.Request().Context(), c.Param("token"))
	if err != nil {
		return err
	}
	c.Response().Header().Set("Referrer-Policy", "no-referrer")
	return s.render(c, http.StatusOK, "apply_status", s.newView(c, "apply.status_title", m))
}

// asProblems finds the *merchant.Problems in err's chain.
func asProblems(err error, p **merchant.Problems) bool { return errors.As(err, p) }
