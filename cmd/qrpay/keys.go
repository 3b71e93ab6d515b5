package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/qrpay/qrpay"
	"github.com/qrpay/qrpay/merchant"
)

const keysUsage = `qrpay keys generate [--write --data-dir DIR]
qrpay keys rotate   [--data-dir DIR | --database-url URL] [--json]

generate prints a new QRPAY_DATA_KEY entry ("keyid:base64key"). Put it first in QRPAY_DATA_KEY,
keeping the old entries after it, restart every node, then run rotate. On the embedded database
without QRPAY_DATA_KEY, --write puts the new key first in <data-dir>/data.key instead.

rotate re-seals every sealed value (merchants' ID numbers, phones and bank accounts, API key and
webhook secrets, two-factor secrets, signing keys, application documents) under the current key,
the first of QRPAY_DATA_KEY. It is idempotent and safe while qrpay serves. Keep the old keys
configured until it has run; keep the last entry (the blind index key) for good.`

// runKeys manages the data key: generate a new one, re-seal everything under the current one.
func runKeys(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprintln(stderr, keysUsage)
		return exitError{exitUsage}
	}
	switch args[0] {
	case "generate":
		return runKeysGenerate(args[1:], stdout, stderr)
	case "rotate":
		return runKeysRotate(ctx, args[1:], stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprintln(stdout, keysUsage)
		return nil
	}
	return usagef("unknown keys command %q; use generate or rotate", args[0])
}

func runKeysGenerate(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("keys generate", stderr)
	var d dbFlags
	d.register(fs)
	write := fs.Bool("write", false, "put the new key first in <data-dir>/data.key (embedded database without QRPAY_DATA_KEY)")
	if err := parse(fs, args); err != nil {
		return err
	}
	id, key := merchant.GenerateKey()
	entry := merchant.FormatKey(id, key)
	if !*write {
		fmt.Fprintln(stdout, entry)
		if old := os.Getenv("QRPAY_DATA_KEY"); old != "" {
			fmt.Fprintln(stderr, "qrpay: to rotate, set QRPAY_DATA_KEY to this entry, a comma, and the current value; restart; run qrpay keys rotate")
		}
		return nil
	}
	if os.Getenv("QRPAY_DATA_KEY") != "" {
		return usagef("--write changes <data-dir>/data.key, but QRPAY_DATA_KEY is set: put the new key in QRPAY_DATA_KEY instead")
	}
	path := filepath.Join(d.dataDir, "data.key")
	old, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("read %s: %w", path, err)
	}
	value := entry + "," + strings.TrimSpace(string(old))
	if _, err := merchant.ParseKeys(value); err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(value+"\n"), 0o600); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "new data key %s is now first in %s; restart qrpay, then run qrpay keys rotate\n", id, path)
	return nil
}

func runKeysRotate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("keys rotate", stderr)
	var d dbFlags
	d.register(fs)
	asJSON := fs.Bool("json", false, "print the counts as JSON")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("keys rotate takes no arguments (got %q)", fs.Arg(0))
	}
	log := d.logger(stderr)
	db, err := d.open(ctx, log)
	if err != nil {
		return err
	}
	defer db.Close()
	if n, err := db.Pending(ctx); err != nil || n > 0 {
		return qrpay.Errorf(qrpay.EINVALIDSTATE, "The database needs migrating first: run qrpay migrate. %v", err)
	}
	sealer, err := d.sealer(log)
	if err != nil {
		return err
	}
	svc := &merchant.Service{Store: db.Merchants(), Sealer: sealer, DocumentsDir: filepath.Join(d.dataDir, "documents")}
	rep, err := svc.RotateKeys(ctx)
	if err != nil {
		return err
	}
	if *asJSON {
		return json.NewEncoder(stdout).Encode(map[string]any{"key_id": rep.KeyID, "resealed": rep.Resealed,
			"unchanged": rep.Unchanged, "total_resealed": rep.Total()})
	}
	fmt.Fprintf(stdout, "re-sealed %d values under data key %s\n", rep.Total(), rep.KeyID)
	names := map[string]bool{}
	for k := range rep.Resealed {
		names[k] = true
	}
	for k := range rep.Unchanged {
		names[k] = true
	}
	sorted := make([]string, 0, len(names))
	for k := range names {
		sorted = append(sorted, k)
	}
	sort.Strings(sorted)
	for _, k := range sorted {
		fmt.Fprintf(stdout, "  %-26s %6d re-sealed %6d already current\n", k, rep.Resealed[k], rep.Unchanged[k])
	}
	return nil
}
