package handlers

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/fnv"
	"net/http"
	"strconv"
	"time"

	"github.com/go-chi/chi/v5"

	"cacheworkshop/cache/fragment"
	"cacheworkshop/cache/page"
	"cacheworkshop/models"
	"cacheworkshop/trace"
)

const (
	defaultPerPage = 20
	maxPerPage     = 100
)

// catalogueRoutes registers the catalogue's own pages and API.
func (s *Server) catalogueRoutes(r chi.Router) {
	r.Get("/", s.handle(s.serveHome))
	r.Get("/products", s.handle(s.serveList))
	r.Get("/products/new", s.handle(s.serveNewForm))
	r.With(s.editGuard).Post("/products/new", s.handle(s.serveCreate))
	r.Get("/products/{id}", s.handle(s.serveDetail))
	r.Get("/products/{id}/edit", s.handle(s.serveEditForm))
	r.With(s.editGuard).Post("/products/{id}/edit", s.handle(s.serveEdit))
	r.With(s.editGuard).Post("/products/{id}/delete", s.handle(s.serveDelete))
	r.Get("/categories/{slug}", s.handle(s.serveCategory))
	r.With(s.requireAdmin).Post("/reset", s.handle(s.serveReset))
	r.Get("/api/products", s.handle(s.serveAPIList))
	r.Get("/api/products/{id}", s.handle(s.serveAPIProduct))
	r.Get("/api/data", s.handle(s.serveAPIData))
	r.Get("/api/cache-key", s.handle(s.serveCacheKey))
}

// editGuard is requireAdmin when EDIT_REQUIRES_ADMIN is set: it guards
// every write to the catalogue (create, edit, delete).
func (s *Server) editGuard(next http.Handler) http.Handler {
	if s.cfg.EditRequiresAdmin {
		return s.requireAdmin(next)
	}
	return next
}

// Generation names. Every list page shares one generation (any edit can
// change any list page's content, and a create or a delete shifts every
// page after it); each product and each category has its own, so a change
// invalidates exactly the detail and category pages it can change.
const genList = "list"

// listGens is every list's generations: shared, never modified.
var listGens = []string{genList}

func genProduct(id int64) string { return "product:" + strconv.FormatInt(id, 10) }

// genCategory is a category's generation, named by its slug: the one its
// category pages depend on.
func genCategory(c string) string { return "category:" + models.CategorySlug(c) }

// categoryURLs are the category pages' paths, by category name, made once:
// every list row links to one.
var categoryURLs = func() map[string]string {
	m := make(map[string]string, len(models.Categories))
	for _, c := range models.Categories {
		m[c] = "/categories/" + models.CategorySlug(c)
	}
	return m
}()

// categoryLink is one category in a page's category links.
type categoryLink struct {
	Name, URL string
	Current   bool
}

// allCategoryLinks are the list page's category links, made once.
var allCategoryLinks = categoryLinks("")

// categoryLinks are links to every category page; current is marked.
func categoryLinks(current string) []categoryLink {
	out := make([]categoryLink, len(models.Categories))
	for i, c := range models.Categories {
		out[i] = categoryLink{Name: c, URL: categoryURLs[c], Current: c == current}
	}
	return out
}

// pagination reads ?page and ?per_page. The defaults are left out of the
// canonical request (""), so /products and /products?page=1 share a key.
func pagination(r *http.Request) (pageNo, perPage int, params []string, err error) {
	if perPage, err = IntParam(r, "per_page", defaultPerPage, 1, maxPerPage); err != nil {
		return 0, 0, nil, err
	}
	if pageNo, err = IntParam(r, "page", 1, 1, 1_000_000); err != nil {
		return 0, 0, nil, err
	}
	params = []string{"page", "", "per_page", ""}
	if pageNo != 1 {
		params[1] = strconv.Itoa(pageNo)
	}
	if perPage != defaultPerPage {
		params[3] = strconv.Itoa(perPage)
	}
	return pageNo, perPage, params, nil
}

// productRow is a product as the list's row fragment shows it, with its
// price formatted once here rather than by a function call per row in the
// template: an uncached list page renders twenty rows.
type productRow struct {
	ID                          int64
	Name, Category, CategoryURL string
	Price                       string
	Stock, Version              int64
	Key                         string // the fragment's key: id and version
}

