package qr

import (
	"bytes"
	"context"
	"encoding/binary"
	"hash/crc32"
	"image"
	"image/color"
	"image/gif"
	"image/jpeg"
	"image/png"
	"io"
	"math/rand"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/qrpay/qrpay"
)

func renderPNG256(t testing.TB, text string) []byte {
	t.Helper()
	b, _, err := Render(text, RenderOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// pngWithSize returns a valid one-pixel PNG whose header declares w×h pixels.
func pngWithSize(t testing.TB, w, h uint32) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := png.Encode(&buf, image.NewGray(image.Rect(0, 0, 1, 1))); err != nil {
		t.Fatal(err)
	}
	b := buf.Bytes()
	// Signature (8), IHDR length (4), "IHDR" (4), width (4), height (4), ..., CRC over type+data.
	binary.BigEndian.PutUint32(b[16:], w)
	binary.BigEndian.PutUint32(b[20:], h)
	binary.BigEndian.PutUint32(b[29:], crc32.ChecksumIEEE(b[12:29]))
	return b
}

// jpegWithSize returns a small JPEG whose frame header declares w×h pixels.
func jpegWithSize(t testing.TB, w, h uint16) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, image.NewGray(image.Rect(0, 0, 8, 8)), nil); err != nil {
		t.Fatal(err)
	}
	b := buf.Bytes()
	i := bytes.Index(b, []byte{0xFF, 0xC0})
	if i < 0 {
		t.Fatal("no SOF0")
	}
	binary.BigEndian.PutUint16(b[i+5:], h)
	binary.BigEndian.PutUint16(b[i+7:], w)
	return b
}

func TestDecodeFormats(t *testing.T) {
	src, err := png.Decode(bytes.NewReader(renderPNG256(t, testURL)))
	if err != nil {
		t.Fatal(err)
	}
	var gifBuf, jpgBuf bytes.Buffer
	if err := gif.Encode(&gifBuf, src, nil); err != nil {
		t.Fatal(err)
	}
	if err := jpeg.Encode(&jpgBuf, src, &jpeg.Options{Quality: 70}); err != nil {
		t.Fatal(err)
	}
	// An RGBA PNG with a transparent background: transparent counts as white.
	rgba := image.NewNRGBA(src.Bounds())
	for y := range 256 {
		for x := range 256 {
			if r, _, _, _ := src.At(x, y).RGBA(); r == 0 {
				rgba.Set(x, y, color.NRGBA{0, 0, 80, 255})
			}
		}
	}
	var rgbaBuf bytes.Buffer
	if err := png.Encode(&rgbaBuf, rgba); err != nil {
		t.Fatal(err)
	}
	for name, b := range map[string][]byte{
		"png": renderPNG256(t, testURL), "gif": gifBuf.Bytes(), "jpeg": jpgBuf.Bytes(), "transparent png": rgbaBuf.Bytes(),
	} {
		got, err := Decode(bytes.NewReader(b), DecodeOptions{})
		if err != nil || !slices.Equal(got, []string{testURL}) {
			t.Errorf("%s: Decode = %q, %v", name, got, err)
		}
	}
	// Light modules on a dark background (an inverted screen).
	inv := image.NewGray(src.Bounds())
	for y := range 256 {
		for x := range 256 {
			r, _, _, _ := src.At(x, y).RGBA()
			inv.SetGray(x, y, color.Gray{Y: 255 - uint8(r>>8)})
		}
	}
	var invBuf bytes.Buffer
	_ = png.Encode(&invBuf, inv)
	if got, err := Decode(&invBuf, DecodeOptions{}); err != nil || !slices.Equal(got, []string{testURL}) {
		t.Errorf("inverted: Decode = %q, %v", got, err)
	}
}

