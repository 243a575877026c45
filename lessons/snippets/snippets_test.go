package snippets_test

import (
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"testing/fstest"

	"cacheworkshop/lessons/snippets"
)

// repoRoot is where the go.txt paths start: this package is lessons/snippets.
const repoRoot = "../.."

func panels(t *testing.T) map[string]*snippets.Panel {
	t.Helper()
	all, err := snippets.All()
	if err != nil {
		t.Fatal(err)
	}
	if len(all) == 0 {
		t.Fatal("no snippet directories are embedded")
	}
	return all
}

// TestEmbeddedMatchesDisk: the embedded data is every directory on disk
// (a pattern that missed a file would drop it silently).
func TestEmbeddedMatchesDisk(t *testing.T) {
	all := panels(t)
	disk, err := snippets.Load(os.DirFS("."))
	if err != nil {
		t.Fatal(err)
	}
	if len(disk) != len(all) {
		t.Errorf("got %d embedded panels, %d directories on disk", len(all), len(disk))
	}
	for name, d := range disk {
		e := all[name]
		if e == nil || e.Digest != d.Digest {
			t.Errorf("%s: the embedded copy differs from the files on disk", name)
		}
	}
}

// TestPythonCompiles byte-compiles every Flask and Django snippet with
// python3 -m py_compile (a syntax check: the names they use are assumed).
func TestPythonCompiles(t *testing.T) {
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("SKIPPED python: python3 is not installed, so the Flask and Django snippets were not compiled")
	}
	var files []string
	for name := range panels(t) {
		files = append(files, filepath.Join(name, snippets.FlaskFile), filepath.Join(name, snippets.DjangoFile))
	}
	slices.Sort(files)
	// One run for every file (each python3 start costs a good part of a
	// second here); py_compile names the file of any error. The compiled
	// files go to a temporary directory, not next to the sources.
	cmd := exec.Command(py, append([]string{"-m", "py_compile"}, files...)...)
	cmd.Env = append(os.Environ(), "PYTHONPYCACHEPREFIX="+t.TempDir())
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("python3 -m py_compile of %d snippets: %v\n%s", len(files), err, out)
	}
}

// TestPyCompileCatchesErrors: the compile check fails on a broken file, so
// TestPythonCompiles can fail.
func TestPyCompileCatchesErrors(t *testing.T) {
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("SKIPPED python: python3 is not installed")
	}
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.py")
	if err := os.WriteFile(bad, []byte("@cache.cached(timeout=60\ndef view():\n    return 1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(py, "-m", "py_compile", bad)
	cmd.Env = append(os.Environ(), "PYTHONPYCACHEPREFIX="+dir)
	if out, err := cmd.CombinedOutput(); err == nil {
		t.Errorf("py_compile accepted a syntax error:\n%s", out)
	}
}

// TestDjangoTemplatesBalanced checks the block tags of every Django
// template snippet.
func TestDjangoTemplatesBalanced(t *testing.T) {
	n := 0
	for name, p := range panels(t) {
		if p.DjangoTemplate == "" {
			continue
		}
		n++
		if err := checkDjangoTags(p.DjangoTemplate); err != nil {
			t.Errorf("%s/%s: %v", name, snippets.DjangoTemplateFile, err)
		}
	}
	if n == 0 {
		t.Error("no Django template snippet was checked")
	}
}

// TestCheckDjangoTags: the checker accepts balanced templates and names
// the fault of unbalanced ones.
func TestCheckDjangoTags(t *testing.T) {
	tests := []struct {
		name, src, want string // want: a part of the error, "" for none
	}{
		{"nested", "{% load cache %}{% cache 60 t %}{% for p in ps %}{% if p %}x{% else %}y{% endif %}{% empty %}z{% endfor %}{% endcache %}", ""},
		{"comment mentions a tag", "{# a {% cache %} tag #}{% with a=b %}{{ a }}{% endwith %}", ""},
		{"block and verbatim", "{% block main %}{% verbatim %}{% if %}{% endverbatim %}{% endblock main %}", ""},
		{"unclosed cache", "{% cache 60 t %}x", "{% cache %} is never closed"},
		{"wrong end", "{% if a %}{% for b in c %}{% endif %}{% endfor %}", "{% endif %} closes {% for %}"},
		{"end without start", "x{% endcache %}", "{% endcache %} closes nothing"},
		{"else outside", "{% else %}", "{% else %} outside"},
		{"empty in if", "{% if a %}{% empty %}{% endif %}", "{% empty %} outside"},
		{"unterminated tag", "{% if a %}x{% endif", "not closed with %}"},
		{"unterminated variable", "{{ p.name }", "not closed with }}"},
		{"empty tag", "{%  %}", "an empty tag"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := checkDjangoTags(tt.src)
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("got %v, want no error", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Errorf("got %v, want an error containing %q", err, tt.want)
			}
		})
	}
}

