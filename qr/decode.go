package qr

import (
	"bytes"
	"context"
	"errors"
	"image"
	_ "image/gif"  // GIF uploads
	_ "image/jpeg" // JPEG uploads
	_ "image/png"  // PNG uploads
	"io"
	"math"
	"sort"
	"sync"
	"time"

	"github.com/makiuchi-d/gozxing"
	multiqr "github.com/makiuchi-d/gozxing/multi/qrcode"
	zxqr "github.com/makiuchi-d/gozxing/qrcode"
	"github.com/qrpay/qrpay"
)

// Decode limits.
const (
	DefaultMaxBytes  = 10 << 20
	DefaultMaxPixels = 40_000_000
)

// Working resolutions: whole-image attempts run on a copy whose longer side is at most
// coarseSide, then midSide; tiles are cut from a copy whose longer side is at most tileSide.
const (
	coarseSide = 1024
	midSide    = 2048
	tileSide   = 4096
)

// DecodeOptions bound what Decode accepts.
type DecodeOptions struct {
	// MaxBytes is the largest encoded image read (default 10 MiB).
	MaxBytes int64
	// MaxPixels is the largest width × height accepted (default 40 megapixels). It is checked
	// from the image header before any pixel is decoded, so a decompression bomb costs nothing.
	MaxPixels int
}

// Decode reads a PNG, JPEG or GIF image and returns the text of every QR code found in it, most
// prominent (largest) first. It is meant for photographs of screens and stickers as much as for
// clean renders: it works on a grey copy of the image, at reduced resolution first, then at full
// resolution, with a second binarizer, turned by 90°, inverted and in overlapping tiles, and
// stops at the first of these attempts that finds a code. The work is bounded by the limits in
// o. It returns EINVALID for data that is not a supported image, truncated or too large, and
// ENOTFOUND ("no QR code found") for a readable image without a code.
func Decode(r io.Reader, o DecodeOptions) ([]string, error) {
	return DecodeContext(context.Background(), r, o)
}

// DecodeContext is Decode that also stops between attempts when ctx is done, returning ctx's
// error.
func DecodeContext(ctx context.Context, r io.Reader, o DecodeOptions) ([]string, error) {
	if o.MaxBytes <= 0 {
		o.MaxBytes = DefaultMaxBytes
	}
	if o.MaxPixels <= 0 {
		o.MaxPixels = DefaultMaxPixels
	}
	buf := readPool.Get().(*bytes.Buffer)
	defer putReadBuffer(buf)
	buf.Reset()
	n, err := buf.ReadFrom(io.LimitReader(r, o.MaxBytes+1))
	if err != nil {
		return nil, qrpay.WrapError(qrpay.EINVALID, err, "could not read the image")
	}
	if n == 0 {
		return nil, qrpay.Invalid("image", "the image is empty")
	}
	if n > o.MaxBytes {
		return nil, qrpay.Invalid("image", "the image is larger than %d bytes", o.MaxBytes)
	}
	data := buf.Bytes()
	cfg, _, err := image.DecodeConfig(bytes.NewReader(data))
	if err != nil {
		msg := "the image is truncated or corrupt"
		if errors.Is(err, image.ErrFormat) {
			msg = "not a PNG, JPEG or GIF image"
		}
		e := qrpay.WrapError(qrpay.EINVALID, err, "%s", msg)
		e.Param = "image"
		return nil, e
	}
	if cfg.Width <= 0 || cfg.Height <= 0 || int64(cfg.Width)*int64(cfg.Height) > int64(o.MaxPixels) {
		return nil, qrpay.Invalid("image", "the image is %d×%d pixels; the limit is %d pixels", cfg.Width, cfg.Height, o.MaxPixels)
	}
	img, _, err := image.Decode(bytes.NewReader(data))
	if err != nil {
		e := qrpay.WrapError(qrpay.EINVALID, err, "the image is truncated or corrupt")
		e.Param = "image"
		return nil, e
	}
	return decodeImage(ctx, img)
}

// DecodeImage finds the QR codes in an already decoded image, as Decode does.
func DecodeImage(ctx context.Context, img image.Image) ([]string, error) {
	if img == nil {
		return nil, qrpay.Invalid("image", "no image")
	}
	return decodeImage(ctx, img)
}

var readPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

func putReadBuffer(b *bytes.Buffer) {
	if b.Cap() <= 2*DefaultMaxBytes {
		readPool.Put(b)
	}
}

// found is one decoded code and how prominent it was.
type found struct {
	text string
	area float64 // in pixels of the original image
}

// attempt is one try of the readers on a grey image (or a part of it).
type attempt struct {
	g      *grey
	rect   image.Rectangle // the part of g to read; empty means all of it
	global bool            // GlobalHistogramBinarizer instead of HybridBinarizer
	invert bool            // light modules on a dark background
	thresh bool            // binarize with a local-mean threshold first (low contrast, blur)
	rotate bool            // turn a quarter turn first
	name   string          // for traces
	scale  float64         // original pixels per pixel of g
}

var hints = map[gozxing.DecodeHintType]any{gozxing.DecodeHintType_TRY_HARDER: true}

