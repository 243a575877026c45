// Package account is the lesson on per-user data in a shared cache
// (GET /account): a tiny "signed-in" demo, where a name typed into a form
// is kept in a cookie (no passwords) and the page greets its visitor.
//
// The lesson's switch caches that page in one of three ways:
//
//   - shared, WRONG on purpose: under one key for everyone, while the
//     build reads the visitor's name. The first visitor's greeting is
//     stored and served to the next visitor in any other browser, which is
//     what @cache.cached on a view that reads the session does in Flask,
//     or @cache_page without vary_on_cookie in Django;
//   - per-user: the name joins the key, so each visitor has an entry of
//     their own (Flask's key_prefix from the user, Django's
//     vary_on_cookie);
//   - spliced: one entry for everyone that holds no greeting at all; the
//     greeting is written into the page's slot on every request, as the
//     workshop's own request bar is.
//
// The wrong variant is confined to this lesson: its key holds the page
// name "account" and variant=shared, which no other page and no right
// variant uses (and a round number, so each time the switch is moved to
// it starts from an empty entry); its entries live two minutes; and the page says loudly
// what it is. Every response carries Cache-Control: private, no-store and
// Vary: Cookie, so no shared HTTP cache in front of the server could
// repeat the mistake. No other page of the workshop reads the cookie.
package account

import (
	"bytes"
	"context"
	"errors"
	"html"
	"net/http"
	"net/url"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/go-chi/chi/v5"

	"cacheworkshop/cache"
	"cacheworkshop/cache/page"
	"cacheworkshop/handlers"
)

// Variant is how the lesson caches the account page.
type Variant string

// The three variants of the switch.
const (
	Shared  Variant = "shared"
	PerUser Variant = "per-user"
	Spliced Variant = "spliced"
)

// variantInfo describes a variant on the switch.
type variantInfo struct {
	Value   Variant
	Title   string
	Explain string
	Wrong   bool
}

// variants are the switch's choices, in the order it shows them.
var variants = []variantInfo{
	{Shared, "Wrong: one key for everyone", "The key is the URL; the build reads the visitor's cookie. Whoever misses first decides what everyone else is greeted with.", true},
	{PerUser, "Right: a key per user", "The visitor's name joins the key (…?user=Alice), so every visitor has an entry of their own: one entry per user, each built once.", false},
	{Spliced, "Right: one shared page, greeting spliced in", "One entry for everyone with no greeting inside; the greeting is written into the page's slot on every request, like the request bar.", false},
}

// entryTTL is how long the account pages are kept: short, so that a
// greeting stored by the wrong variant does not linger.
const entryTTL = 2 * time.Minute

// The caching headers of every account page: the response carries one
// visitor's name, so no shared cache may store it (private), and it is
// built afresh with this request's bar anyway (no-store). Vary: Cookie
// tells any cache that does keep it that the cookie changes the response.
const (
	cacheControl = "private, no-store"
	vary         = "Cookie"
)

// Lesson serves /account and its forms.
type Lesson struct {
	kit *handlers.Kit
	// variant is the switch's position: this lesson's state, in this
	// process, read by this lesson's page only.
	variant atomic.Value // Variant
	// round counts the times the switch was moved to the wrong variant.
	// It joins that variant's key, so each time starts from an empty
	// entry: the first visitor after the switch is the one whose greeting
	// everyone gets, never a visitor from an earlier round.
	round atomic.Int64
}

// New returns the lesson with the switch on the spliced variant.
func New() *Lesson {
	l := &Lesson{}
	l.variant.Store(Spliced)
	return l
}

// Register implements handlers.Lesson. Signing in and out is open to
// anyone; the switch changes what every visitor of this server is served,
// so it needs the admin token when ADMIN_TOKEN is set, like the labs.
func (l *Lesson) Register(r chi.Router, k *handlers.Kit) {
	l.kit = k
	r.Get("/account", k.Handle(l.serve))
	r.Post("/account/sign-in", k.Handle(l.serveSignIn))
	r.Post("/account/sign-out", k.Handle(l.serveSignOut))
	r.With(k.RequireAdmin).Post("/account/variant", k.Handle(l.serveVariant))
}

