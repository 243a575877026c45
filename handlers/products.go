package handlers

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"html/template"
	"mime"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"cacheworkshop/cache"
	"cacheworkshop/models"
	"cacheworkshop/trace"
)

const (
	defaultPerPage = 20
	maxPerPage     = 100
	maxFormBytes   = 64 << 10
)

// Generation names. Every list page shares one generation (any edit can
// change any list page's content); each product and each category has its
// own, so an edit invalidates exactly the detail pages it can change.
const genList = "list"

func genProduct(id int64) string { return "product:" + strconv.FormatInt(id, 10) }

func genCategory(c string) string {
	var b strings.Builder
	b.WriteString("category:")
	dash := false
	for _, r := range strings.ToLower(c) {
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') {
			b.WriteRune(r)
			dash = false
		} else if !dash {
			b.WriteByte('-')
			dash = true
		}
	}
	return b.String()
}

// parsePositive reads a query parameter that must be a whole number in
// [min, max]; absent means def.
func parsePositive(r *http.Request, name string, def, min, max int) (int, error) {
	v, err := singleParam(r, name)
	if err != nil {
		return 0, err
	}
	if v == "" && !hasParam(r, name) {
		return def, nil
	}
	n, ok := 0, v != "" && len(v) <= 9
	for i := 0; ok && i < len(v); i++ {
		ok = v[i] >= '0' && v[i] <= '9'
		n = n*10 + int(v[i]-'0')
	}
	if !ok || n < min || n > max {
		return 0, errBadRequest(fmt.Sprintf("%s must be a whole number from %d to %d (got %q).", name, min, max, clip(v, 24)))
	}
	return n, nil
}

func clip(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

// Pagination reads ?page and ?per_page.
func parsePagination(r *http.Request) (page, perPage int, err error) {
	if perPage, err = parsePositive(r, "per_page", defaultPerPage, 1, maxPerPage); err != nil {
		return 0, 0, err
	}
	if page, err = parsePositive(r, "page", 1, 1, 1_000_000); err != nil {
		return 0, 0, err
	}
	return page, perPage, nil
}

// productRow is a list row with its display values formatted and escaped
// once, in Go: the row template then has one action instead of eight, and
// html/template's per-action escaper calls (reflection) were most of an
// uncached list page's cost.
type productRow struct {
	FragKey string // id, version and markup version: an edit makes a new key
	ID      int64
	Name    string
	Price   string
	Version int64
	Cells   template.HTML
}

// rowMarkup versions the markup built by rowOf; it is part of the row
// fragment's key, as the template digest is for template markup.
const rowMarkup = "r1"

// CacheKey implements Keyed for fragmentEach.
func (r productRow) CacheKey() string { return r.FragKey }

func rowOf(p models.Product) productRow {
	id := strconv.FormatInt(p.ID, 10)
	b := make([]byte, 0, 256)
	b = append(b, `<td class="num">`...)
	b = append(b, id...)
	b = append(b, `</td><td><a href="/products/`...)
	b = append(b, id...)
	b = append(b, `">`...)
	b = appendEscaped(b, p.Name)
	b = append(b, `</a></td><td>`...)
	b = appendEscaped(b, p.Category)
	b = append(b, `</td><td class="num">`...)
	price := models.FormatMoney(p.Price)
	b = append(b, price...)
	b = append(b, `</td><td class="num">`...)
	b = strconv.AppendInt(b, p.Stock, 10)
	b = append(b, `</td><td class="num">`...)
	b = strconv.AppendInt(b, p.Version, 10)
	b = append(b, `</td>`...)
	return productRow{FragKey: id + ":v" + strconv.FormatInt(p.Version, 10) + ":" + rowMarkup,
		ID: p.ID, Name: p.Name, Price: price, Version: p.Version, Cells: template.HTML(b)}
}

// appendEscaped appends s escaped for HTML text and attribute values.
func appendEscaped(b []byte, s string) []byte { return appendEscapedText(b, s) }

// appendEscapedBytes is appendEscaped for bytes.
func appendEscapedBytes(b, s []byte) []byte { return appendEscapedText(b, s) }

// needsEscape marks the bytes appendEscapedText replaces; runs of other
// bytes are copied whole.
var needsEscape = [256]bool{'<': true, '>': true, '&': true, '"': true, '\'': true, 0: true}

func appendEscapedText[T string | []byte](b []byte, s T) []byte {
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !needsEscape[c] {
			continue
		}
		b = append(b, s[start:i]...)
		start = i + 1
		switch c {
		case '<':
			b = append(b, "&lt;"...)
		case '>':
			b = append(b, "&gt;"...)
		case '&':
			b = append(b, "&amp;"...)
		case '"':
			b = append(b, "&#34;"...)
		case '\'':
			b = append(b, "&#39;"...)
		default: // NUL
			b = append(b, "\uFFFD"...)
		}
	}
	return append(b, s[start:]...)
}