func rowOf(p models.Product) productRow {
	return productRow{ID: p.ID, Name: p.Name, Category: p.Category, CategoryURL: categoryURLs[p.Category],
		Price: models.FormatMoney(p.Price), Stock: p.Stock, Version: p.Version, Key: p.CacheKey()}
}

// CacheKey implements fragment.Keyed.
func (r productRow) CacheKey() string { return r.Key }

type listData struct {
	Req *fragment.Render
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
	Pager    []pagerLink
	PrevURL  string
	NextURL  string
	// Categories link to every category page.
	Categories []categoryLink
}

func (d *listData) useRender(fr *fragment.Render) { d.Req = fr }

// pagerLink is one page number of the pager; Gap marks a jump before it.
type pagerLink struct {
	N       int
	URL     string
	Current bool
	Gap     bool
}

func (s *Server) serveList(w http.ResponseWriter, r *http.Request) error {
	pageNo, perPage, params, err := pagination(r)
	if err != nil {
		return err
	}
	req := page.NewRequest("list", "/products", modeOf(r), params...)
	return s.serveCached(w, r, s.listSpec(req, pageNo, perPage, false, func(ctx context.Context, total int64, last int, ps []models.Product) (*page.Entry, error) {
		d := &listData{Total: total, Page: pageNo, PerPage: perPage, LastPage: last, Categories: allCategoryLinks}
		d.Products, d.TableKey = tableRows("p="+strconv.Itoa(pageNo)+":pp="+strconv.Itoa(perPage), ps)
		if len(ps) > 0 {
			d.First, d.Last = ps[0].ID, ps[len(ps)-1].ID
		}
		d.Pager = pager("/products", pageNo, last, perPage)
		if pageNo > 1 {
			d.PrevURL = pageURL("/products", pageNo-1, perPage)
		}
		if pageNo < last {
			d.NextURL = pageURL("/products", pageNo+1, perPage)
		}
		return s.renderPage(ctx, req, fmt.Sprintf("Products, page %d of %d", pageNo, last), "products", d)
	}))
}

// listSpec is the cache spec of a page of the catalogue (HTML or JSON):
// every list shares the list generation. render gets the total, the last
// page and the page's products, loaded only on a miss; a page past the end
// is a 400. The products carry UpdatedAt only when updated is set.
func (s *Server) listSpec(req page.Request, pageNo, perPage int, updated bool,
	render func(ctx context.Context, total int64, last int, ps []models.Product) (*page.Entry, error)) page.Spec {
	return page.Spec{
		Request: req,
		Gens:    listGens,
		Build: func(ctx context.Context, _ page.Request) (*page.Entry, error) {
			total, err := s.store.Count(ctx)
			if err != nil {
				return nil, err
			}
			last := max(int((total+int64(perPage)-1)/int64(perPage)), 1)
			if pageNo > last {
				return nil, BadRequest(fmt.Sprintf("page must be from 1 to %d with per_page=%d (got %d).", last, perPage, pageNo))
			}
			list := s.store.List
			if updated {
				list = s.store.ListWithUpdated
			}
			ps, err := list(ctx, (pageNo-1)*perPage, perPage)
			if err != nil {
				return nil, err
			}
			return render(ctx, total, last, ps)
		},
	}
}

// tableRows makes the rows of a product table and the table fragment's
// key: prefix, then a digest of the ids and versions it shows, so a change
// makes a new key for exactly the tables that show the changed product (or
// that a create or delete shifted). The same rows make the same markup on
// any page, so the key needs nothing else.
func tableRows(prefix string, ps []models.Product) ([]productRow, string) {
	rows := make([]productRow, len(ps))
	h := fnv.New64a()
	for i, p := range ps {
		rows[i] = rowOf(p)
		h.Write([]byte(rows[i].Key))
		h.Write([]byte{','})
	}
	return rows, prefix + ":" + strconv.FormatUint(h.Sum64(), 36)
}

// pageURL is page pageNo of a paginated page at path.
func pageURL(path string, pageNo, perPage int) string {
	u := path + "?page=" + strconv.Itoa(pageNo)
	if perPage != defaultPerPage {
		u += "&per_page=" + strconv.Itoa(perPage)
	}
	return u
}

// pager lists the first and last pages and a window around the current
// one, marking the gaps between.
func pager(path string, pageNo, last, perPage int) []pagerLink {
	var out []pagerLink
	prev := 0
	for n := 1; n <= last; n++ {
		if n != 1 && n != last && (n < pageNo-2 || n > pageNo+2) {
			continue
		}
		out = append(out, pagerLink{N: n, URL: pageURL(path, n, perPage), Current: n == pageNo, Gap: prev != 0 && n != prev+1})
		prev = n
	}
	return out
}

