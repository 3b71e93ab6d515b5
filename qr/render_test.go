package qr

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"image"
	"image/png"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/qrpay/qrpay"
)

const (
	testURL     = "https://pay.example.com/p/k1.stk_01j9w4k2m3n4p" // 42 characters
	testSpecEMV = "00020101021229300012D156000000000510A93FO3230Q31280012D15600000001030812345678520441115802CN5914BEST TRANSPORT6007BEIJING64200002ZH0104最佳运输0202北京540523.7253031565502016233030412340603***0708A60086670902ME91320016A0112233449988770708123456786304A13A"
)

func TestRenderDecodeRoundTrip(t *testing.T) {
	texts := []string{testURL, testSpecEMV, "12345678901234567890", strings.Repeat("长文本", 100)}
	for _, level := range []string{"L", "M", "Q", "H"} {
		for _, text := range texts {
			for _, size := range []int{0, 180, 640} {
				name := fmt.Sprintf("%s/%d/%d", level, len(text), size)
				t.Run(name, func(t *testing.T) {
					o := RenderOptions{Level: level, Size: size}
					b, ct, err := Render(text, o)
					if err != nil {
						if size == 180 && len(text) > 200 {
							if !qrpay.IsCode(err, qrpay.EINVALID) || qrpay.ErrorParam(err) != "size" {
								t.Fatalf("too small: %v", err)
							}
							return // the long text needs more than 180 pixels
						}
						t.Fatal(err)
					}
					if ct != "image/png" {
						t.Errorf("content type %q", ct)
					}
					img, err := png.Decode(bytes.NewReader(b))
					if err != nil {
						t.Fatal(err)
					}
					want := size
					if want == 0 {
						want = 256
					}
					if img.Bounds() != image.Rect(0, 0, want, want) {
						t.Errorf("bounds %v", img.Bounds())
					}
					got, err := Decode(bytes.NewReader(b), DecodeOptions{})
					if err != nil || !slices.Equal(got, []string{text}) {
						t.Fatalf("Decode = %q, %v", got, err)
					}
				})
			}
		}
	}
}

func TestRenderQuietZone(t *testing.T) {
	modules, _ := encodeModules(testURL, "M")
	n := len(modules)
	for _, qz := range []int{-1, 0, 1, 4, 8} {
		b, _, err := Render(testURL, RenderOptions{Size: 400, QuietZone: qz})
		if err != nil {
			t.Fatal(err)
		}
		img, _ := png.Decode(bytes.NewReader(b))
		q := qz
		if qz == 0 {
			q = 4
		} else if qz < 0 {
			q = 0
		}
		scale := 400 / (n + 2*q)
		off := (400 - n*scale) / 2
		// The first dark pixel on the top row of the code is the finder pattern's corner.
		first := -1
		for x := range 400 {
			if r, _, _, _ := img.At(x, off).RGBA(); r == 0 {
				first = x
				break
			}
		}
		if first != off {
			t.Errorf("quiet zone %d: first dark pixel at %d, want %d", qz, first, off)
		}
		if off < q*scale {
			t.Errorf("quiet zone %d: offset %d is less than %d modules", qz, off, q)
		}
		// Every module is a solid square.
		for my := range n {
			for mx := range n {
				r, _, _, _ := img.At(off+mx*scale+scale/2, off+my*scale+scale/2).RGBA()
				if (r == 0) != modules[my][mx] {
					t.Fatalf("quiet zone %d: module %d,%d wrong", qz, mx, my)
				}
			}
		}
	}
}

var svgRun = regexp.MustCompile(`M(\d+) (\d+)h(\d+)v1h-(\d+)z`)