type listData struct {
	Req *RenderReq
	// TableKey names the table fragment by page and a digest of the ids
	// and versions it shows: an edit changes only the tables that
	// contain the edited product.
	TableKey string
	Products []productRow
	Total    int64
	Page     int
	PerPage  int
	LastPage int
	First    int64
	Last     int64
	// Pager is the pager's list items, built in Go (appendPager): as a
	// template range they cost four escaped actions per link.
	Pager   template.HTML
	PrevURL string
	NextURL string
}

func (s *Server) serveList(w http.ResponseWriter, r *http.Request) error {
	page, perPage, err := parsePagination(r)
	if err != nil {
		return err
	}
	sv, err := s.fetch(r.Context(), s.listSpec("list", page, perPage, false, func(ctx context.Context, total int64, last int, ps []models.Product) (*Entry, error) {
		rr := s.newRenderReq(ctx, "list")
		d := listData{Req: rr, Total: total, Page: page, PerPage: perPage, LastPage: last, Products: make([]productRow, len(ps))}
		h := fnv.New64a()
		for i, p := range ps {
			d.Products[i] = rowOf(p)
			h.Write([]byte(d.Products[i].FragKey))
			h.Write([]byte{','})
		}
		d.TableKey = "p=" + strconv.Itoa(page) + ":pp=" + strconv.Itoa(perPage) + ":" + strconv.FormatUint(h.Sum64(), 36)
		if len(ps) > 0 {
			d.First, d.Last = ps[0].ID, ps[len(ps)-1].ID
		}
		d.Pager = template.HTML(appendPager(nil, page, last, perPage))
		if page > 1 {
			d.PrevURL = listURL(page-1, perPage)
		}
		if page < last {
			d.NextURL = listURL(page+1, perPage)
		}
		ld := s.layout(r, fmt.Sprintf("Products, page %d of %d", page, last), "products", d)
		ld.Req = rr
		return s.renderEntry(ctx, "list", ld)
	}))
	if err != nil {
		return err
	}
	s.writeEntry(w, r, sv)
	return nil
}

// listGens is every list's generations: shared, never modified.
var listGens = []string{genList}

// listSpec is the cache spec of a page of the catalogue (HTML or JSON):
// every list shares the list generation. render gets the total, the last
// page and the page's products, loaded only on a miss; a page past the end
// is a 400. The products carry UpdatedAt only when updated is set.
func (s *Server) listSpec(name string, page, perPage int, updated bool,
	render func(ctx context.Context, total int64, last int, ps []models.Product) (*Entry, error)) pageSpec {
	return pageSpec{
		Page: name,
		Key:  "p=" + strconv.Itoa(page) + ":pp=" + strconv.Itoa(perPage),
		Gens: listGens,
		Build: func(ctx context.Context) (*Entry, error) {
			total, err := s.store.Count(ctx)
			if err != nil {
				return nil, err
			}
			last := max(int((total+int64(perPage)-1)/int64(perPage)), 1)
			if page > last {
				return nil, errBadRequest(fmt.Sprintf("page must be from 1 to %d with per_page=%d (got %d).", last, perPage, page))
			}
			list := s.store.List
			if updated {
				list = s.store.ListWithUpdated
			}
			ps, err := list(ctx, (page-1)*perPage, perPage)
			if err != nil {
				return nil, err
			}
			return render(ctx, total, last, ps)
		},
	}
}

func listURL(page, perPage int) string {
	u := "/products?page=" + strconv.Itoa(page)
	if perPage != defaultPerPage {
		u += "&per_page=" + strconv.Itoa(perPage)
	}
	return u
}

// appendPager appends the pager's list items: the first and last pages
// and a window around the current one, with gaps between.
func appendPager(b []byte, page, last, perPage int) []byte {
	prev := 0
	for n := 1; n <= last; n++ {
		if n != 1 && n != last && (n < page-2 || n > page+2) {
			continue
		}
		if prev != 0 && n != prev+1 {
			b = append(b, `<li class="gap">…</li>`...)
		}
		b = append(b, `<li><a href="`...)
		b = appendEscaped(b, listURL(n, perPage))
		b = append(b, '"')
		if n == page {
			b = append(b, ` aria-current="page"`...)
		}
		b = append(b, '>')
		b = strconv.AppendInt(b, int64(n), 10)
		b = append(b, `</a></li>`...)
		prev = n
	}
	return b
}

