package qr

import (
	"bytes"
	"image"
	"image/color"
	"image/png"
	"strconv"
	"sync"
	"unicode/utf8"

	"github.com/qrpay/qrpay"
	qrcode "github.com/skip2/go-qrcode"
)

// Render limits and defaults.
const (
	DefaultSize      = 256
	MinSize          = 64
	MaxSize          = 2048
	DefaultQuietZone = 4
	MaxQuietZone     = 16
	// MaxTextBytes is the most text Render encodes: what a version 40 code holds at level L in
	// byte mode.
	MaxTextBytes = 2953
)

// RenderOptions say how to draw a QR code. The zero value is a 256-pixel PNG at level M with a
// four-module quiet zone.
type RenderOptions struct {
	// Size is the width and height in pixels, MinSize to MaxSize (default 256). Modules are a
	// whole number of pixels; what is left over widens the quiet zone.
	Size int
	// Level is the error-correction level: "L", "M" (default), "Q" or "H".
	Level string
	// QuietZone is the white border in modules, 0 to 16 (default 4; set it to -1 for none).
	QuietZone int
	// Format is "png" (default) or "svg".
	Format string
}

// normalize fills in defaults and checks the options.
func (o RenderOptions) normalize() (RenderOptions, error) {
	if o.Size == 0 {
		o.Size = DefaultSize
	}
	if o.Size < MinSize || o.Size > MaxSize {
		return o, qrpay.Invalid("size", "size must be %d to %d pixels", MinSize, MaxSize)
	}
	if o.Level == "" {
		o.Level = "M"
	}
	if _, ok := levels[o.Level]; !ok {
		return o, qrpay.Invalid("level", "error-correction level must be L, M, Q or H")
	}
	switch {
	case o.QuietZone == 0:
		o.QuietZone = DefaultQuietZone
	case o.QuietZone == -1:
		o.QuietZone = 0
	case o.QuietZone < 0 || o.QuietZone > MaxQuietZone:
		return o, qrpay.Invalid("quiet_zone", "quiet zone must be 0 to %d modules", MaxQuietZone)
	}
	if o.Format == "" {
		o.Format = "png"
	}
	if o.Format != "png" && o.Format != "svg" {
		return o, qrpay.Invalid("format", "format must be png or svg")
	}
	return o, nil
}

var levels = map[string]qrcode.RecoveryLevel{
	"L": qrcode.Low, "M": qrcode.Medium, "Q": qrcode.High, "H": qrcode.Highest,
}

// Content types Render returns.
const (
	ContentTypePNG = "image/png"
	ContentTypeSVG = "image/svg+xml"
)

// Render draws text as a QR code and returns the image and its content type. It returns
// EINVALID for empty, non-UTF-8 or too long text, bad options, or a code that does not fit the
// size at one pixel per module.
func Render(text string, o RenderOptions) ([]byte, string, error) {
	o, err := o.normalize()
	if err != nil {
		return nil, "", err
	}
	modules, err := encodeModules(text, o.Level)
	if err != nil {
		return nil, "", err
	}
	if o.Format == "svg" {
		return renderSVG(modules, o), ContentTypeSVG, nil
	}
	b, err := renderPNG(modules, o)
	if err != nil {
		return nil, "", err
	}
	return b, ContentTypePNG, nil
}

// encodeModules returns the code's modules without a quiet zone, true for dark.
func encodeModules(text, level string) ([][]bool, error) {
	if text == "" {
		return nil, qrpay.Invalid("text", "nothing to encode")
	}
	if !utf8.ValidString(text) {
		return nil, qrpay.Invalid("text", "text is not valid UTF-8")
	}
	if len(text) > MaxTextBytes {
		return nil, qrpay.Invalid("text", "text is longer than %d bytes", MaxTextBytes)
	}
	q, err := qrcode.New(text, levels[level])
	if err != nil {
		return nil, qrpay.WrapError(qrpay.EINVALID, err, "text does not fit a QR code at level %s", level)
	}
	q.DisableBorder = true
	return q.Bitmap(), nil
}

