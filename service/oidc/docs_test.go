package oidc

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// TestEveryRefusalIsDocumented: each message a caller can get from the
// authentication layer (this package's refusals, the bearer-token mode's)
// is a row of docs/auth.md's table of mistakes. A message made with
// fmt.Sprintf matches a row that holds its literal parts in order.
func TestEveryRefusalIsDocumented(t *testing.T) {
	t.Parallel()
	doc, err := os.ReadFile("../../docs/auth.md")
	if err != nil {
		t.Fatal(err)
	}
	_, table, ok := strings.Cut(string(doc), "## What each mistake produces")
	if !ok {
		t.Fatal("docs/auth.md has no section \"What each mistake produces\"")
	}
	var rows []string
	for _, line := range strings.Split(table, "\n") {
		if strings.HasPrefix(line, "| ") {
			rows = append(rows, line)
		}
	}
	files, _ := filepath.Glob("*.go")
	files = append(files, "../authn/authn.go")
	var formats []string
	fset := token.NewFileSet()
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(f, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok {
				return true
			}
			switch callee(call) {
			case "refuse":
				formats = append(formats, message(t, call.Args[1]))
			case "errors.New":
				if strings.HasSuffix(name, "authn.go") {
					formats = append(formats, message(t, call.Args[0]))
				}
			}
			return true
		})
	}
	if len(formats) < 20 {
		t.Fatalf("found only %d messages: %q", len(formats), formats)
	}
	verb := regexp.MustCompile(`%[sdqv]`)
	for _, format := range formats {
		parts := verb.Split(format, -1)
		found := false
		for _, row := range rows {
			rest, all := row, true
			for _, p := range parts {
				i := strings.Index(rest, p)
				if i < 0 {
					all = false
					break
				}
				rest = rest[i+len(p):]
			}
			if all {
				found = true
				break
			}
		}
		if !found {
			t.Errorf("docs/auth.md's table of mistakes lacks %q", format)
		}
	}
}

func callee(call *ast.CallExpr) string {
	switch f := call.Fun.(type) {
	case *ast.Ident:
		return f.Name
	case *ast.SelectorExpr:
		if x, ok := f.X.(*ast.Ident); ok {
			return x.Name + "." + f.Sel.Name
		}
	}
	return ""
}

// message is the string literal e, or the format of fmt.Sprintf(literal, …).
func message(t *testing.T, e ast.Expr) string {
	t.Helper()
	if call, ok := e.(*ast.CallExpr); ok && callee(call) == "fmt.Sprintf" {
		e = call.Args[0]
	}
	lit, ok := e.(*ast.BasicLit)
	if !ok || lit.Kind != token.STRING {
		t.Fatalf("a refusal whose message is not a literal: %T", e)
	}
	s, err := strconv.Unquote(lit.Value)
	if err != nil {
		t.Fatal(err)
	}
	return s
}
