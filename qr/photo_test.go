package qr

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"math"
	"math/rand"
	"slices"
	"testing"
	"time"
)

// Synthesized photographs: codes printed on paper (with their quiet zone) lying at an angle in
// a cluttered, unevenly lit, noisy scene, optionally blurred, low in contrast and JPEG-compressed.

type placement struct {
	text   string
	level  string
	cx, cy float64 // centre in pixels
	size   float64 // side of the printed code, quiet zone included, in pixels
	angle  float64 // degrees, clockwise
}

type scene struct {
	w, h       int
	seed       int64
	codes      []placement
	ink, paper uint8   // grey levels of dark and light modules (default 35 and 225)
	noise      int     // ± per-pixel noise (default 12)
	blur       int     // box-blur radius, applied three times (0: none)
	jpegQ      int     // JPEG quality (0: 85); -1 stores PNG
	lightFall  float64 // brightness falls from 1 to 1-lightFall across the image (default 0.3)
}

// photo renders the scene and returns the encoded file.
func (s scene) photo(t testing.TB) []byte {
	t.Helper()
	if s.ink == 0 && s.paper == 0 {
		s.ink, s.paper = 35, 225
	}
	if s.noise == 0 {
		s.noise = 12
	}
	if s.lightFall == 0 {
		s.lightFall = 0.3
	}
	r := rand.New(rand.NewSource(s.seed))
	img := image.NewRGBA(image.Rect(0, 0, s.w, s.h))
	// Background: a colour gradient with clutter (rectangles and discs of random colours).
	var c0, c1 [3]int
	for k := range 3 {
		c0[k], c1[k] = 80+r.Intn(90), 40+r.Intn(90)
	}
	for y := range s.h {
		row := img.Pix[y*img.Stride:]
		for x := range s.w {
			f := (x + y) * 256 / (s.w + s.h)
			for k := range 3 {
				row[4*x+k] = uint8((c0[k]*(256-f) + c1[k]*f) >> 8)
			}
			row[4*x+3] = 255
		}
	}
	for range 40 {
		col := color.RGBA{uint8(r.Intn(256)), uint8(r.Intn(256)), uint8(r.Intn(256)), 255}
		x0, y0 := r.Intn(s.w), r.Intn(s.h)
		rw, rh := 10+r.Intn(s.w/5), 10+r.Intn(s.h/5)
		disc := r.Intn(2) == 0
		for y := y0; y < min(y0+rh, s.h); y++ {
			for x := x0; x < min(x0+rw, s.w); x++ {
				if disc {
					dx, dy := float64(x-x0-rw/2)/float64(rw/2+1), float64(y-y0-rh/2)/float64(rh/2+1)
					if dx*dx+dy*dy > 1 {
						continue
					}
				}
				img.SetRGBA(x, y, col)
			}
		}
	}
	// The codes, supersampled 3×3.
	for _, p := range s.codes {
		modules, err := encodeModules(p.text, p.level)
		if err != nil {
			t.Fatal(err)
		}
		n := len(modules)
		total := float64(n + 8)
		sin, cos := math.Sincos(p.angle * math.Pi / 180)
		half := p.size / 2 * math.Sqrt2
		for y := max(0, int(p.cy-half)); y < min(s.h, int(p.cy+half)+1); y++ {
			for x := max(0, int(p.cx-half)); x < min(s.w, int(p.cx+half)+1); x++ {
				inside, dark := 0, 0
				for sy := range 3 {
					for sx := range 3 {
						dx := float64(x) + (float64(sx)+0.5)/3 - p.cx
						dy := float64(y) + (float64(sy)+0.5)/3 - p.cy
						// Rotate back into the code's frame.
						u := (dx*cos+dy*sin)/p.size + 0.5
						v := (-dx*sin+dy*cos)/p.size + 0.5
						if u < 0 || u >= 1 || v < 0 || v >= 1 {
							continue
						}
						inside++
						mx, my := int(u*total)-4, int(v*total)-4
						if mx >= 0 && my >= 0 && mx < n && my < n && modules[my][mx] {
							dark++
						}
					}
				}
				if inside == 0 {
					continue
				}
				g := (dark*int(s.ink) + (inside-dark)*int(s.paper)) / inside
				px := img.Pix[img.PixOffset(x, y):]
				for k := range 3 {
					px[k] = uint8((int(px[k])*(9-inside) + g*inside) / 9)
				}
			}
		}
	}
	for range 3 * min(s.blur, 1) {
		boxBlur(img, s.blur)
	}
	// Uneven light and sensor noise (xorshift: fast and deterministic).
	state := uint32(s.seed*2654435761 + 1)
	span := uint32(2*s.noise + 1)
	for y := range s.h {
		row := img.Pix[y*img.Stride:]
		for x := range s.w {
			light := 1024 - int(s.lightFall*1024)*x/s.w
			for k := range 3 {
				state ^= state << 13
				state ^= state >> 17
				state ^= state << 5
				v := int(row[4*x+k])*light>>10 + int(state%span) - s.noise
				row[4*x+k] = uint8(max(0, min(255, v)))
			}
		}
	}
	var buf bytes.Buffer
	if s.jpegQ < 0 {
		if err := png.Encode(&buf, img); err != nil {
			t.Fatal(err)
		}
	} else {
		q := s.jpegQ
		if q == 0 {
			q = 85
		}
		if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: q}); err != nil {
			t.Fatal(err)
		}
	}
	return buf.Bytes()
}