// djangoBlocks are the Django tags that take an end tag, with the tags
// allowed between the two.
var djangoBlocks = map[string][]string{
	"autoescape": nil, "block": nil, "blocktrans": {"plural"}, "blocktranslate": {"plural"},
	"cache": nil, "comment": nil, "filter": nil, "for": {"empty"}, "if": {"elif", "else"},
	"ifchanged": {"else"}, "localize": nil, "localtime": nil, "spaceless": nil, "timezone": nil,
	"verbatim": nil, "with": nil,
}

var djangoToken = regexp.MustCompile(`\{[%{#]`)

// checkDjangoTags checks that every block tag is closed by its own end tag,
// in order, and that else, elif, empty and plural appear only inside the
// blocks they belong to. Other tags ({% load %}, {% url %}, ...) stand
// alone. Text inside {% verbatim %} and {% comment %} is not read.
func checkDjangoTags(src string) error {
	var stack []string
	for len(src) > 0 {
		loc := djangoToken.FindStringIndex(src)
		if loc == nil {
			break
		}
		open := src[loc[0]:loc[1]]
		closer := map[string]string{"{%": "%}", "{{": "}}", "{#": "#}"}[open]
		rest := src[loc[1]:]
		end := strings.Index(rest, closer)
		if open == "{#" && (end < 0 || strings.Contains(rest[:end], "\n")) {
			// Django's {# #} comments are one line; anything else is text.
			src = rest
			continue
		}
		if end < 0 {
			return fmt.Errorf("%s%s is not closed with %s", open, clip(rest), closer)
		}
		body := strings.TrimSpace(rest[:end])
		src = rest[end+len(closer):]
		if open != "{%" {
			continue
		}
		f := strings.Fields(body)
		if len(f) == 0 {
			return errors.New("{% %} is an empty tag")
		}
		tag := f[0]
		if n := len(stack); n > 0 && (stack[n-1] == "verbatim" || stack[n-1] == "comment") && tag != "end"+stack[n-1] {
			continue
		}
		if _, ok := djangoBlocks[tag]; ok {
			stack = append(stack, tag)
			continue
		}
		if name, ok := strings.CutPrefix(tag, "end"); ok {
			if _, known := djangoBlocks[name]; known {
				if len(stack) == 0 {
					return fmt.Errorf("{%% %s %%} closes nothing", tag)
				}
				if top := stack[len(stack)-1]; top != name {
					return fmt.Errorf("{%% %s %%} closes {%% %s %%}", tag, top)
				}
				stack = stack[:len(stack)-1]
				continue
			}
		}
		if innerTag(tag) && (len(stack) == 0 || !slices.Contains(djangoBlocks[stack[len(stack)-1]], tag)) {
			return fmt.Errorf("{%% %s %%} outside a block it belongs to", tag)
		}
	}
	if len(stack) > 0 {
		return fmt.Errorf("{%% %s %%} is never closed", stack[len(stack)-1])
	}
	return nil
}

// innerTag reports whether tag belongs inside a block (else, elif, empty,
// plural).
func innerTag(tag string) bool {
	for _, inner := range djangoBlocks {
		if slices.Contains(inner, tag) {
			return true
		}
	}
	return false
}

func clip(s string) string {
	if len(s) > 30 {
		return s[:30] + "…"
	}
	return s
}

// TestGoFunctionsExist parses each file go.txt names and looks for the
// function, or the method on the named type.
func TestGoFunctionsExist(t *testing.T) {
	parsed := map[string]*ast.File{}
	for name, p := range panels(t) {
		for _, ref := range p.Go {
			f := parsed[ref.File]
			if f == nil {
				var err error
				f, err = parser.ParseFile(token.NewFileSet(), filepath.Join(repoRoot, ref.File), nil, parser.SkipObjectResolution)
				if err != nil {
					t.Errorf("%s/%s: %s: %v", name, snippets.GoFile, ref.File, err)
					continue
				}
				parsed[ref.File] = f
			}
			if !declares(f, ref.Func) {
				t.Errorf("%s/%s: %s does not declare %s", name, snippets.GoFile, ref.File, ref.Func)
			}
		}
	}
}

// declares reports whether f declares fn: "Name" for a function, or
// "Type.Name" for a method on Type or *Type.
func declares(f *ast.File, fn string) bool {
	recv, name, isMethod := strings.Cut(fn, ".")
	if !isMethod {
		recv, name = "", fn
	}
	for _, d := range f.Decls {
		if gd, ok := d.(*ast.GenDecl); ok && !isMethod && gd.Tok == token.VAR {
			// A package-level function value (var f = func() ...) counts.
			for _, sp := range gd.Specs {
				for _, n := range sp.(*ast.ValueSpec).Names {
					if n.Name == name {
						return true
					}
				}
			}
		}
		fd, ok := d.(*ast.FuncDecl)
		if !ok || fd.Name.Name != name {
			continue
		}
		if fd.Recv == nil || len(fd.Recv.List) == 0 {
			if recv == "" {
				return true
			}
			continue
		}
		if recv != "" && receiverType(fd.Recv.List[0].Type) == recv {
			return true
		}
	}
	return false
}