// Current is the switch's position.
func (l *Lesson) Current() Variant { return l.variant.Load().(Variant) }

// pageData is what templates/account.html shows. It is part of the cached
// page, so it holds nothing of the request but what the key holds (and,
// in the wrong variant, the name the key lacks).
type pageData struct {
	Variant  Variant
	Variants []variantChoice
	Wrong    bool
	// Name is the visitor the page greets, "" for someone signed out. It
	// is always "" in the spliced variant, whose page greets nobody.
	Name    string
	Spliced bool
	// KeyURL is the canonical URL inside the page's key, and TTL how long
	// the entry is kept.
	KeyURL   string
	TTL      string
	ModeNone bool
	// CacheControl and Vary are the headers every account page carries.
	CacheControl, Vary string
	MaxName            int
	AdminToken         bool
}

// variantChoice is one choice of the switch as the form shows it.
type variantChoice struct {
	variantInfo
	Current bool
}

// serve is GET /account: the page, cached as the switch says.
func (l *Lesson) serve(w http.ResponseWriter, r *http.Request) error {
	you := visitor(r)
	v := l.Current()
	mode := l.kit.Mode(r)
	h := w.Header()
	h.Set("Cache-Control", cacheControl)
	h.Set("Vary", vary)
	var spec page.Spec
	switch v {
	case Shared:
		// The mistake, made on purpose: the key says nothing of the
		// visitor, yet the build greets the visitor of the request that
		// happened to miss. Every request that shares the key is served
		// that greeting until the entry expires.
		req := page.NewRequest("account", "/account", mode, "round", strconv.FormatInt(l.round.Load(), 10), "variant", string(Shared))
		spec = page.Spec{Request: req, TTL: entryTTL, Build: func(ctx context.Context, req page.Request) (*page.Entry, error) {
			return l.build(ctx, req, you)
		}}
	case PerUser:
		// The name is part of the key, so the build may use it: it reads
		// it from the key, as every build should read its inputs.
		req := page.NewRequest("account", "/account", mode, "user", you, "variant", string(PerUser))
		spec = page.Spec{Request: req, TTL: entryTTL, Build: func(ctx context.Context, req page.Request) (*page.Entry, error) {
			q, _ := url.ParseQuery(req.Query)
			return l.build(ctx, req, q.Get("user"))
		}}
	default:
		req := page.NewRequest("account", "/account", mode, "variant", string(Spliced))
		spec = page.Spec{Request: req, TTL: entryTTL, Build: func(ctx context.Context, req page.Request) (*page.Entry, error) {
			return l.build(ctx, req, "")
		}}
	}
	return l.kit.CachedSpliced(w, r, spec, l.slot(v, you))
}

// build renders the account page for req, greeting name.
func (l *Lesson) build(ctx context.Context, req page.Request, name string) (*page.Entry, error) {
	v := Variant(variantOf(req))
	d := pageData{Variant: v, Wrong: v == Shared, Name: name, Spliced: v == Spliced, KeyURL: req.URL(),
		TTL: strconv.Itoa(int(entryTTL/time.Minute)) + " minutes", ModeNone: req.Mode == cache.ModeNone, CacheControl: cacheControl, Vary: vary,
		MaxName: maxNameRunes, AdminToken: l.kit.AdminToken != ""}
	for _, vi := range variants {
		d.Variants = append(d.Variants, variantChoice{variantInfo: vi, Current: vi.Value == v})
	}
	return l.kit.Render(ctx, req, "Per-user data and shared caches", "account", d)
}

// variantOf reads the variant from a request's canonical query.
func variantOf(req page.Request) string {
	q, _ := url.ParseQuery(req.Query)
	return q.Get("variant")
}