// boxBlur blurs the colour channels with a running mean of radius r, rows then columns.
func boxBlur(img *image.RGBA, r int) {
	w, h := img.Rect.Dx(), img.Rect.Dy()
	tmp := make([]int, max(w, h))
	pass := func(n int, idx func(i int) int) {
		for k := range 3 {
			sum, cnt := 0, 0
			for j := 0; j < r && j < n; j++ {
				sum += int(img.Pix[idx(j)+k])
				cnt++
			}
			for i := range n {
				if j := i + r; j < n {
					sum += int(img.Pix[idx(j)+k])
					cnt++
				}
				if j := i - r - 1; j >= 0 {
					sum -= int(img.Pix[idx(j)+k])
					cnt--
				}
				tmp[i] = sum / cnt
			}
			for i := range n {
				img.Pix[idx(i)+k] = uint8(tmp[i])
			}
		}
	}
	for y := range h {
		pass(w, func(i int) int { return y*img.Stride + 4*i })
	}
	for x := range w {
		pass(h, func(i int) int { return i*img.Stride + 4*x })
	}
}

const testSticker = "https://pay.example.com/p/k1.stk_01j9w4k2m3n4p5q6r7s8t9v0wx.Yk3J9vQ2mX8rT4nL6pW1sA"

func photoScenes() map[string]scene {
	one := func(w, h int, size, angle float64) []placement {
		return []placement{{text: testSticker, level: "M", cx: float64(w) * 0.55, cy: float64(h) * 0.45, size: size, angle: angle}}
	}
	return map[string]scene{
		"1280x960 with a 300px code":        {w: 1280, h: 960, seed: 1, codes: one(1280, 960, 300, 3)},
		"rotated 7°":                        {w: 1024, h: 768, seed: 2, codes: one(1024, 768, 300, 7)},
		"rotated 30°":                       {w: 1024, h: 768, seed: 3, codes: one(1024, 768, 300, 30)},
		"rotated 45°":                       {w: 1024, h: 768, seed: 4, codes: one(1024, 768, 300, 45)},
		"rotated 90°":                       {w: 1024, h: 768, seed: 5, codes: one(1024, 768, 300, 90)},
		"rotated 180°":                      {w: 1024, h: 768, seed: 6, codes: one(1024, 768, 300, 180)},
		"120px code in a 2000px image":      {w: 2000, h: 1500, seed: 7, codes: one(2000, 1500, 120, 4)},
		"200px code in a 3200px image":      {w: 3200, h: 2400, seed: 8, codes: one(3200, 2400, 200, 2), noise: 6},
		"blurred":                           {w: 1024, h: 768, seed: 9, codes: one(1024, 768, 320, 5), blur: 2},
		"low contrast":                      {w: 1024, h: 768, seed: 10, codes: one(1024, 768, 300, 5), ink: 110, paper: 150, noise: 4},
		"JPEG quality 20":                   {w: 1024, h: 768, seed: 11, codes: one(1024, 768, 260, 5), jpegQ: 20},
		"dense EMV payload at 12°":          {w: 1280, h: 960, seed: 12, codes: []placement{{text: testSpecEMV, level: "M", cx: 600, cy: 480, size: 480, angle: 12}}},
		"PNG screenshot, level H, no light": {w: 800, h: 600, seed: 13, codes: one(800, 600, 240, 0), jpegQ: -1, noise: 1, lightFall: 0.0001},
		"two codes": {w: 1280, h: 960, seed: 14, codes: []placement{
			{text: testSticker, level: "M", cx: 330, cy: 430, size: 380, angle: 4},
			{text: testSpecEMV, level: "Q", cx: 930, cy: 520, size: 420, angle: -6},
		}},
	}
}

