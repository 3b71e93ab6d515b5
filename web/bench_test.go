package web

import (
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/qrpay/qrpay/qr"
)

// BenchmarkServeCachedCode serves a sticker's 256 px PNG over HTTP on loopback, through the
// whole middleware stack and the code cache, and reports how many times faster that is than
// rendering the same code, both measured in the same run (the target is at least 20×):
//
//   - serial: one client, one request at a time, against one render at a time. A request costs
//     the loopback round trip and both HTTP stacks whatever it serves; the floor sub-benchmark
//     measures that cost with a bare net/http handler writing the same bytes.
//   - parallel: as many concurrent clients as the machine has cores × 4, against renders on
//     every core: the throughput a sticker page's images are served with.
func BenchmarkServeCachedCode(b *testing.B) {
	const sticker = "https://pay.example.com/p/k1.AbCdEfGhIjKlMnOpQrStUv"
	o := qr.RenderOptions{Size: 256, Format: "png"}
	var srv *Server
	srv = newBareServer(&testing.T{}, func(e *echo.Echo) {
		e.GET("/bench/sticker.png", func(c echo.Context) error { return srv.serveCode(c, sticker, o, false) })
	})
	png, _, err := qr.Render(sticker, o)
	if err != nil {
		b.Fatal(err)
	}
	// renderEach is the baseline: the time per render with workers rendering at once.
	renderEach := func(workers int) time.Duration {
		const each = 40
		var wg sync.WaitGroup
		t0 := time.Now()
		for range workers {
			wg.Go(func() {
				for range each {
					if _, _, err := qr.Render(sticker, o); err != nil {
						b.Error(err)
						return
					}
				}
			})
		}
		wg.Wait()
		return time.Since(t0) / time.Duration(workers*each)
	}
	load := func(b *testing.B, h http.Handler, parallel bool) {
		ts := httptest.NewServer(h)
		defer ts.Close()
		tr := ts.Client().Transport.(*http.Transport)
		tr.MaxIdleConnsPerHost = 64
		client := &http.Client{Transport: tr}
		get := func() error {
			resp, err := client.Get(ts.URL + "/bench/sticker.png")
			if err != nil {
				return err
			}
			n, _ := io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK || n != int64(len(png)) {
				b.Fatalf("status %d, %d bytes", resp.StatusCode, n)
			}
			return nil
		}
		if err := get(); err != nil { // fills the cache
			b.Fatal(err)
		}
		workers := 1
		if parallel {
			workers = 2 * 4
		}
		render := renderEach(workers)
		b.ResetTimer()
		t0 := time.Now()
		if parallel {
			b.SetParallelism(4)
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if err := get(); err != nil {
						b.Error(err)
						return
					}
				}
			})
		} else {
			for b.Loop() {
				if err := get(); err != nil {
					b.Fatal(err)
				}
			}
		}
		served := time.Since(t0) / time.Duration(b.N)
		b.ReportMetric(float64(render.Microseconds()), "render-µs")
		b.ReportMetric(float64(render)/float64(served), "x-faster")
	}
	floor := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "image/png")
		w.Write(png)
	})
	b.Run("serial", func(b *testing.B) { load(b, srv.Handler(), false) })
	b.Run("serial-floor", func(b *testing.B) { load(b, floor, false) })
	b.Run("parallel", func(b *testing.B) { load(b, srv.Handler(), true) })
	b.Run("parallel-floor", func(b *testing.B) { load(b, floor, true) })
}