func TestRenderSVG(t *testing.T) {
	for _, level := range []string{"L", "M", "Q", "H"} {
		for _, text := range []string{testURL, testSpecEMV} {
			b, ct, err := Render(text, RenderOptions{Format: "svg", Level: level, Size: 300})
			if err != nil || ct != "image/svg+xml" {
				t.Fatalf("Render svg: %q, %v", ct, err)
			}
			var doc struct {
				XMLName xml.Name `xml:"svg"`
				Width   string   `xml:"width,attr"`
				ViewBox string   `xml:"viewBox,attr"`
				Rect    struct {
					Fill string `xml:"fill,attr"`
				} `xml:"rect"`
				Path struct {
					D string `xml:"d,attr"`
				} `xml:"path"`
			}
			dec := xml.NewDecoder(bytes.NewReader(b))
			if err := dec.Decode(&doc); err != nil {
				t.Fatalf("SVG is not well-formed: %v\n%s", err, b)
			}
			// Nothing but white space may follow the root element.
			for {
				tok, err := dec.Token()
				if err != nil {
					break
				}
				if cd, ok := tok.(xml.CharData); !ok || len(bytes.TrimSpace(cd)) > 0 {
					t.Fatalf("content after the root element: %v", tok)
				}
			}
			modules, _ := encodeModules(text, level)
			n := len(modules)
			if doc.Width != "300" || doc.ViewBox != fmt.Sprintf("0 0 %d %d", n+8, n+8) || doc.Rect.Fill != "#fff" {
				t.Errorf("svg attributes %+v", doc)
			}
			grid := make([][]bool, n)
			for i := range grid {
				grid[i] = make([]bool, n)
			}
			dark := 0
			for _, m := range svgRun.FindAllStringSubmatch(doc.Path.D, -1) {
				x, _ := strconv.Atoi(m[1])
				y, _ := strconv.Atoi(m[2])
				w, _ := strconv.Atoi(m[3])
				if m[3] != m[4] {
					t.Fatalf("run %q does not close", m[0])
				}
				for i := range w {
					grid[y-4][x-4+i] = true
				}
				dark += w
			}
			if svgRun.ReplaceAllString(doc.Path.D, "") != "" {
				t.Fatalf("unexpected path data %q", svgRun.ReplaceAllString(doc.Path.D, ""))
			}
			want := 0
			for y, row := range modules {
				for x, v := range row {
					if v {
						want++
					}
					if grid[y][x] != v {
						t.Fatalf("module %d,%d differs", x, y)
					}
				}
			}
			if dark != want {
				t.Errorf("%d dark modules in the SVG, want %d", dark, want)
			}
		}
	}
}

func TestRenderErrors(t *testing.T) {
	for _, c := range []struct {
		text  string
		o     RenderOptions
		param string
	}{
		{"", RenderOptions{}, "text"},
		{"\xff", RenderOptions{}, "text"},
		{strings.Repeat("x", MaxTextBytes+1), RenderOptions{}, "text"},
		{strings.Repeat("字", 1000), RenderOptions{Level: "H"}, ""}, // 3000 bytes do not fit at H
		{"x", RenderOptions{Size: 63}, "size"},
		{"x", RenderOptions{Size: 2049}, "size"},
		{"x", RenderOptions{Size: -5}, "size"},
		{"x", RenderOptions{Level: "X"}, "level"},
		{"x", RenderOptions{Level: "m"}, "level"},
		{"x", RenderOptions{QuietZone: 17}, "quiet_zone"},
		{"x", RenderOptions{QuietZone: -2}, "quiet_zone"},
		{"x", RenderOptions{Format: "gif"}, "format"},
		{strings.Repeat("x", 1000), RenderOptions{Size: 64}, "size"},
	} {
		_, _, err := Render(c.text, c.o)
		if !qrpay.IsCode(err, qrpay.EINVALID) || (c.param != "" && qrpay.ErrorParam(err) != c.param) {
			t.Errorf("Render(%d bytes, %+v) = %v; want EINVALID %s", len(c.text), c.o, err, c.param)
		}
	}
}

