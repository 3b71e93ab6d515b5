package qr

import (
	"go/parser"
	"go/token"
	"os"
	"strconv"
	"strings"
	"testing"
)

// TestImports keeps qr a pure domain package: the standard library (without network or
// database access), the root package, and its own QR libraries.
func TestImports(t *testing.T) {
	allowed := []string{"github.com/qrpay/qrpay", "github.com/skip2/go-qrcode", "github.com/makiuchi-d/gozxing", "golang.org/x/image"}
	banned := []string{"net/http", "database/sql", "os/exec"}
	entries, err := os.ReadDir(".")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	checked := 0
	for _, e := range entries {
		name := e.Name()
		if !strings.HasSuffix(name, ".go") || strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		checked++
		for _, imp := range f.Imports {
			path, _ := strconv.Unquote(imp.Path.Value)
			std := !strings.Contains(strings.Split(path, "/")[0], ".")
			ok := std
			for _, a := range allowed {
				if path == a || (a != "github.com/qrpay/qrpay" && strings.HasPrefix(path, a+"/")) {
					ok = true
				}
			}
			for _, b := range banned {
				if path == b || strings.HasPrefix(path, b+"/") {
					ok = false
				}
			}
			if !ok {
				t.Errorf("%s imports %s", name, path)
			}
		}
	}
	if checked == 0 {
		t.Fatal("no source files checked")
	}
}
