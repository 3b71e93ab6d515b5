package web

import (
	"bytes"
	_ "embed" // the sheet's CJK font
	"fmt"
	"net/http"
	"strconv"
	"unicode"

	"github.com/go-pdf/fpdf"
	"github.com/labstack/echo/v4"

	"github.com/qrpay/qrpay"
	"github.com/qrpay/qrpay/merchant"
	"github.com/qrpay/qrpay/qr"
)

// sheetFont is Droid Sans Fallback (Apache-2.0, see fonts/NOTICE): PDF's standard fonts have
// no Chinese, and a printed sticker must show the merchant's Chinese name. fpdf embeds only the
// glyphs a sheet uses.
//
//go:embed fonts/DroidSansFallbackFull.ttf
var sheetFont []byte

// Sticker captions: the wallets a sticker takes.
const (
	captionZH = "支付宝 · 微信支付 · 云闪付" // the dots come from Helvetica
	captionEN = "Alipay · WeChat Pay · UnionPay"
)

// serveStickerImage writes one sticker's code as a PNG or SVG (?format=svg, ?size=), holding its
// signed URL; ?download=1 makes it an attachment.
func (s *Server) serveStickerImage(c echo.Context, merchantID, stickerID string) error {
	ctx := c.Request().Context()
	st, err := s.Merchants.Sticker(ctx, merchantID, stickerID)
	if err != nil {
		return err
	}
	format := c.QueryParam("format")
	if format == "" {
		format = "png"
	}
	if format != "png" && format != "svg" {
		return qrpay.Invalid("format", "The format is png or svg.")
	}
	size := 512
	if v := c.QueryParam("size"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < qr.MinSize || n > qr.MaxSize {
			return qrpay.Invalid("size", "size must be %d to %d pixels.", qr.MinSize, qr.MaxSize)
		}
		size = n
	}
	u, err := s.Merchants.StickerURL(ctx, s.PublicURL, st.ID)
	if err != nil {
		return err
	}
	if c.QueryParam("download") != "" {
		c.Response().Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="%s.%s"`, st.ID, format))
	}
	return s.serveCode(c, u, qr.RenderOptions{Size: size, Format: format, Level: "Q"}, false)
}

// serveStickerSheet writes a batch of stickers (?batch_id=, or every active sticker) as an A4
// PDF to print and cut.
func (s *Server) serveStickerSheet(c echo.Context, merchantID, batchID string) error {
	ctx := c.Request().Context()
	m, err := s.Merchants.Merchant(ctx, merchantID)
	if err != nil {
		return err
	}
	sts, err := s.Merchants.Stickers(ctx, merchantID, batchID)
	if err != nil {
		return err
	}
	var active []*merchant.Sticker
	for _, st := range sts {
		if st.Status == "active" {
			active = append(active, st)
		}
	}
	if len(active) == 0 {
		return qrpay.Errorf(qrpay.EINVALIDSTATE, "There is no active sticker to print.")
	}
	if len(active) > 200 {
		return qrpay.Invalid("batch_id", "Print at most 200 stickers at a time: choose a batch.")
	}
	items := make([]sheetItem, len(active))
	for i, st := range active {
		u, err := s.Merchants.StickerURL(ctx, s.PublicURL, st.ID)
		if err != nil {
			return err
		}
		items[i] = sheetItem{ID: st.ID, URL: u, Label: st.Label}
	}
	pdf, err := stickerSheet(m.ShortName, items)
	if err != nil {
		return err
	}
	name := "stickers"
	if batchID != "" {
		name = batchID
	}
	h := c.Response().Header()
	h.Set("Content-Disposition", fmt.Sprintf(`attachment; filename="%s.pdf"`, name))
	h.Set("Cache-Control", "private, no-store")
	return c.Blob(http.StatusOK, "application/pdf", pdf)
}

// sheetItem is one sticker on a sheet.
type sheetItem struct {
	ID, URL, Label string
}

// Sheet layout, in millimetres: A4 portrait, 3 columns by 4 rows of 60 × 68 mm cards.
const (
	sheetCols   = 3
	sheetRows   = 4
	cardW       = 60.0
	cardH       = 68.0
	sheetLeft   = (210 - sheetCols*cardW) / 2
	sheetTop    = (297 - sheetRows*cardH) / 2
	codeSize    = 40.0
	sheetFontID = "droid"
)

// stickerSheet lays stickers out on A4 pages: each card has the merchant's short name, the code,
// the caption in Chinese and English, the sticker's label and id, and a cutting border.
func stickerSheet(shortName string, items []sheetItem) ([]byte, error) {
	pdf := fpdf.New("P", "mm", "A4", "")
	pdf.SetCreator("qrpay", true)
	pdf.SetTitle(shortName+" 码牌", true)
	pdf.SetAutoPageBreak(false, 0)
	pdf.AddUTF8FontFromBytes(sheetFontID, "", sheetFont)
	if err := pdf.Error(); err != nil {
		return nil, qrpay.WrapError(qrpay.EINTERNAL, err, "Cannot load the sheet's font.")
	}
	w := &mixedWriter{pdf: pdf, latin: pdf.UnicodeTranslatorFromDescriptor("")}
	perPage := sheetCols * sheetRows
	for i, it := range items {
		if i%perPage == 0 {
			pdf.AddPage()
		}
		k := i % perPage
		x := sheetLeft + float64(k%sheetCols)*cardW
		y := sheetTop + float64(k/sheetCols)*cardH
		pdf.SetDrawColor(190, 190, 190)
		pdf.SetLineWidth(0.2)
		pdf.SetDashPattern([]float64{1.5, 1.5}, 0)
		pdf.Rect(x, y, cardW, cardH, "D")
		pdf.SetDashPattern(nil, 0)

		pdf.SetTextColor(20, 20, 20)
		w.centered(x, y+8.5, cardW-4, fitName(w, shortName, 14, cardW-4), 14)

		png, _, err := qr.Render(it.URL, qr.RenderOptions{Size: 512, Level: "Q", QuietZone: 2})
		if err != nil {
			return nil, err
		}
		name := "code-" + it.ID
		pdf.RegisterImageOptionsReader(name, fpdf.ImageOptions{ImageType: "PNG"}, bytes.NewReader(png))
		pdf.ImageOptions(name, x+(cardW-codeSize)/2, y+11, codeSize, codeSize, false, fpdf.ImageOptions{ImageType: "PNG"}, 0, "")

		w.centered(x, y+55, cardW-4, captionZH, 8.5)
		w.centered(x, y+59, cardW-4, captionEN, 7)
		pdf.SetTextColor(110, 110, 110)
		id := it.ID
		if it.Label != "" {
			id = fitName(w, it.Label, 6, cardW-36) + " · " + it.ID
		}
		w.centered(x, y+64, cardW-4, id, 6)
		if err := pdf.Error(); err != nil {
			return nil, qrpay.WrapError(qrpay.EINTERNAL, err, "Cannot lay out the sticker sheet.")
		}
	}
	var buf bytes.Buffer
	if err := pdf.Output(&buf); err != nil {
		return nil, qrpay.WrapError(qrpay.EINTERNAL, err, "Cannot write the sticker sheet.")
	}
	return buf.Bytes(), nil
}

// fitName shortens s with "..." until it fits width at size.
func fitName(w *mixedWriter, s string, size, width float64) string {
	if w.width(s, size) <= width {
		return s
	}
	r := []rune(s)
	for len(r) > 1 {
		r = r[:len(r)-1]
		if w.width(string(r)+"...", size) <= width {
			return string(r) + "..."
		}
	}
	return string(r)
}

// mixedWriter writes text that mixes Chinese and Latin: the CJK font has no Latin letters and
// PDF's Helvetica no Chinese, so each run of characters goes in the font that has it.
type mixedWriter struct {
	pdf   *fpdf.Fpdf
	latin func(string) string // UTF-8 to the core font's code page
}

// cjk reports whether the CJK font is the one for r.
func cjk(r rune) bool {
	return r >= 0x2E80 || unicode.Is(unicode.Han, r)
}

// runs splits s into runs of one font each.
func runs(s string) []struct {
	text string
	cjk  bool
} {
	var out []struct {
		text string
		cjk  bool
	}
	for _, r := range s {
		c := cjk(r)
		if n := len(out); n > 0 && out[n-1].cjk == c {
			out[n-1].text += string(r)
			continue
		}
		out = append(out, struct {
			text string
			cjk  bool
		}{string(r), c})
	}
	return out
}

func (w *mixedWriter) font(isCJK bool, size float64) {
	if isCJK {
		w.pdf.SetFont(sheetFontID, "", size)
	} else {
		w.pdf.SetFont("Helvetica", "", size)
	}
}

func (w *mixedWriter) width(s string, size float64) float64 {
	total := 0.0
	for _, r := range runs(s) {
		w.font(r.cjk, size)
		t := r.text
		if !r.cjk {
			t = w.latin(t)
		}
		total += w.pdf.GetStringWidth(t)
	}
	return total
}

// centered writes s centred in [x+2, x+2+width] with its baseline at y.
func (w *mixedWriter) centered(x, y, width float64, s string, size float64) {
	cx := x + 2 + (width-w.width(s, size))/2
	for _, r := range runs(s) {
		w.font(r.cjk, size)
		t := r.text
		if !r.cjk {
			t = w.latin(t)
		}
		w.pdf.Text(cx, y, t)
		cx += w.pdf.GetStringWidth(t)
	}
}