func TestCache(t *testing.T) {
	c := NewCache(1 << 20)
	var renders atomic.Int64
	c.render = func(s string, o RenderOptions) ([]byte, string, error) {
		renders.Add(1)
		return Render(s, o)
	}
	b1, ct, etag1, err := c.Get(testURL, RenderOptions{})
	if err != nil || ct != "image/png" || !regexp.MustCompile(`^"[0-9a-f]{32}"$`).MatchString(etag1) {
		t.Fatalf("Get = %q, %q, %v", ct, etag1, err)
	}
	direct, _, _ := Render(testURL, RenderOptions{})
	if !bytes.Equal(b1, direct) {
		t.Error("cached body differs from Render")
	}
	// The defaults are the same key as the explicit options.
	b2, _, etag2, _ := c.Get(testURL, RenderOptions{Size: 256, Level: "M", QuietZone: 4, Format: "png"})
	if etag2 != etag1 || &b2[0] != &b1[0] || renders.Load() != 1 {
		t.Errorf("second Get rendered again (%d renders)", renders.Load())
	}
	_, _, etag3, _ := c.Get(testURL, RenderOptions{Level: "H"})
	_, ct4, etag4, _ := c.Get(testURL, RenderOptions{Format: "svg"})
	_, _, etag5, _ := c.Get(testURL+"x", RenderOptions{})
	if etag3 == etag1 || etag4 == etag1 || etag5 == etag1 || ct4 != "image/svg+xml" || renders.Load() != 4 {
		t.Errorf("ETags %s %s %s %s, %d renders", etag1, etag3, etag4, etag5, renders.Load())
	}
	if _, _, _, err := c.Get("", RenderOptions{}); !qrpay.IsCode(err, qrpay.EINVALID) {
		t.Errorf("Get of empty text: %v", err)
	}
	if _, _, _, err := c.Get("x", RenderOptions{Size: 1}); !qrpay.IsCode(err, qrpay.EINVALID) {
		t.Errorf("Get with bad size: %v", err)
	}
	// ETags depend only on content: another cache gives the same.
	_, _, again, _ := NewCache(1<<20).Get(testURL, RenderOptions{})
	if again != etag1 {
		t.Errorf("ETag %s, then %s", etag1, again)
	}
}

func TestCacheEvictsLeastRecentlyUsed(t *testing.T) {
	b, _, _ := Render("sticker-0", RenderOptions{})
	per := len(b) + len("sticker-0") + 34 + 128
	c := NewCache(3*per + per/2) // room for three entries
	var renders atomic.Int64
	c.render = func(s string, o RenderOptions) ([]byte, string, error) {
		renders.Add(1)
		return Render(s, o)
	}
	get := func(i int) {
		if _, _, _, err := c.Get(fmt.Sprintf("sticker-%d", i), RenderOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	get(0)
	get(1)
	get(2)
	get(0) // 0 is now the most recent; 1 the least
	get(3) // evicts 1
	if c.Len() != 3 || c.Bytes() > 3*per+per/2 || renders.Load() != 4 {
		t.Fatalf("len %d, bytes %d, renders %d", c.Len(), c.Bytes(), renders.Load())
	}
	get(0)
	get(2)
	get(3)
	if renders.Load() != 4 {
		t.Errorf("a recent entry was evicted (%d renders)", renders.Load())
	}
	get(1)
	if renders.Load() != 5 {
		t.Errorf("entry 1 was not evicted (%d renders)", renders.Load())
	}
	// An image larger than the whole cache is served but not kept.
	small := NewCache(100)
	if _, _, _, err := small.Get("x", RenderOptions{}); err != nil || small.Len() != 0 || small.Bytes() != 0 {
		t.Errorf("oversized entry: %v, len %d", err, small.Len())
	}
}

func TestCacheConcurrent(t *testing.T) {
	c := NewCache(64 << 10)
	var renders atomic.Int64
	c.render = func(s string, o RenderOptions) ([]byte, string, error) {
		renders.Add(1)
		return Render(s, o)
	}
	var wg sync.WaitGroup
	etags := make([]string, 16)
	for g := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 50 {
				_, _, etag, err := c.Get(fmt.Sprintf("sticker-%d", i%10), RenderOptions{})
				if err != nil {
					t.Error(err)
					return
				}
				if i == 0 {
					etags[g] = etag
				}
			}
		}()
	}
	wg.Wait()
	for _, e := range etags {
		if e != etags[0] {
			t.Fatalf("ETags differ: %v", etags)
		}
	}
	if c.Bytes() > 64<<10 {
		t.Errorf("cache holds %d bytes", c.Bytes())
	}
	// Ten images fit, and concurrent misses of one key render it once.
	if n := renders.Load(); n != 10 {
		t.Errorf("%d renders for 10 images", n)
	}
}