type detailData struct {
	Req         *fragment.Render
	CardKey     string
	CategoryURL string
	Updated     string
	UpdatedText string
	AboveText   string
	Stats2      fragment.Loader
	P           models.Product
	Price       string
	Stats       models.PriceStats
	Avg         string
	Min         string
	Max         string
	AbovePct    int
	SlowQueryMS int64
}

func (d *detailData) useRender(fr *fragment.Render) { d.Req = fr }

// productRequest reads the id of /products/{id} (and its JSON twin) into
// the canonical request: the path is rebuilt from the parsed id.
func productRequest(r *http.Request, name, prefix string) (page.Request, int64, error) {
	id, err := models.ParseID(chi.URLParam(r, "id"))
	if err != nil {
		return page.Request{}, 0, err
	}
	return page.NewRequest(name, prefix+strconv.FormatInt(id, 10), modeOf(r)), id, nil
}

func (s *Server) serveDetail(w http.ResponseWriter, r *http.Request) error {
	req, id, err := productRequest(r, "detail", "/products/")
	if err != nil {
		return err
	}
	spec, err := s.productSpec(r.Context(), req, id, func(ctx context.Context, p models.Product, st models.PriceStats) (*page.Entry, error) {
		d := &detailData{CardKey: p.CacheKey(), CategoryURL: categoryURLs[p.Category],
			Updated: p.UpdatedAt.UTC().Format(time.RFC3339), UpdatedText: p.UpdatedAt.UTC().Format("2 Jan 2006 15:04 UTC"),
			Stats2: fragment.LoaderFunc(s.loadCatalogueStats),
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
		return s.renderPage(ctx, req, p.Name, "products", d)
	})
	if err != nil {
		return err
	}
	return s.serveCached(w, r, spec)
}

// productSpec is the cache spec of a page about one product (the detail
// page, its JSON): keyed by id, invalidated by the product's generation and
// its category's (an edit to another product of the category changes the
// price rank shown). render gets the product and its price statistics,
// loaded (with the simulated latency) only on a miss.
//
// The entry's ETag is a digest of its body, unless render set one: a
// validator must cover everything the response shows, and these pages show
// their category's figures too, which change when another product does.
// For the same reason they send no Last-Modified: no single row's
// updated_at dates a page that aggregates over a category a product can
// leave.
func (s *Server) productSpec(ctx context.Context, req page.Request, id int64,
	render func(ctx context.Context, p models.Product, st models.PriceStats) (*page.Entry, error)) (page.Spec, error) {
	cat, err := s.categoryOf(ctx, id)
	if err != nil {
		return page.Spec{}, err
	}
	return page.Spec{
		Request: req,
		Gens:    []string{genProduct(id), genCategory(cat)},
		Build: func(ctx context.Context, req page.Request) (*page.Entry, error) {
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
			if e.ETag == "" {
				e.ETag = bodyETag(e.Body)
			}
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

// bodyETag is a strong validator of a body: a digest of its bytes.
func bodyETag(body []byte) string {
	sum := sha256.Sum256(body)
	return `"` + hex.EncodeToString(sum[:12]) + `"`
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

type homeData struct {
	Total      int64
	Categories []models.CategoryCount
	TTL        string
	SlowMS     int64
}

func (s *Server) serveHome(w http.ResponseWriter, r *http.Request) error {
	req := page.NewRequest("home", "/", modeOf(r))
	return s.serveCached(w, r, page.Spec{
		Request: req, Gens: listGens,
		Build: func(ctx context.Context, req page.Request) (*page.Entry, error) {
			cats, err := s.store.CategoryCounts(ctx)
			if err != nil {
				return nil, err
			}
			d := homeData{Categories: cats, TTL: humanDuration(s.cfg.TTL), SlowMS: s.cfg.SlowQuery.Milliseconds()}
			for _, c := range cats {
				d.Total += c.Count
			}
			return s.renderPage(ctx, req, "Cache Workshop", "home", d)
		},
	})
}

// errConflict reports whether err is an optimistic-locking conflict, and
// the current row.
func errConflict(err error) (models.Product, bool) {
	var ce *models.ConflictError
	if errors.As(err, &ce) {
		return ce.Current, true
	}
	return models.Product{}, false
}