// slotData is what the page's slot shows for this request: who the cookie
// says the visitor is and, but for the spliced variant, whom the page that
// is about to be sent greets.
type slotData struct {
	Variant Variant
	Spliced bool
	You     string
	// BuiltFor is the name the served page greets ("" for signed out),
	// read from its bytes; Leak is set when that is not this visitor.
	BuiltFor string
	Leak     bool
	Outcome  string
}

// builtForAttr marks the greeting in the page with the name it greets.
var builtForAttr = []byte(`data-built-for="`)

// slot returns the lesson's per-request markup: in the spliced variant the
// greeting itself; otherwise a check of the page about to be sent against
// this request's cookie, made on the very bytes that will be sent, so a
// leak is shown as it happens.
func (l *Lesson) slot(v Variant, you string) func(b []byte, sv *page.Served) []byte {
	return func(b []byte, sv *page.Served) []byte {
		d := slotData{Variant: v, Spliced: v == Spliced, You: you, Outcome: sv.Outcome}
		if !d.Spliced {
			body := sv.Entry.Body
			if i := bytes.Index(body, builtForAttr); i >= 0 {
				rest := body[i+len(builtForAttr):]
				if j := bytes.IndexByte(rest, '"'); j >= 0 {
					d.BuiltFor = html.UnescapeString(string(rest[:j]))
				}
			}
			d.Leak = d.BuiltFor != you
		}
		out, err := l.kit.Partial(b, "account", "account-slot", d)
		if err != nil {
			l.kit.Log.Error("account slot", "err", err)
			return b
		}
		return out
	}
}

// serveSignIn is POST /account/sign-in: it keeps the typed name in the
// cookie. A name that breaks the rules is a 422 that says which rule, and
// sets nothing.
func (l *Lesson) serveSignIn(w http.ResponseWriter, r *http.Request) error {
	if err := handlers.ParseForm(w, r); err != nil {
		return err
	}
	name, _, err := handlers.FormValue(r, "name")
	if err != nil {
		return err
	}
	if err := ValidName(name); err != nil {
		var ne *NameError
		errors.As(err, &ne)
		return &handlers.Error{Status: http.StatusUnprocessableEntity, Msg: "Not signed in: " + ne.Reason}
	}
	setVisitor(w, name)
	l.kit.Flash(w, "Signed in as "+name+". The name is kept in a cookie of this browser only.")
	http.Redirect(w, r, "/account", http.StatusSeeOther)
	return nil
}

// serveSignOut is POST /account/sign-out: it removes the cookie.
func (l *Lesson) serveSignOut(w http.ResponseWriter, r *http.Request) error {
	if err := handlers.ParseForm(w, r); err != nil {
		return err
	}
	setVisitor(w, "")
	l.kit.Flash(w, "Signed out: this browser's account cookie is gone.")
	http.Redirect(w, r, "/account", http.StatusSeeOther)
	return nil
}

// serveVariant is POST /account/variant: it moves the switch.
func (l *Lesson) serveVariant(w http.ResponseWriter, r *http.Request) error {
	if err := handlers.ParseForm(w, r); err != nil {
		return err
	}
	v, _, err := handlers.FormValue(r, "variant")
	if err != nil {
		return err
	}
	for _, vi := range variants {
		if string(vi.Value) == v {
			if vi.Wrong {
				l.round.Add(1)
			}
			l.variant.Store(vi.Value)
			msg := "The account page is now cached this way: " + vi.Title + "."
			if vi.Wrong {
				msg += " The page below was stored with your greeting: load it in another browser, signed in with another name, and it greets you instead."
			}
			l.kit.Flash(w, msg)
			http.Redirect(w, r, "/account", http.StatusSeeOther)
			return nil
		}
	}
	return handlers.BadRequest("The field variant must be one of shared, per-user or spliced (got " + quote(v) + ").")
}

// quote writes a refused value back, cut short.
func quote(s string) string {
	r := []rune(s)
	if len(r) > 24 {
		return `"` + string(r[:24]) + `…"`
	}
	return `"` + s + `"`
}
