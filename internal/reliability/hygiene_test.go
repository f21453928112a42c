package reliability

import (
	"go/ast"
	"go/build/constraint"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
)

// provisioners are programs a plain `go test ./...` must never run: they
// install packages or start system services. Make targets provision.
var provisioners = map[string]bool{
	"apt": true, "apt-get": true, "dpkg": true, "snap": true, "systemctl": true, "service": true,
	"rabbitmq-server": true, "rabbitmqctl": true, "rabbitmq-plugins": true, "sudo": true,
	"pip": true, "pip3": true, "npm": true, "nuget": true, "mono": true,
}

// TestGoTestProvisionsNothing reads every test file that plain `go test`
// builds (no build constraint) and fails on an exec of a provisioner named
// by a string literal. Tests that need a broker or a tool are gated behind
// a build tag and run by a make target that provisions it (make
// test-rabbitmq), and name what they run from the environment.
func TestGoTestProvisionsNothing(t *testing.T) {
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	checked := 0
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			switch d.Name() {
			case ".git", "build", "node_modules", "testdata":
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, "_test.go") {
			return nil
		}
		fset := token.NewFileSet()
		f, err := parser.ParseFile(fset, path, nil, parser.ParseComments)
		if err != nil {
			return err
		}
		if gated(f) {
			return nil
		}
		checked++
		ast.Inspect(f, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok {
				return true
			}
			sel, ok := call.Fun.(*ast.SelectorExpr)
			if !ok || (sel.Sel.Name != "Command" && sel.Sel.Name != "CommandContext") {
				return true
			}
			if id, ok := sel.X.(*ast.Ident); !ok || id.Name != "exec" {
				return true
			}
			arg := 0
			if sel.Sel.Name == "CommandContext" {
				arg = 1
			}
			if len(call.Args) <= arg {
				return true
			}
			if lit, ok := call.Args[arg].(*ast.BasicLit); ok && lit.Kind == token.STRING {
				name, _ := strconv.Unquote(lit.Value)
				if provisioners[filepath.Base(name)] {
					rel, _ := filepath.Rel(root, path)
					t.Errorf("%s:%d: go test runs %q; provision in a make target and gate the test behind a build tag",
						rel, fset.Position(call.Pos()).Line, name)
				}
			}
			return true
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if checked < 50 {
		t.Fatalf("only %d test files read below %s: is the walk looking at the module?", checked, root)
	}
}

// gated reports a file whose build constraint plain go test on this
// machine does not satisfy (it needs a tag such as rabbitmq or soak).
func gated(f *ast.File) bool {
	for _, cg := range f.Comments {
		if cg.Pos() > f.Package {
			break
		}
		for _, c := range cg.List {
			if !constraint.IsGoBuild(c.Text) {
				continue
			}
			expr, err := constraint.Parse(c.Text)
			if err != nil {
				return false
			}
			return !expr.Eval(func(tag string) bool {
				return tag == runtime.GOOS || tag == runtime.GOARCH || tag == "cgo" || tag == "gc" ||
					(tag == "unix" && runtime.GOOS != "windows") || strings.HasPrefix(tag, "go1.")
			})
		}
	}
	return false
}