type detailData struct {
	Req         *RenderReq
	CardKey     string
	Updated     string
	UpdatedText string
	AboveText   string
	Stats2      Loader
	P           models.Product
	Price       string
	Stats       models.PriceStats
	Avg         string
	Min         string
	Max         string
	AbovePct    int
	SlowQueryMS int64
}

func (s *Server) serveDetail(w http.ResponseWriter, r *http.Request) error {
	id, err := models.ParseID(chi.URLParam(r, "id"))
	if err != nil {
		return err
	}
	spec, err := s.productSpec(r.Context(), "detail", id, s.pages.digest("detail"), func(ctx context.Context, p models.Product, st models.PriceStats) (*Entry, error) {
		rr := s.newRenderReq(ctx, "detail")
		d := detailData{Req: rr, CardKey: strconv.FormatInt(p.ID, 10) + ":v" + strconv.FormatInt(p.Version, 10),
			Updated: p.UpdatedAt.UTC().Format(time.RFC3339), UpdatedText: p.UpdatedAt.UTC().Format("2 Jan 2006 15:04 UTC"),
			Stats2: LoaderFunc(s.loadCatalogueStats),
			P:      p, Price: models.FormatMoney(p.Price), Stats: st,
			Avg: models.FormatMoney(st.AvgCents), Min: models.FormatMoney(st.MinCents), Max: models.FormatMoney(st.MaxCents),
			SlowQueryMS: s.cfg.SlowQuery.Milliseconds()}
		if st.AvgCents > 0 {
			d.AbovePct = int((p.Price - st.AvgCents) * 100 / st.AvgCents)
		}
		switch {
		case d.AbovePct > 0:
			d.AboveText = strconv.Itoa(d.AbovePct) + "% above"
		case d.AbovePct < 0:
			d.AboveText = strconv.Itoa(-d.AbovePct) + "% below"
		default:
			d.AboveText = "right at"
		}
		ld := s.layout(r, p.Name, "products", d)
		ld.Req = rr
		return s.renderEntry(ctx, "detail", ld)
	})
	if err != nil {
		return err
	}
	sv, err := s.fetch(r.Context(), spec)
	if err != nil {
		return err
	}
	s.writeEntry(w, r, sv)
	return nil
}

// productSpec is the cache spec of a page about one product (the detail
// page, its JSON): keyed by id, invalidated by the product's generation and
// its category's (an edit to another product of the category changes the
// price rank shown). render gets the product and its price statistics,
// loaded (with the simulated latency) only on a miss. The entry gets an
// ETag from the product's id and version, the mode and etagDigest (the
// representation's own version), and Last-Modified from updated_at.
func (s *Server) productSpec(ctx context.Context, page string, id int64, etagDigest string,
	render func(ctx context.Context, p models.Product, st models.PriceStats) (*Entry, error)) (pageSpec, error) {
	cat, err := s.categoryOf(ctx, id)
	if err != nil {
		return pageSpec{}, err
	}
	return pageSpec{
		Page: page,
		Key:  "id=" + strconv.FormatInt(id, 10),
		Gens: []string{genProduct(id), genCategory(cat)},
		Build: func(ctx context.Context) (*Entry, error) {
			p, err := s.store.Get(ctx, id)
			if err != nil {
				return nil, err
			}
			s.categories.Store(id, p.Category)
			st, err := s.store.PriceStats(ctx, p)
			if err != nil {
				return nil, err
			}
			if err := s.simulateLatency(ctx); err != nil {
				return nil, err
			}
			e, err := render(ctx, p, st)
			if err != nil {
				return nil, err
			}
			e.ETag = productETag(p, cache.ModeFrom(ctx), etagDigest)
			e.LastModified = p.UpdatedAt
			return e, nil
		},
	}, nil
}

// categoryOf finds the category of a product for its cache key. Categories
// are few and change only by edit, so an in-process map (refreshed on every
// edit and miss) answers without a query on the hot path.
func (s *Server) categoryOf(ctx context.Context, id int64) (string, error) {
	if c, ok := s.categories.Load(id); ok {
		return c.(string), nil
	}
	p, err := s.store.Get(ctx, id)
	if err != nil {
		return "", err
	}
	s.categories.Store(id, p.Category)
	return p.Category, nil
}