// photoWant is what Decode must return for each scene.
var photoWant = map[string][]string{
	"two codes": {testSpecEMV, testSticker},
}

func TestDecodePhotos(t *testing.T) {
	var trace []string
	decodeTrace = func(name string, found int, d time.Duration) {
		trace = append(trace, fmt.Sprintf("%s:%d(%dms)", name, found, d.Milliseconds()))
	}
	defer func() { decodeTrace = nil }()
	for name, s := range photoScenes() {
		t.Run(name, func(t *testing.T) {
			b := s.photo(t)
			trace = nil
			start := time.Now()
			got, err := Decode(bytes.NewReader(b), DecodeOptions{})
			t.Logf("%v in %v", trace, time.Since(start).Round(time.Millisecond))
			want, ok := photoWant[name]
			if !ok {
				want = []string{s.codes[0].text}
			}
			if err != nil || !slices.Equal(got, want) {
				t.Errorf("Decode = %q, %v; want %q", got, err, want)
			}
		})
	}
}

// TestGreyFastPaths checks the luminance of each image type against the generic path.
func TestGreyFastPaths(t *testing.T) {
	r := rand.New(rand.NewSource(3))
	rect := image.Rect(3, 5, 40, 31)
	rgba := image.NewRGBA(rect)
	nrgba := image.NewNRGBA(rect)
	gray := image.NewGray(rect)
	pal := image.NewPaletted(rect, color.Palette{color.White, color.Black, color.RGBA{200, 10, 10, 255}, color.NRGBA{0, 0, 0, 0}})
	ycc := image.NewYCbCr(rect, image.YCbCrSubsampleRatio420)
	for y := rect.Min.Y; y < rect.Max.Y; y++ {
		for x := rect.Min.X; x < rect.Max.X; x++ {
			c := color.NRGBA{uint8(r.Intn(256)), uint8(r.Intn(256)), uint8(r.Intn(256)), uint8(r.Intn(256))}
			nrgba.Set(x, y, c)
			rgba.Set(x, y, c)
			gray.Set(x, y, c)
			pal.SetColorIndex(x, y, uint8(r.Intn(4)))
			ycc.Y[ycc.YOffset(x, y)] = uint8(r.Intn(256))
		}
	}
	for name, img := range map[string]image.Image{"rgba": rgba, "nrgba": nrgba, "gray": gray, "paletted": pal, "ycbcr": ycc} {
		if name == "ycbcr" {
			for i := range ycc.Cb {
				ycc.Cb[i], ycc.Cr[i] = 128, 128 // neutral, so that the RGB path agrees with Y
			}
		}
		g := toGrey(img)
		ref := toGrey(genericImage{img})
		if g.w != rect.Dx() || g.h != rect.Dy() {
			t.Fatalf("%s: %dx%d", name, g.w, g.h)
		}
		for i := range g.pix {
			if d := int(g.pix[i]) - int(ref.pix[i]); d < -2 || d > 2 {
				t.Fatalf("%s: pixel %d is %d, generic path says %d", name, i, g.pix[i], ref.pix[i])
			}
		}
		if name == "ycbcr" && g.pix[0] != ycc.Y[ycc.YOffset(3, 5)] {
			t.Errorf("ycbcr: luminance is not the Y plane")
		}
		g.release()
		ref.release()
	}
	// Transparent pixels are white.
	clear := image.NewNRGBA(image.Rect(0, 0, 2, 1))
	if g := toGrey(clear); g.pix[0] != 255 {
		t.Errorf("transparent pixel has luminance %d", g.pix[0])
	}
}

// genericImage hides the concrete type so that toGrey takes its generic path.
type genericImage struct{ image.Image }

func TestGreyHalfAndRotate(t *testing.T) {
	g := newGrey(5, 3)
	for i := range g.pix {
		g.pix[i] = uint8(i * 10)
	}
	h := g.half()
	if h.w != 2 || h.h != 1 || h.pix[0] != (0+10+50+60+2)/4 || h.pix[1] != (20+30+70+80+2)/4 {
		t.Errorf("half = %dx%d %v", h.w, h.h, h.pix)
	}
	r := g.rotate90()
	// Clockwise: the bottom-left pixel (0,2) goes to the top-left.
	if r.w != 3 || r.h != 5 || r.pix[0] != g.pix[2*5] || r.pix[2] != g.pix[0] || r.pix[3*4+2] != g.pix[4] {
		t.Errorf("rotate90 = %dx%d %v", r.w, r.h, r.pix)
	}
}
