package qr

import (
	"image"
	"sync"
)

// grey is an 8-bit luminance image, row-major without padding, whose buffer comes from a pool.
type grey struct {
	pix  []byte
	w, h int
	buf  *[]byte // the pooled buffer behind pix, nil if pix is not pooled
}

var greyPool sync.Pool // of *[]byte

// newGrey returns a w×h grey image on a pooled buffer; its content is undefined.
func newGrey(w, h int) *grey {
	n := w * h
	bp, _ := greyPool.Get().(*[]byte)
	if bp == nil || cap(*bp) < n {
		if bp != nil {
			greyPool.Put(bp)
		}
		b := make([]byte, n)
		bp = &b
	}
	return &grey{pix: (*bp)[:n], w: w, h: h, buf: bp}
}

// release gives the buffer back to the pool; g must not be used afterwards.
func (g *grey) release() {
	if g.buf != nil && cap(*g.buf) <= 64<<20 {
		greyPool.Put(g.buf)
	}
	g.buf, g.pix = nil, nil
}

// Luma weights (ITU-R BT.601, as image/color uses), scaled by 2^16.
const (
	lumR = 19595
	lumG = 38470
	lumB = 7471
)

// toGrey converts img to luminance, transparent pixels counting as white, with fast paths for
// the image types the standard decoders produce.
func toGrey(img image.Image) *grey {
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	g := newGrey(w, h)
	switch m := img.(type) {
	case *image.Gray:
		for y := range h {
			o := m.PixOffset(b.Min.X, b.Min.Y+y)
			copy(g.pix[y*w:(y+1)*w], m.Pix[o:o+w])
		}
	case *image.YCbCr:
		for y := range h {
			o := m.YOffset(b.Min.X, b.Min.Y+y)
			copy(g.pix[y*w:(y+1)*w], m.Y[o:o+w])
		}
	case *image.NYCbCrA:
		for y := range h {
			o := m.YOffset(b.Min.X, b.Min.Y+y)
			ao := m.AOffset(b.Min.X, b.Min.Y+y)
			row := g.pix[y*w : (y+1)*w]
			for x := range row {
				a := uint32(m.A[ao+x])
				row[x] = uint8((uint32(m.Y[o+x])*a + 255*(255-a)) / 255)
			}
		}
	case *image.RGBA:
		// Premultiplied: over white, each channel is c + (255 - a).
		for y := range h {
			s := m.Pix[m.PixOffset(b.Min.X, b.Min.Y+y):]
			row := g.pix[y*w : (y+1)*w]
			for x := range row {
				p := s[x*4 : x*4+4 : x*4+4]
				l := (lumR*uint32(p[0]) + lumG*uint32(p[1]) + lumB*uint32(p[2]) + 1<<15) >> 16
				row[x] = uint8(min(l+255-uint32(p[3]), 255))
			}
		}
	case *image.NRGBA:
		for y := range h {
			s := m.Pix[m.PixOffset(b.Min.X, b.Min.Y+y):]
			row := g.pix[y*w : (y+1)*w]
			for x := range row {
				p := s[x*4 : x*4+4 : x*4+4]
				l := (lumR*uint32(p[0]) + lumG*uint32(p[1]) + lumB*uint32(p[2]) + 1<<15) >> 16
				a := uint32(p[3])
				row[x] = uint8((l*a + 255*(255-a)) / 255)
			}
		}
	case *image.Paletted:
		var lut [256]uint8
		for i := range lut {
			lut[i] = 255
		}
		for i, c := range m.Palette {
			lut[i] = lum16(c.RGBA())
		}
		for y := range h {
			s := m.Pix[m.PixOffset(b.Min.X, b.Min.Y+y):]
			row := g.pix[y*w : (y+1)*w]
			for x := range row {
				row[x] = lut[s[x]]
			}
		}
	default:
		for y := range h {
			row := g.pix[y*w : (y+1)*w]
			for x := range row {
				row[x] = lum16(img.At(b.Min.X+x, b.Min.Y+y).RGBA())
			}
		}
	}
	return g
}

// lum16 is the luminance of a premultiplied 16-bit colour over white.
func lum16(r, g, b, a uint32) uint8 {
	l := (lumR*r + lumG*g + lumB*b + 1<<15) >> 16 // 16-bit luminance
	l += 0xFFFF - a
	return uint8(min(l, 0xFFFF) >> 8)
}

// half returns g reduced to half its width and height by averaging 2×2 blocks.
func (g *grey) half() *grey {
	w, h := g.w/2, g.h/2
	out := newGrey(w, h)
	for y := range h {
		r0 := g.pix[2*y*g.w : 2*y*g.w+2*w]
		r1 := g.pix[(2*y+1)*g.w : (2*y+1)*g.w+2*w]
		row := out.pix[y*w : (y+1)*w]
		for x := range row {
			row[x] = uint8((uint32(r0[2*x]) + uint32(r0[2*x+1]) + uint32(r1[2*x]) + uint32(r1[2*x+1]) + 2) >> 2)
		}
	}
	return out
}

// rotate90 returns g turned a quarter turn clockwise.
func (g *grey) rotate90() *grey {
	out := newGrey(g.h, g.w)
	for y := range g.h {
		row := g.pix[y*g.w : (y+1)*g.w]
		col := g.h - 1 - y
		for x, v := range row {
			out.pix[x*out.w+col] = v
		}
	}
	return out
}

// adaptive returns a black-and-white copy of g: a pixel is black when it is darker by more than
// offset than the mean of the (2r+1)² window around it. It copes with low contrast, blur and
// noise that defeat the hybrid binarizer's small blocks.
func (g *grey) adaptive(r, offset int) *grey {
	w, h := g.w, g.h
	iw := w + 1
	// Integral image with a zero first row and column; fits uint32 up to 16 megapixels.
	sp, _ := sumPool.Get().(*[]uint32)
	if sp == nil || cap(*sp) < iw*(h+1) {
		b := make([]uint32, iw*(h+1))
		sp = &b
	}
	defer sumPool.Put(sp)
	sum := (*sp)[:iw*(h+1)]
	clear(sum[:iw])
	for y := range h {
		var row uint32
		sum[(y+1)*iw] = 0
		src := g.pix[y*w : (y+1)*w]
		prev := sum[y*iw+1 : y*iw+1+w]
		cur := sum[(y+1)*iw+1 : (y+1)*iw+1+w]
		for x, v := range src {
			row += uint32(v)
			cur[x] = prev[x] + row
		}
	}
	out := newGrey(w, h)
	for y := range h {
		y0, y1 := max(0, y-r), min(h, y+r+1)
		top, bot := sum[y0*iw:], sum[y1*iw:]
		src := g.pix[y*w : (y+1)*w]
		dst := out.pix[y*w : (y+1)*w]
		for x, v := range src {
			x0, x1 := max(0, x-r), min(w, x+r+1)
			s := int(bot[x1] - top[x1] - bot[x0] + top[x0])
			n := (y1 - y0) * (x1 - x0)
			if (int(v)+offset)*n < s {
				dst[x] = 0
			} else {
				dst[x] = 255
			}
		}
	}
	return out
}

var sumPool sync.Pool // of *[]uint32