func decodeImage(ctx context.Context, img image.Image) ([]string, error) {
	b := img.Bounds()
	if b.Dx() <= 0 || b.Dy() <= 0 {
		return nil, qrpay.Invalid("image", "the image has no pixels")
	}
	base := toGrey(img)
	defer base.release()

	// A pyramid of power-of-two box reductions.
	levels := []*grey{base}
	defer func() {
		for _, g := range levels[1:] {
			g.release()
		}
	}()
	level := func(side int) (*grey, float64) {
		for i := 0; ; i++ {
			g := levels[i]
			if max(g.w, g.h) <= side || min(g.w, g.h) < 128 {
				return g, float64(int(1) << i)
			}
			if i == len(levels)-1 {
				levels = append(levels, g.half())
			}
		}
	}
	coarse, cs := level(coarseSide)
	mid, ms := level(midSide)
	tiles, ts := level(tileSide)

	plan := []attempt{
		{name: "coarse", g: coarse, scale: cs},
		{name: "coarse-threshold", g: coarse, scale: cs, thresh: true},
	}
	if mid != coarse {
		plan = append(plan,
			attempt{name: "mid", g: mid, scale: ms},
			attempt{name: "mid-threshold", g: mid, scale: ms, thresh: true})
	}
	plan = append(plan,
		attempt{name: "coarse-global", g: coarse, scale: cs, global: true},
		attempt{name: "coarse-rotated", g: coarse, scale: cs, rotate: true},
		attempt{name: "coarse-inverted", g: coarse, scale: cs, invert: true},
	)
	// Overlapping tiles: a 3×3 grid of half-size windows, for codes small in a large picture.
	tw, th := tiles.w/2, tiles.h/2
	if tw >= 256 && th >= 256 {
		for ty := range 3 {
			for tx := range 3 {
				r := image.Rect(tx*tiles.w/4, ty*tiles.h/4, 0, 0)
				r.Max = r.Min.Add(image.Pt(tw, th))
				plan = append(plan, attempt{name: "tile", g: tiles, rect: r, scale: ts})
			}
		}
	}

	multi := multiqr.NewQRCodeMultiReader()
	single := zxqr.NewQRCodeReader()
	for _, a := range plan {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		var start time.Time
		if decodeTrace != nil {
			start = time.Now()
		}
		res := runAttempt(a, multi, single)
		if decodeTrace != nil {
			decodeTrace(a.name, len(res), time.Since(start))
		}
		if len(res) > 0 {
			return texts(res), nil
		}
	}
	return nil, qrpay.Errorf(qrpay.ENOTFOUND, "no QR code found")
}

// decodeTrace, when set (by tests), is told the outcome of every attempt.
var decodeTrace func(name string, found int, d time.Duration)

// runAttempt prepares the image an attempt needs and reads it.
func runAttempt(a attempt, multi multiReader, single gozxing.Reader) []found {
	switch {
	case a.rotate:
		rot := a.g.rotate90()
		defer rot.release()
		a.g, a.rotate = rot, false
	case a.thresh:
		bw := a.g.adaptive(max(8, max(a.g.w, a.g.h)/32), 3)
		defer bw.release()
		a.g, a.thresh = bw, false
	}
	return readCodes(a, multi, single)
}

type multiReader interface {
	DecodeMultiple(*gozxing.BinaryBitmap, map[gozxing.DecodeHintType]any) ([]*gozxing.Result, error)
}

// readCodes runs the multi reader, then the single reader, on one attempt.
func readCodes(a attempt, multi multiReader, single gozxing.Reader) []found {
	r := a.rect
	if r.Empty() {
		r = image.Rect(0, 0, a.g.w, a.g.h)
	}
	src, err := gozxing.NewPlanarYUVLuminanceSource(a.g.pix, a.g.w, a.g.h, r.Min.X, r.Min.Y, r.Dx(), r.Dy(), false)
	if err != nil {
		return nil
	}
	if a.invert {
		src = src.Invert()
	}
	var bin gozxing.Binarizer
	if a.global {
		bin = gozxing.NewGlobalHistgramBinarizer(src)
	} else {
		bin = gozxing.NewHybridBinarizer(src)
	}
	bmp, err := gozxing.NewBinaryBitmap(bin)
	if err != nil {
		return nil
	}
	var out []found
	add := func(res *gozxing.Result) {
		if res == nil || res.GetText() == "" {
			return
		}
		out = append(out, found{text: res.GetText(), area: pointsArea(res.GetResultPoints()) * a.scale * a.scale})
	}
	if results, err := safeMulti(multi, bmp); err == nil {
		for _, res := range results {
			add(res)
		}
	}
	if len(out) == 0 {
		if res, err := safeSingle(single, bmp); err == nil {
			add(res)
		}
	}
	return out
}

// safeMulti and safeSingle turn a panic inside the third-party reader into an error, so that
// no uploaded image can crash the process.
func safeMulti(m multiReader, bmp *gozxing.BinaryBitmap) (res []*gozxing.Result, err error) {
	defer func() {
		if r := recover(); r != nil {
			res, err = nil, errReaderPanic
		}
	}()
	return m.DecodeMultiple(bmp, hints)
}

func safeSingle(s gozxing.Reader, bmp *gozxing.BinaryBitmap) (res *gozxing.Result, err error) {
	defer func() {
		if r := recover(); r != nil {
			res, err = nil, errReaderPanic
		}
	}()
	return s.Decode(bmp, hints)
}

var errReaderPanic = errors.New("qr reader panicked")

// pointsArea estimates a code's area from its finder pattern centres.
func pointsArea(pts []gozxing.ResultPoint) float64 {
	if len(pts) < 3 {
		return 0
	}
	a, b, c := pts[0], pts[1], pts[2]
	return math.Abs((b.GetX()-a.GetX())*(c.GetY()-a.GetY())-(c.GetX()-a.GetX())*(b.GetY()-a.GetY())) / 2
}

// texts returns the distinct texts, largest code first.
func texts(res []found) []string {
	sort.SliceStable(res, func(i, j int) bool { return res[i].area > res[j].area })
	seen := map[string]bool{}
	var out []string
	for _, f := range res {
		if !seen[f.text] {
			seen[f.text] = true
			out = append(out, f.text)
		}
	}
	return out
}