func productETag(p models.Product, m cache.Mode, digest string) string {
	return `"p` + strconv.FormatInt(p.ID, 10) + "-v" + strconv.FormatInt(p.Version, 10) + "-" + m.String() + "-" + digest + `"`
}

// simulateLatency stands in for a slow database on uncached lookups
// (SLOW_QUERY_MS), recorded separately in the trace as "simulated".
func (s *Server) simulateLatency(ctx context.Context) error {
	if s.cfg.SlowQuery <= 0 {
		return nil
	}
	t := time.NewTimer(s.cfg.SlowQuery)
	defer t.Stop()
	t0 := time.Now()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
	}
	trace.From(ctx).Simulated(time.Since(t0))
	return nil
}

type catalogueStats struct {
	Total      int64
	ComputedAt string
	TTL        string
	Rows       []catalogueRow
}

type catalogueRow struct {
	Category   string
	Count      int64
	Avg, Value string
}

// loadCatalogueStats runs the sidebar's whole-table aggregate; it is only
// called when the category-stats fragment misses.
func (s *Server) loadCatalogueStats(ctx context.Context) (any, error) {
	rows, err := s.store.CatalogueSummary(ctx)
	if err != nil {
		return nil, err
	}
	out := catalogueStats{ComputedAt: time.Now().UTC().Format("15:04:05 UTC"), TTL: humanDuration(fragmentTTLs["category-stats"])}
	for _, r := range rows {
		out.Total += r.Count
		out.Rows = append(out.Rows, catalogueRow{Category: r.Category, Count: r.Count,
			Avg: models.FormatMoney(int64(r.AvgCents + 0.5)), Value: models.FormatMoney(r.StockValue)})
	}
	return out, nil
}

type editData struct {
	// AdminRequired shows the admin token field (EDIT_REQUIRES_ADMIN).
	AdminRequired bool
	P             models.Product
	In            models.ProductInput
	Errors        map[string]string
	Message       string
	Categories    []string
	Conflict      *conflictData
}

type conflictData struct {
	Yours, Current models.ProductInput
	Changed        []fieldDiff
}

type fieldDiff struct {
	Field, Current, Yours string
	Differs               bool
}

// serveEditForm always reads the database: editing a cached copy would
// start from a version that may already be gone.
func (s *Server) serveEditForm(w http.ResponseWriter, r *http.Request) error {
	id, err := models.ParseID(chi.URLParam(r, "id"))
	if err != nil {
		return err
	}
	p, err := s.store.Get(r.Context(), id)
	if err != nil {
		return err
	}
	return s.serveForm(w, r, http.StatusOK, editData{P: p, In: models.InputFrom(p), Categories: models.Categories})
}

func (s *Server) serveForm(w http.ResponseWriter, r *http.Request, status int, d editData) error {
	d.AdminRequired = s.cfg.AdminToken != "" && s.cfg.EditRequiresAdmin
	e, err := s.renderEntry(r.Context(), "edit", s.layout(r, "Edit "+d.P.Name, "products", d))
	if err != nil {
		return err
	}
	e.Status = status
	w.Header().Set("Cache-Control", "no-store")
	trace.From(r.Context()).Cache(trace.Lookup{Layer: "page", Backend: "none", Key: "edit (forms always read the database)", Outcome: trace.Bypass})
	s.writeEntry(w, r, &served{entry: e, mode: modeOf(r), outcome: trace.Bypass, backend: "none"})
	return nil
}