// layout returns the module scale and the offset of the first module (quiet zone included).
func layout(n int, o RenderOptions) (scale, offset int, err error) {
	total := n + 2*o.QuietZone
	scale = o.Size / total
	if scale < 1 {
		return 0, 0, qrpay.Invalid("size", "a %d-module code needs at least %d pixels", n, total)
	}
	return scale, (o.Size - n*scale) / 2, nil
}

// pngPalette is white (index 0) and black (index 1): the encoder writes one bit per pixel.
var pngPalette = color.Palette{color.Gray{Y: 0xFF}, color.Gray{Y: 0}}

// pngEncoder reuses its compression buffers across calls.
var pngEncoder = png.Encoder{CompressionLevel: png.BestSpeed, BufferPool: &pngBufferPool{}}

type pngBufferPool struct{ p sync.Pool }

func (b *pngBufferPool) Get() *png.EncoderBuffer {
	e, _ := b.p.Get().(*png.EncoderBuffer)
	return e
}

func (b *pngBufferPool) Put(e *png.EncoderBuffer) { b.p.Put(e) }

var pixPool = sync.Pool{New: func() any { return new([]byte) }}

func renderPNG(modules [][]bool, o RenderOptions) ([]byte, error) {
	n := len(modules)
	scale, off, err := layout(n, o)
	if err != nil {
		return nil, err
	}
	pix := pixPool.Get().(*[]byte)
	defer pixPool.Put(pix)
	size := o.Size * o.Size
	if cap(*pix) < size {
		*pix = make([]byte, size)
	}
	buf := (*pix)[:size]
	clear(buf)
	img := &image.Paletted{Pix: buf, Stride: o.Size, Rect: image.Rect(0, 0, o.Size, o.Size), Palette: pngPalette}
	for my, row := range modules {
		y0 := off + my*scale
		line := buf[y0*o.Size : (y0+1)*o.Size]
		for mx, dark := range row {
			if dark {
				x0 := off + mx*scale
				for x := x0; x < x0+scale; x++ {
					line[x] = 1
				}
			}
		}
		for y := y0 + 1; y < y0+scale; y++ {
			copy(buf[y*o.Size:(y+1)*o.Size], line)
		}
	}
	var out bytes.Buffer
	out.Grow(1024)
	if err := pngEncoder.Encode(&out, img); err != nil {
		return nil, qrpay.WrapError(qrpay.EINTERNAL, err, "encode PNG")
	}
	return out.Bytes(), nil
}

// renderSVG draws the code as one path of horizontal runs of dark modules, in module units
// scaled to the size by the view box.
func renderSVG(modules [][]bool, o RenderOptions) []byte {
	n := len(modules)
	total := n + 2*o.QuietZone
	size := strconv.Itoa(o.Size)
	var b bytes.Buffer
	b.Grow(256 + n*n)
	b.WriteString(`<?xml version="1.0" encoding="UTF-8"?>` + "\n")
	b.WriteString(`<svg xmlns="http://www.w3.org/2000/svg" version="1.1" width="` + size + `" height="` + size +
		`" viewBox="0 0 ` + strconv.Itoa(total) + ` ` + strconv.Itoa(total) + `" shape-rendering="crispEdges">`)
	b.WriteString(`<rect width="100%" height="100%" fill="#fff"/><path fill="#000" d="`)
	q := o.QuietZone
	for y, row := range modules {
		for x := 0; x < n; {
			if !row[x] {
				x++
				continue
			}
			start := x
			for x < n && row[x] {
				x++
			}
			b.WriteByte('M')
			b.WriteString(strconv.Itoa(start + q))
			b.WriteByte(' ')
			b.WriteString(strconv.Itoa(y + q))
			b.WriteByte('h')
			b.WriteString(strconv.Itoa(x - start))
			b.WriteString("v1h-")
			b.WriteString(strconv.Itoa(x - start))
			b.WriteByte('z')
		}
	}
	b.WriteString(`"/></svg>` + "\n")
	return b.Bytes()
}