// receiverType is the type name of a receiver: T, *T, T[P] or *T[P].
func receiverType(e ast.Expr) string {
	for {
		switch x := e.(type) {
		case *ast.StarExpr:
			e = x.X
		case *ast.IndexExpr:
			e = x.X
		case *ast.IndexListExpr:
			e = x.X
		case *ast.Ident:
			return x.Name
		default:
			return ""
		}
	}
}

// TestDeclares: the lookup finds functions and methods, and only them.
func TestDeclares(t *testing.T) {
	src := "package p\nfunc Free() {}\ntype T struct{}\nfunc (t *T) Ptr() {}\nfunc (T) Val() {}\ntype G[K any] struct{}\nfunc (g *G[K]) Gen() {}\n"
	f, err := parser.ParseFile(token.NewFileSet(), "p.go", src, 0)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		fn   string
		want bool
	}{
		{"Free", true}, {"T.Ptr", true}, {"T.Val", true}, {"G.Gen", true},
		{"Ptr", false}, {"T.Free", false}, {"U.Ptr", false}, {"Missing", false},
	}
	for _, tt := range tests {
		if got := declares(f, tt.fn); got != tt.want {
			t.Errorf("declares(%q): got %v, want %v", tt.fn, got, tt.want)
		}
	}
}

// TestLoadRejects: a page directory that does not follow the format is an
// error naming the file, rather than a panel that silently shows less.
func TestLoadRejects(t *testing.T) {
	good := func() fstest.MapFS {
		return fstest.MapFS{
			"list/flask.py":  {Data: []byte("x = 1\n")},
			"list/django.py": {Data: []byte("y = 2\n")},
			"list/go.txt":    {Data: []byte("# comment\n\nEngine.Fetch cache/page/page.go — serves it\n")},
		}
	}
	all, err := snippets.Load(good())
	if err != nil {
		t.Fatalf("a valid directory: %v", err)
	}
	if g := all["list"].Go; len(g) != 1 || g[0] != (snippets.GoRef{Func: "Engine.Fetch", File: "cache/page/page.go", Why: "serves it"}) {
		t.Errorf("go.txt: got %+v", g)
	}
	tests := []struct {
		name, file, data, want string // data "" removes the file
	}{
		{"no flask", "list/flask.py", "", "list/flask.py is missing"},
		{"no django", "list/django.py", "", "list/django.py is missing"},
		{"no go", "list/go.txt", "", "list/go.txt is missing"},
		{"unknown file", "list/Flask.py", "x", "list/Flask.py: unknown file"},
		{"no dash", "list/go.txt", "Engine.Fetch cache/page/page.go serves it\n", "line 1: no explanation"},
		{"hyphen for dash", "list/go.txt", "Engine.Fetch cache/page/page.go - serves it\n", "line 1: no explanation"},
		{"empty explanation", "list/go.txt", "Engine.Fetch cache/page/page.go — \n", "line 1: no explanation"},
		{"no file", "list/go.txt", "Engine.Fetch — serves it\n", "one function name and one file"},
		{"bad name", "list/go.txt", "(*Engine).Fetch cache/page/page.go — serves it\n", "is not a function name"},
		{"not go", "list/go.txt", "Engine.Fetch cache/page/page.py — serves it\n", "is not a .go file"},
		{"outside the repository", "list/go.txt", "Engine.Fetch ../page.go — serves it\n", "is not a .go file"},
		{"only comments", "list/go.txt", "# nothing\n", "names no function"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fsys := good()
			if tt.data == "" {
				delete(fsys, tt.file)
			} else {
				fsys[tt.file] = &fstest.MapFile{Data: []byte(tt.data)}
			}
			_, err := snippets.Load(fsys)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got %v, want an error containing %q", err, tt.want)
			}
		})
	}
}

// TestDigest: the digest changes with any file of the panel.
func TestDigest(t *testing.T) {
	fsys := fstest.MapFS{
		"p/flask.py":    {Data: []byte("x = 1")},
		"p/django.py":   {Data: []byte("y = 2")},
		"p/django.html": {Data: []byte("{% if a %}<i>{% endif %}")},
		"p/go.txt":      {Data: []byte("F a/b.go — c")},
	}
	a, err := snippets.Load(fsys)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"p/flask.py", "p/django.py", "p/django.html", "p/go.txt"} {
		changed := fstest.MapFS{}
		for k, v := range fsys {
			changed[k] = v
		}
		changed[f] = &fstest.MapFile{Data: append(slices.Clone(fsys[f].Data), " more"...)}
		b, err := snippets.Load(changed)
		if err != nil {
			t.Fatal(err)
		}
		if b["p"].Digest == a["p"].Digest {
			t.Errorf("the digest did not change with %s", f)
		}
	}
}
