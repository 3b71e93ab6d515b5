package qrpay_test

import (
	"encoding/json"
	"os/exec"
	"strings"
	"testing"
)

// TestDomainImports enforces DESIGN.md's rule that dependencies point inward: the domain
// packages never import the web framework, the SQL layer, a database driver, database/sql, store
// or web — directly or through anything they import. (Adapters under gateway/ may use net/http;
// that is allowed.)
func TestDomainImports(t *testing.T) {
	banned := map[string]string{
		"github.com/labstack/echo/v4":  "only web speaks HTTP with Echo",
		"github.com/jmoiron/sqlx":      "only store speaks SQL",
		"github.com/lib/pq":            "only store knows the drivers",
		"modernc.org/sqlite":           "only store knows the drivers",
		"database/sql":                 "only store speaks SQL",
		"github.com/qrpay/qrpay/store": "the domain defines interfaces; store implements them",
		"github.com/qrpay/qrpay/web":   "the domain knows nothing of HTTP handlers",
		"github.com/riverqueue/river":  "jobs are plain values; store runs them on River",
		"github.com/jackc/pgx/v5":      "only store knows the drivers",
	}
	all, err := exec.Command("go", "list", "github.com/qrpay/qrpay/...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	var domain []string
	for _, pkg := range strings.Fields(string(all)) {
		rel := strings.TrimPrefix(pkg, "github.com/qrpay/qrpay")
		for _, d := range []string{"", "/merchant", "/gateway", "/qr", "/settlement"} {
			if rel == d || (d != "" && strings.HasPrefix(rel, d+"/") && !strings.HasSuffix(rel, "fake")) {
				domain = append(domain, pkg)
				break
			}
		}
	}
	if len(domain) < 5 {
		t.Fatalf("found only %v", domain)
	}
	for _, pkg := range domain {
		out, err := exec.Command("go", "list", "-deps", "-json=ImportPath", pkg).Output()
		if err != nil {
			t.Fatalf("go list %s: %v", pkg, err)
		}
		dec := json.NewDecoder(strings.NewReader(string(out)))
		for dec.More() {
			var p struct{ ImportPath string }
			if err := dec.Decode(&p); err != nil {
				t.Fatal(err)
			}
			for bad, why := range banned {
				if p.ImportPath == bad || strings.HasPrefix(p.ImportPath, bad+"/") {
					t.Errorf("%s depends on %s: %s", pkg, p.ImportPath, why)
				}
			}
		}
	}
}
