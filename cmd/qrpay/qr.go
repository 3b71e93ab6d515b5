package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"

	"github.com/qrpay/qrpay/gateway"
	"github.com/qrpay/qrpay/qr"
)

// runQR is `qrpay qr parse|render|decode|classify` (CONTRACT.md).
func runQR(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return usagef("qr needs a subcommand: parse, render, decode or classify")
	}
	switch args[0] {
	case "parse":
		return qrParse(args[1:], stdout, stderr)
	case "render":
		return qrRender(args[1:], stdout, stderr)
	case "decode":
		return qrDecode(ctx, args[1:], stdout, stderr)
	case "classify":
		return qrClassify(ctx, args[1:], stdout, stderr)
	}
	return usagef("unknown qr subcommand %q", args[0])
}

func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// qrParse prints the parse report; exit 0 valid, 1 invalid, 2 usage.
func qrParse(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("qr parse", stderr)
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return usagef("usage: qrpay qr parse PAYLOAD")
	}
	var rep qr.Report
	p, err := qr.Parse(fs.Arg(0))
	if err != nil {
		rep = qr.ReportError(err)
	} else {
		rep = qr.NewReport(p)
	}
	if err := printJSON(stdout, rep); err != nil {
		return err
	}
	if !rep.Valid {
		return exitError{1}
	}
	return nil
}

// qrRender writes a code as PNG or SVG.
func qrRender(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("qr render", stderr)
	size := fs.Int("size", 256, "image size in pixels")
	format := fs.String("format", "png", "png or svg")
	level := fs.String("level", "M", "error correction: L, M, Q or H")
	out := fs.String("out", "", "file to write (- for stdout)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 || *out == "" {
		return usagef("usage: qrpay qr render [--size 256] [--format png|svg] --out FILE PAYLOAD")
	}
	if *format != "png" && *format != "svg" {
		return usagef("--format must be png or svg")
	}
	img, _, err := qr.Render(fs.Arg(0), qr.RenderOptions{Size: *size, Format: *format, Level: *level})
	if err != nil {
		return err
	}
	if *out == "-" {
		_, err = stdout.Write(img)
		return err
	}
	return os.WriteFile(*out, img, 0o644)
}

// qrDecode prints {"text": ...} for the most prominent code in an image, and "texts" for all;
// exit 1 when none is found.
func qrDecode(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("qr decode", stderr)
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return usagef("usage: qrpay qr decode FILE")
	}
	f, err := os.Open(fs.Arg(0))
	if err != nil {
		return err
	}
	defer f.Close()
	texts, err := qr.DecodeContext(ctx, f, qr.DecodeOptions{})
	if err != nil {
		fmt.Fprintln(stderr, "qrpay: "+oneLine(err))
		return exitError{1}
	}
	return printJSON(stdout, map[string]any{"text": texts[0], "texts": texts})
}

// qrClassify says what a scanned text is, offline: payment codes, foreign codes, links. Sticker
// genuineness needs the server: use POST /v1/scan.
func qrClassify(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("qr classify", stderr)
	publicURL := fs.String("public-url", "", "this gateway's public URL, to tell its own links from others")
	iin := fs.String("acquirer-iin", "20310418", "this acquirer's IIN in EMV tag 15")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return usagef("usage: qrpay qr classify TEXT")
	}
	sc := &gateway.Scanner{PublicURL: *publicURL, AcquirerIIN: *iin}
	return printJSON(stdout, sc.Classify(ctx, fs.Arg(0), ""))
}
