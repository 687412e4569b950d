package layers_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// Only the catalog talks to the store for what it describes: restore,
// shipper, schedule, receive and resident do not import store (nor any backend) at all, and
// cmd opens a store through store/backends and uses package store for its
// error values only. Test files may do more (they build damaged stores).
func TestOnlyCatalogTalksToTheStore(t *testing.T) {
	out, err := exec.Command("go", "list", "-f", `{{.ImportPath}}|{{.Dir}}|{{join .GoFiles ","}}|{{join .Imports ","}}`, module+"...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	checked := map[string]bool{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Split(line, "|")
		if len(f) != 4 {
			t.Fatalf("go list printed %q", line)
		}
		pkg, dir := strings.TrimPrefix(f[0], module), f[1]
		top := strings.SplitN(pkg, "/", 2)[0]
		imports := strings.Split(f[3], ",")
		switch top {
		case "restore", "shipper", "schedule", "receive", "resident":
			checked[top] = true
			for _, imp := range imports {
				if d, ok := strings.CutPrefix(imp, module); ok && (d == "store" || strings.HasPrefix(d, "store/")) {
					t.Errorf("%s imports %s: only catalog talks to the store; add a catalog method instead", pkg, d)
				}
			}
		case "cmd":
			checked[top] = true
			for _, imp := range imports {
				if d, ok := strings.CutPrefix(imp, module); ok && strings.HasPrefix(d, "store/") && d != "store/backends" {
					t.Errorf("%s imports %s: cmd opens stores through store/backends only", pkg, d)
				}
			}
			for _, file := range strings.Split(f[2], ",") {
				checkStoreErrorsOnly(t, filepath.Join(dir, file))
			}
		}
	}
	for _, want := range []string{"restore", "shipper", "cmd"} {
		if !checked[want] {
			t.Fatalf("package %s not found; is go list working?", want)
		}
	}
}

// checkStoreErrorsOnly fails for every use of package store in the file
// other than one of its error values (store.ErrSomething).
func checkStoreErrorsOnly(t *testing.T, path string) {
	t.Helper()
	fset := token.NewFileSet()
	file, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
	if err != nil {
		t.Fatalf("parse %s: %v", path, err)
	}
	local := ""
	for _, imp := range file.Imports {
		if p, _ := strconv.Unquote(imp.Path.Value); p == module+"store" {
			local = "store"
			if imp.Name != nil {
				local = imp.Name.Name
			}
		}
	}
	if local == "" {
		return
	}
	if local == "_" || local == "." {
		t.Errorf("%s imports store as %s: use store.ErrSomething, nothing else", path, local)
		return
	}
	ast.Inspect(file, func(n ast.Node) bool {
		sel, ok := n.(*ast.SelectorExpr)
		if !ok {
			return true
		}
		if id, ok := sel.X.(*ast.Ident); ok && id.Name == local && !strings.HasPrefix(sel.Sel.Name, "Err") {
			t.Errorf("%s: %s.%s: cmd may use package store for its error values only; the catalog talks to the store",
				fset.Position(sel.Pos()), local, sel.Sel.Name)
		}
		return true
	})
}