func (s *Server) serveEdit(w http.ResponseWriter, r *http.Request) error {
	id, err := models.ParseID(chi.URLParam(r, "id"))
	if err != nil {
		return err
	}
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || (mt != "application/x-www-form-urlencoded" && mt != "multipart/form-data") {
		return &httpError{status: http.StatusUnsupportedMediaType, msg: "Send the edit form as application/x-www-form-urlencoded."}
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if mt == "multipart/form-data" {
		err = r.ParseMultipartForm(maxFormBytes)
	} else {
		err = r.ParseForm()
	}
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return err
		}
		return errBadRequest("The form could not be read: " + clip(err.Error(), 100))
	}
	// A field sent twice with different values is ambiguous: refuse it
	// rather than silently obeying one of them.
	for _, f := range []string{"name", "description", "category", "price", "stock", "version"} {
		if vs := r.PostForm[f]; len(vs) > 1 && slices.ContainsFunc(vs[1:], func(v string) bool { return v != vs[0] }) {
			return errBadRequest("The field " + f + " was sent several times with different values; send it once.")
		}
	}
	cur, err := s.store.Get(r.Context(), id)
	if err != nil {
		return err
	}
	in := models.ProductInput{
		Name: r.PostFormValue("name"), Description: r.PostFormValue("description"),
		Category: r.PostFormValue("category"), Price: r.PostFormValue("price"),
		Stock: r.PostFormValue("stock"), Version: r.PostFormValue("version"),
	}
	ch, err := in.Validate()
	if err != nil {
		var me *models.Error
		if errors.As(err, &me) && me.Code == models.EUNPROC {
			return s.serveForm(w, r, http.StatusUnprocessableEntity, editData{P: cur, In: in, Errors: me.Fields,
				Message: me.Message, Categories: models.Categories})
		}
		return err
	}
	updated, err := s.store.Update(r.Context(), id, ch)
	var ce *models.ConflictError
	if errors.As(err, &ce) {
		return s.serveConflict(w, r, in, ce.Current)
	}
	if err != nil {
		return err
	}
	// After the commit: bump every generation whose pages could show the
	// old values, in both backends whatever this request's mode.
	names := []string{genProduct(id), genCategory(cur.Category), genList}
	if updated.Category != cur.Category {
		names = append(names, genCategory(updated.Category))
	}
	s.categories.Store(id, updated.Category)
	results := s.inval.Invalidate(r.Context(), names...)
	f := flash{Message: fmt.Sprintf("Saved %q: version %d → %d.", updated.Name, cur.Version, updated.Version)}
	for _, res := range results {
		label := res.Backend
		if label == "redis" {
			label = s.redisLabel()
		}
		if res.Err != nil {
			f.Details = append(f.Details, fmt.Sprintf("%s: could not bump %s (%s); queued, and Redis-mode pages are served from the database until it is applied.",
				label, strings.Join(res.Names, ", "), short(res.Err)))
		} else {
			f.Details = append(f.Details, fmt.Sprintf("%s: bumped generations %s, so every cached copy of this product, its category's detail pages and every list page is now stale: the next read of any of them is a MISS.",
				label, strings.Join(res.Names, ", ")))
		}
	}
	setFlash(w, f)
	http.Redirect(w, r, "/products/"+strconv.FormatInt(id, 10), http.StatusSeeOther)
	return nil
}

func (s *Server) serveConflict(w http.ResponseWriter, r *http.Request, yours models.ProductInput, cur models.Product) error {
	curIn := models.InputFrom(cur)
	cd := &conflictData{Yours: yours, Current: curIn}
	for _, f := range []struct{ name, c, y string }{
		{"Name", curIn.Name, yours.Name}, {"Category", curIn.Category, yours.Category},
		{"Price", curIn.Price, yours.Price}, {"Stock", curIn.Stock, yours.Stock},
		{"Description", curIn.Description, yours.Description},
	} {
		cd.Changed = append(cd.Changed, fieldDiff{Field: f.name, Current: f.c, Yours: f.y,
			Differs: strings.TrimSpace(f.c) != strings.TrimSpace(f.y)})
	}
	// The form below starts from the user's values at the current
	// version, so resubmitting is a deliberate overwrite.
	in := yours
	in.Version = curIn.Version
	return s.serveForm(w, r, http.StatusConflict, editData{P: cur, In: in, Categories: models.Categories, Conflict: cd,
		Message: fmt.Sprintf("Someone saved this product (now version %d) after you opened the form at version %s. Nothing was changed.", cur.Version, yours.Version)})
}

type homeData struct {
	Total      int64
	Categories []models.CategoryCount
	TTL        string
	SlowMS     int64
}

func (s *Server) serveHome(w http.ResponseWriter, r *http.Request) error {
	sv, err := s.fetch(r.Context(), pageSpec{
		Page: "home", Key: "home", Gens: []string{genList},
		Build: func(ctx context.Context) (*Entry, error) {
			cats, err := s.store.CategoryCounts(ctx)
			if err != nil {
				return nil, err
			}
			d := homeData{Categories: cats, TTL: humanDuration(s.cfg.TTL), SlowMS: s.cfg.SlowQuery.Milliseconds()}
			for _, c := range cats {
				d.Total += c.Count
			}
			return s.renderEntry(ctx, "home", s.layout(r, "Cache Workshop", "home", d))
		},
	})
	if err != nil {
		return err
	}
	s.writeEntry(w, r, sv)
	return nil
}
