package hostile

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// secretName matches the names of values that must be compared in constant
// time (R-LOGIN-10): state, CSRF tokens, nonces, DPoP token hashes and key
// thumbprints, secrets, passwords, codes, verifiers and tokens.
var secretName = regexp.MustCompile(`(?i)^(state|csrf\w*|\w*secret|nonce|ath|jkt|password|code|verifier|\w*token)$`)

// comparedName returns the name of what an operand of == or != holds: a
// variable, a field, or a conversion of one to string or []byte; "" for
// anything else (a call such as len(x) compares a length, not a secret; a
// constant of the package, such as kindSecret, is no secret either).
func comparedName(e ast.Expr, consts map[string]bool) string {
	switch x := e.(type) {
	case *ast.ParenExpr:
		return comparedName(x.X, consts)
	case *ast.Ident:
		if ast.IsExported(x.Name) || consts[x.Name] {
			return "" // a constant or sentinel of the package, not a value
		}
		return x.Name
	case *ast.SelectorExpr:
		return x.Sel.Name
	case *ast.IndexExpr:
		return comparedName(x.X, consts)
	case *ast.CallExpr:
		if len(x.Args) != 1 {
			return ""
		}
		switch f := x.Fun.(type) {
		case *ast.Ident:
			if f.Name == "string" {
				return comparedName(x.Args[0], consts)
			}
		case *ast.ArrayType:
			if id, ok := f.Elt.(*ast.Ident); ok && f.Len == nil && id.Name == "byte" {
				return comparedName(x.Args[0], consts)
			}
		}
	}
	return ""
}

// isLiteral reports whether e is a literal or nil: comparing a secret with
// "" asks whether it is set, which leaks nothing.
func isLiteral(e ast.Expr) bool {
	switch x := e.(type) {
	case *ast.BasicLit:
		return true
	case *ast.Ident:
		return x.Name == "nil" || x.Name == "true" || x.Name == "false"
	}
	return false
}

// constNames returns the names of the constants files declare.
func constNames(files []*ast.File) map[string]bool {
	consts := map[string]bool{}
	for _, f := range files {
		for _, d := range f.Decls {
			if gd, ok := d.(*ast.GenDecl); ok && gd.Tok == token.CONST {
				for _, spec := range gd.Specs {
					for _, n := range spec.(*ast.ValueSpec).Names {
						consts[n.Name] = true
					}
				}
			}
		}
	}
	return consts
}

// variableTimeCompares returns "file:line: a == b" for every == or != in
// f between two values at least one of which is named like a secret; consts
// are the constants of f's package.
func variableTimeCompares(fset *token.FileSet, f *ast.File, consts map[string]bool) []string {
	var found []string
	ast.Inspect(f, func(n ast.Node) bool {
		b, ok := n.(*ast.BinaryExpr)
		if !ok || (b.Op != token.EQL && b.Op != token.NEQ) || isLiteral(b.X) || isLiteral(b.Y) {
			return true
		}
		x, y := comparedName(b.X, consts), comparedName(b.Y, consts)
		if secretName.MatchString(x) || secretName.MatchString(y) {
			found = append(found, fset.Position(b.Pos()).String()+": "+x+" "+b.Op.String()+" "+y)
		}
		return true
	})
	return found
}

// TestSecretsComparedInConstantTime holds R-LOGIN-10: no code of the root
// module (tests, testdata and the nested bench and interop modules aside)
// compares a value named like a secret with == or !=; such comparisons go
// through crypto/subtle.
func TestSecretsComparedInConstantTime(t *testing.T) {
	fset := token.NewFileSet()
	byDir := map[string][]*ast.File{}
	files := 0
	err := filepath.WalkDir(repoRoot, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if path == repoRoot {
				return nil
			}
			if _, err := os.Stat(filepath.Join(path, "go.mod")); err == nil || d.Name() == "testdata" || strings.HasPrefix(d.Name(), ".") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		files++
		byDir[filepath.Dir(path)] = append(byDir[filepath.Dir(path)], f)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, pkg := range byDir {
		consts := constNames(pkg)
		for _, f := range pkg {
			for _, c := range variableTimeCompares(fset, f, consts) {
				t.Errorf("%s: compare with crypto/subtle (R-LOGIN-10)", c)
			}
		}
	}
	if files < 20 {
		t.Fatalf("looked at %d Go files, want the whole module", files)
	}
}

// TestVariableTimeComparesFound checks the finder itself on code that
// compares secrets both ways.
func TestVariableTimeComparesFound(t *testing.T) {
	const src = `package p

import "crypto/subtle"

func f(p struct{ State, CSRFToken string }, state, clientSecret, kind string, b []byte) bool {
	_ = len(state) == 32                // a length: fine
	_ = p.State == ""                   // set or not: fine
	_ = subtle.ConstantTimeCompare([]byte(p.State), []byte(state)) == 1
	_ = p.State == state                // found
	_ = string(b) != clientSecret       // found
	_ = (p.CSRFToken) == string(b)      // found
	_ = kind == kindSecret              // a constant: fine
	return false
}

const kindSecret = "secret"
`
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, "p.go", src, 0)
	if err != nil {
		t.Fatal(err)
	}
	got := variableTimeCompares(fset, f, constNames([]*ast.File{f}))
	want := []string{"p.go:9:6: State == state", "p.go:10:6: b != clientSecret", "p.go:11:6: CSRFToken == b"}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
