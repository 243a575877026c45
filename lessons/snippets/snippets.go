// Package snippets holds the "The same in Flask / in Django" panel of each
// lesson page: how the page's caching would be written in the Python
// frameworks learners usually know, next to the Go functions of this
// repository that do it here.
//
// The data is one directory per page, named by the page's template name
// (page.Request.Page, the file name in templates/ without .html):
//
//	lessons/snippets/<page>/flask.py     Flask (Flask-Caching, redis-py)
//	lessons/snippets/<page>/django.py    Django views and settings
//	lessons/snippets/<page>/django.html  optional: a Django template
//	lessons/snippets/<page>/go.txt       the Go side, one function a line:
//	                                     FuncName path/to/file.go — why
//
// FuncName is a function (Normalize) or a method with its receiver's type
// (Engine.Fetch); the path is relative to the repository root. Lines that
// are empty or start with # are skipped. The layout shows the panel of the
// page being rendered when its directory exists; the tests compile every
// Python file, check the Django templates' block tags and look every Go
// function up in its file.
package snippets

import (
	"bufio"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"go/token"
	"io/fs"
	"path"
	"sort"
	"strings"
	"sync"
)

//go:embed */*.py */*.html */*.txt
var files embed.FS

// File names inside a page's directory.
const (
	FlaskFile          = "flask.py"
	DjangoFile         = "django.py"
	DjangoTemplateFile = "django.html"
	GoFile             = "go.txt"
)

// Panel is one page's snippets.
type Panel struct {
	// Page is the template name the directory is named after.
	Page string
	// Flask, Django and DjangoTemplate are the files' text, as written
	// (DjangoTemplate may be empty).
	Flask, Django, DjangoTemplate string
	// Go names the functions of this repository that do the same.
	Go []GoRef
	// Digest is a short digest of every file of the panel: it joins the
	// page's cache keys, so that a page cached with an older snippet is
	// never served after the snippet changed.
	Digest string
}

// GoRef is one line of go.txt.
type GoRef struct {
	// Func is a function name, or Type.Method for a method.
	Func string
	// File is the Go file that declares it, from the repository root.
	File string
	// Why says in one line what it does for the page.
	Why string
}

// Load reads every page directory of fsys. A directory without flask.py,
// django.py or go.txt, an unknown file, or a go.txt line that does not
// follow the format is an error naming the file.
func Load(fsys fs.FS) (map[string]*Panel, error) {
	dirs, err := fs.ReadDir(fsys, ".")
	if err != nil {
		return nil, err
	}
	out := map[string]*Panel{}
	for _, d := range dirs {
		if !d.IsDir() {
			continue
		}
		p, err := loadPanel(fsys, d.Name())
		if err != nil {
			return nil, err
		}
		out[p.Page] = p
	}
	return out, nil
}

func loadPanel(fsys fs.FS, dir string) (*Panel, error) {
	entries, err := fs.ReadDir(fsys, dir)
	if err != nil {
		return nil, err
	}
	texts := map[string]string{}
	for _, e := range entries {
		switch e.Name() {
		case FlaskFile, DjangoFile, DjangoTemplateFile, GoFile:
		default:
			return nil, fmt.Errorf("snippets: %s/%s: unknown file; a page has %s, %s, %s (optional) and %s",
				dir, e.Name(), FlaskFile, DjangoFile, DjangoTemplateFile, GoFile)
		}
		b, err := fs.ReadFile(fsys, path.Join(dir, e.Name()))
		if err != nil {
			return nil, err
		}
		texts[e.Name()] = strings.TrimRight(string(b), "\n")
	}
	for _, name := range []string{FlaskFile, DjangoFile, GoFile} {
		if strings.TrimSpace(texts[name]) == "" {
			return nil, fmt.Errorf("snippets: %s/%s is missing or empty", dir, name)
		}
	}
	p := &Panel{Page: dir, Flask: texts[FlaskFile], Django: texts[DjangoFile], DjangoTemplate: texts[DjangoTemplateFile]}
	if p.Go, err = parseGo(dir, texts[GoFile]); err != nil {
		return nil, err
	}
	h := sha256.New()
	names := make([]string, 0, len(texts))
	for n := range texts {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(h, "%s\x00%d\x00%s", n, len(texts[n]), texts[n])
	}
	p.Digest = hex.EncodeToString(h.Sum(nil)[:4])
	return p, nil
}

// sep separates a go.txt line's function and file from its explanation.
const sep = " — "

// parseGo reads go.txt: "FuncName path/to/file.go — explanation" a line.
func parseGo(dir, text string) ([]GoRef, error) {
	var refs []GoRef
	sc := bufio.NewScanner(strings.NewReader(text))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		bad := func(why string) error {
			return fmt.Errorf("snippets: %s/%s line %d: %s; write \"FuncName path/to/file.go%sone-line explanation\"",
				dir, GoFile, n, why, sep)
		}
		head, why, ok := strings.Cut(line, sep)
		if !ok || strings.TrimSpace(why) == "" {
			return nil, bad("no explanation after" + sep)
		}
		f := strings.Fields(head)
		if len(f) != 2 {
			return nil, bad("give one function name and one file before the explanation")
		}
		if !validFunc(f[0]) {
			return nil, bad(fmt.Sprintf("%q is not a function name or Type.Method", f[0]))
		}
		if !strings.HasSuffix(f[1], ".go") || path.IsAbs(f[1]) || path.Clean(f[1]) != f[1] || strings.HasPrefix(f[1], "../") {
			return nil, bad(fmt.Sprintf("%q is not a .go file path from the repository root", f[1]))
		}
		refs = append(refs, GoRef{Func: f[0], File: f[1], Why: strings.TrimSpace(why)})
	}
	if len(refs) == 0 {
		return nil, fmt.Errorf("snippets: %s/%s names no function", dir, GoFile)
	}
	return refs, sc.Err()
}

// validFunc accepts Name and Type.Name, both Go identifiers.
func validFunc(s string) bool {
	recv, name, isMethod := strings.Cut(s, ".")
	if !isMethod {
		return token.IsIdentifier(s)
	}
	return token.IsIdentifier(recv) && token.IsIdentifier(name)
}

var embedded = sync.OnceValues(func() (map[string]*Panel, error) { return Load(files) })

// All returns the panels embedded in the binary, by page name, parsed once.
func All() (map[string]*Panel, error) { return embedded() }
