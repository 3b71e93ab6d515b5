package qr

import (
	"bytes"
	"context"
	"image"
	"image/jpeg"
	"strings"
	"sync"
	"testing"

	"github.com/makiuchi-d/gozxing"
	zxqr "github.com/makiuchi-d/gozxing/qrcode"
	"github.com/qrpay/qrpay"
	qrcode "github.com/skip2/go-qrcode"
)

// benchURL is a 42-character sticker URL; benchEMV a 156-character dynamic EMV payload.
const benchURL = "https://pay.example.com/p/k1.stk_01j9w4k2m"

var benchEMV = func() string {
	c := MerchantCode{
		Dynamic: true, UnionPayAccount: testAccount, MCC: "5812",
		Amount: qrpay.Money{Amount: 2372, Currency: "CNY"}, Name: "XIAOCHI DIAN", City: "SHANGHAI",
		NameZH: "小吃店", CityZH: "上海", TerminalLabel: "T01",
	}
	for n := 1; n <= 25; n++ {
		c.ReferenceLabel = strings.Repeat("R", n)
		if s, err := BuildMerchantCode(c); err == nil && len([]rune(s)) == 156 {
			return s
		}
	}
	panic("no 156-character payload")
}()

func BenchmarkRender(b *testing.B) {
	for _, c := range []struct{ name, text string }{{"url42", benchURL}, {"emv156", benchEMV}} {
		if n := len([]rune(c.text)); n != 42 && n != 156 {
			b.Fatalf("%s is %d characters", c.name, n)
		}
		b.Run("skip2/"+c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := qrcode.Encode(c.text, qrcode.Medium, 256); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run("qr/"+c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, _, err := Render(c.text, RenderOptions{Size: 256}); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run("svg/"+c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, _, err := Render(c.text, RenderOptions{Size: 256, Format: "svg"}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkCacheGet(b *testing.B) {
	c := NewCache(32 << 20)
	if _, _, _, err := c.Get(benchURL, RenderOptions{}); err != nil {
		b.Fatal(err)
	}
	b.Run("hot", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, _, _, err := c.Get(benchURL, RenderOptions{}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("hot-parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, _, _, err := c.Get(benchURL, RenderOptions{}); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
	b.Run("render", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, _, err := Render(benchURL, RenderOptions{}); err != nil {
				b.Fatal(err)
			}
		}
	})
}

var (
	benchPhotoOnce sync.Once
	benchPhotoData []byte
)

// benchPhoto returns a 1280×960 JPEG photograph holding a 300-pixel code.
func benchPhoto(tb testing.TB) []byte {
	benchPhotoOnce.Do(func() { benchPhotoData = photoScenes()["1280x960 with a 300px code"].photo(tb) })
	return benchPhotoData
}

// baselineDecode is plain gozxing on the colour image: its own luminance source, the hybrid
// binarizer and the QR reader with TRY_HARDER.
func baselineDecode(img image.Image) (string, error) {
	bmp, err := gozxing.NewBinaryBitmap(gozxing.NewHybridBinarizer(gozxing.NewLuminanceSourceFromImage(img)))
	if err != nil {
		return "", err
	}
	res, err := zxqr.NewQRCodeReader().Decode(bmp, map[gozxing.DecodeHintType]any{gozxing.DecodeHintType_TRY_HARDER: true})
	if err != nil {
		return "", err
	}
	return res.GetText(), nil
}

func BenchmarkDecodePhoto(b *testing.B) {
	data := benchPhoto(b)
	img, err := jpeg.Decode(bytes.NewReader(data))
	if err != nil {
		b.Fatal(err)
	}
	b.Run("baseline-gozxing", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			img, err := jpeg.Decode(bytes.NewReader(data))
			if err != nil {
				b.Fatal(err)
			}
			if s, err := baselineDecode(img); err != nil || s != testSticker {
				b.Fatalf("baseline: %q, %v", s, err)
			}
		}
	})
	b.Run("qr.Decode", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if got, err := Decode(bytes.NewReader(data), DecodeOptions{}); err != nil || len(got) != 1 || got[0] != testSticker {
				b.Fatalf("Decode: %q, %v", got, err)
			}
		}
	})
	b.Run("baseline-gozxing-decoded-image", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if s, err := baselineDecode(img); err != nil || s != testSticker {
				b.Fatalf("baseline: %q, %v", s, err)
			}
		}
	})
	b.Run("qr.DecodeImage-decoded-image", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if got, err := DecodeImage(context.Background(), img); err != nil || len(got) != 1 {
				b.Fatalf("DecodeImage: %q, %v", got, err)
			}
		}
	})
}