func TestDecodeBadInput(t *testing.T) {
	good := renderPNG256(t, testURL)
	r := rand.New(rand.NewSource(1))
	noise := make([]byte, 10_000_000) // "a 10 MB file", under the 10 MiB limit
	r.Read(noise)
	var jpgBuf bytes.Buffer
	_ = jpeg.Encode(&jpgBuf, image.NewGray(image.Rect(0, 0, 64, 64)), nil)
	var gifBuf bytes.Buffer
	_ = gif.Encode(&gifBuf, image.NewPaletted(image.Rect(0, 0, 64, 64), color.Palette{color.White, color.Black}), nil)
	for _, c := range []struct {
		name string
		data []byte
		o    DecodeOptions
		frag string
	}{
		{"empty", nil, DecodeOptions{}, "empty"},
		{"text", []byte("00020101021115312031041800520446JDBMSZZXE44BFS0"), DecodeOptions{}, "not a PNG, JPEG or GIF"},
		{"10 MB of noise", noise, DecodeOptions{}, "not a PNG, JPEG or GIF"},
		{"over 10 MiB", append(slices.Clone(good), make([]byte, DefaultMaxBytes)...), DecodeOptions{}, "larger than"},
		{"over MaxBytes", good, DecodeOptions{MaxBytes: 100}, "larger than 100 bytes"},
		{"over MaxPixels", good, DecodeOptions{MaxPixels: 256*256 - 1}, "limit is 65535 pixels"},
		{"truncated PNG", good[:len(good)/2], DecodeOptions{}, "truncated or corrupt"},
		{"truncated PNG header", good[:20], DecodeOptions{}, "truncated or corrupt"},
		{"truncated JPEG", jpgBuf.Bytes()[:jpgBuf.Len()*2/3], DecodeOptions{}, "truncated or corrupt"},
		{"truncated GIF", gifBuf.Bytes()[:gifBuf.Len()-10], DecodeOptions{}, "truncated or corrupt"},
		{"PNG bomb 100000×100000", pngWithSize(t, 100000, 100000), DecodeOptions{}, "100000×100000"},
		{"PNG 0×0", pngWithSize(t, 0, 0), DecodeOptions{}, ""},
		{"JPEG bomb 65000×65000", jpegWithSize(t, 65000, 65000), DecodeOptions{}, "65000×65000"},
		{"PNG 2^31 wide", pngWithSize(t, 1<<31-1, 1<<31-1), DecodeOptions{}, ""},
		{"webp-like header", []byte("RIFF\x00\x00\x00\x00WEBPVP8 "), DecodeOptions{}, "not a PNG"},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := Decode(bytes.NewReader(c.data), c.o)
			if !qrpay.IsCode(err, qrpay.EINVALID) || !strings.Contains(qrpay.ErrorMessage(err), c.frag) || got != nil {
				t.Fatalf("Decode = %q, %v; want EINVALID with %q", got, err, c.frag)
			}
		})
	}
}

// TestDecodeBombIsCheap: a tiny PNG declaring 100000×100000 pixels (40 GB as RGBA) is refused
// from its header, quickly and with almost no memory.
func TestDecodeBombIsCheap(t *testing.T) {
	bomb := pngWithSize(t, 100000, 100000)
	if len(bomb) > 100 {
		t.Fatalf("bomb is %d bytes", len(bomb))
	}
	_, _ = Decode(bytes.NewReader(bomb), DecodeOptions{}) // warm the pools
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	start := time.Now()
	const runs = 20
	for range runs {
		if _, err := Decode(bytes.NewReader(bomb), DecodeOptions{}); !qrpay.IsCode(err, qrpay.EINVALID) {
			t.Fatalf("bomb: %v", err)
		}
	}
	elapsed := time.Since(start) / runs
	runtime.ReadMemStats(&after)
	perRun := (after.TotalAlloc - before.TotalAlloc) / runs
	t.Logf("bomb refused in %v with %d bytes allocated", elapsed, perRun)
	if elapsed > 50*time.Millisecond || perRun > 256<<10 {
		t.Errorf("bomb cost %v and %d bytes per call", elapsed, perRun)
	}
	allocs := testing.AllocsPerRun(10, func() { _, _ = Decode(bytes.NewReader(bomb), DecodeOptions{}) })
	if allocs > 100 {
		t.Errorf("bomb: %v allocations per call", allocs)
	}
}

func TestDecodeNotFound(t *testing.T) {
	r := rand.New(rand.NewSource(5))
	img := image.NewGray(image.Rect(0, 0, 1600, 1200))
	for i := range img.Pix {
		img.Pix[i] = uint8(100 + r.Intn(60))
	}
	for i := range 30 { // some structure: dark squares that are not finder patterns
		x, y := r.Intn(1500), r.Intn(1100)
		for dy := range 40 + i {
			for dx := range 40 {
				if y+dy < 1200 {
					img.SetGray(x+dx, y+dy, color.Gray{Y: 20})
				}
			}
		}
	}
	var buf bytes.Buffer
	_ = png.Encode(&buf, img)
	start := time.Now()
	got, err := Decode(&buf, DecodeOptions{})
	if !qrpay.IsCode(err, qrpay.ENOTFOUND) || qrpay.ErrorMessage(err) != "no QR code found" || got != nil {
		t.Fatalf("Decode = %q, %v; want ENOTFOUND", got, err)
	}
	t.Logf("no code in 1600×1200 noise: %v", time.Since(start))
	blank := image.NewGray(image.Rect(0, 0, 10, 10))
	buf.Reset()
	_ = png.Encode(&buf, blank)
	if _, err := Decode(&buf, DecodeOptions{}); !qrpay.IsCode(err, qrpay.ENOTFOUND) {
		t.Errorf("10×10 blank: %v", err)
	}
}

func TestDecodeContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := DecodeContext(ctx, bytes.NewReader(renderPNG256(t, testURL)), DecodeOptions{}); err != context.Canceled {
		t.Errorf("cancelled: %v", err)
	}
	if _, err := DecodeContext(context.Background(), errReader{}, DecodeOptions{}); !qrpay.IsCode(err, qrpay.EINVALID) {
		t.Errorf("read error: %v", err)
	}
}

type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, io.ErrClosedPipe }
