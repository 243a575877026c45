package handlers

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"time"

	"cacheworkshop/cache/page"
	"cacheworkshop/models"
)

// apiDataTTL is deliberately short so a learner polling /api/data sees a
// MISS, a run of HITs, then a MISS again when the entry expires.
const apiDataTTL = 10 * time.Second

// apiProduct is the JSON form of a product.
type apiProduct struct {
	ID         int64     `json:"id"`
	Name       string    `json:"name"`
	Category   string    `json:"category"`
	PriceCents int64     `json:"price_cents"`
	Price      string    `json:"price"`
	Stock      int64     `json:"stock"`
	Version    int64     `json:"version"`
	UpdatedAt  time.Time `json:"updated_at"`
	URL        string    `json:"url"`
}

func apiProductOf(p models.Product) apiProduct {
	return apiProduct{ID: p.ID, Name: p.Name, Category: p.Category, PriceCents: p.Price,
		Price: models.FormatMoney(p.Price), Stock: p.Stock, Version: p.Version,
		UpdatedAt: p.UpdatedAt.UTC(), URL: "/api/products/" + strconv.FormatInt(p.ID, 10)}
}

type apiList struct {
	Products []apiProduct `json:"products"`
	Page     int          `json:"page"`
	PerPage  int          `json:"per_page"`
	Total    int64        `json:"total"`
	LastPage int          `json:"last_page"`
	Prev     string       `json:"prev,omitempty"`
	Next     string       `json:"next,omitempty"`
	// BuiltAt says when this body was built: on a HIT it is older than
	// the request, which is how a client can tell a cached copy.
	BuiltAt time.Time `json:"built_at"`
}

type apiDetail struct {
	apiProduct
	Description string        `json:"description"`
	CreatedAt   time.Time     `json:"created_at"`
	InCategory  apiPriceStats `json:"price_in_category"`
	BuiltAt     time.Time     `json:"built_at"`
}

type apiPriceStats struct {
	Category string `json:"category"`
	Rank     int64  `json:"rank"`
	Of       int64  `json:"of"`
	AvgCents int64  `json:"avg_cents"`
	MinCents int64  `json:"min_cents"`
	MaxCents int64  `json:"max_cents"`
}

// jsonEntry encodes v as a cacheable JSON response. Slot is -1: JSON has
// no per-request markup, so the stored bytes are sent as they are.
func jsonEntry(v any) (*page.Entry, error) {
	body, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return &page.Entry{Status: http.StatusOK, ContentType: "application/json; charset=utf-8", Slot: -1, Body: append(body, '\n')}, nil
}

func apiListURL(pageNo, perPage int) string {
	u := "/api/products?page=" + strconv.Itoa(pageNo)
	if perPage != defaultPerPage {
		u += "&per_page=" + strconv.Itoa(perPage)
	}
	return u
}

func (s *Server) serveAPIList(w http.ResponseWriter, r *http.Request) error {
	pageNo, perPage, params, err := pagination(r)
	if err != nil {
		return err
	}
	req := page.NewRequest("api-list", "/api/products", modeOf(r), params...)
	return s.serveCached(w, r, s.listSpec(req, pageNo, perPage, true, func(ctx context.Context, total int64, last int, ps []models.Product) (*page.Entry, error) {
		out := apiList{Products: make([]apiProduct, len(ps)), Page: pageNo, PerPage: perPage,
			Total: total, LastPage: last, BuiltAt: time.Now().UTC()}
		for i, p := range ps {
			out.Products[i] = apiProductOf(p)
		}
		if pageNo > 1 {
			out.Prev = apiListURL(pageNo-1, perPage)
		}
		if pageNo < last {
			out.Next = apiListURL(pageNo+1, perPage)
		}
		return jsonEntry(out)
	}))
}

func (s *Server) serveAPIProduct(w http.ResponseWriter, r *http.Request) error {
	req, id, err := productRequest(r, "api-product", "/api/products/")
	if err != nil {
		return err
	}
	// The same generations as the detail page: the price rank in the
	// body changes when any product of the category is edited.
	spec, err := s.productSpec(r.Context(), req, id, func(ctx context.Context, p models.Product, st models.PriceStats) (*page.Entry, error) {
		d := apiDetail{apiProduct: apiProductOf(p), Description: p.Description, CreatedAt: p.CreatedAt.UTC(),
			InCategory: apiPriceStats{Category: p.Category, Rank: st.Rank, Of: st.CategoryCount,
				AvgCents: st.AvgCents, MinCents: st.MinCents, MaxCents: st.MaxCents}}
		// The validator covers every field but built_at, which only says
		// when this copy was made: a weak ETag, since two copies that
		// differ only there are equivalent, not byte-identical.
		data, err := jsonEntry(d)
		if err != nil {
			return nil, err
		}
		etag := "W/" + bodyETag(data.Body)
		d.BuiltAt = time.Now().UTC()
		e, err := jsonEntry(d)
		if err != nil {
			return nil, err
		}
		e.ETag = etag
		return e, nil
	})
	if err != nil {
		return err
	}
	return s.serveCached(w, r, spec)
}

type apiData struct {
	Message     string    `json:"message"`
	GeneratedAt time.Time `json:"generated_at"`
	TTLSeconds  int       `json:"ttl_s"`
	Products    int64     `json:"products"`
	Categories  []apiCat  `json:"categories"`
}

type apiCat struct {
	Category string `json:"category"`
	Count    int64  `json:"count"`
}

// serveAPIData is a small sample payload whose timestamp shows when it was
// built: it stays the same while HITs are served and moves on each MISS.
func (s *Server) serveAPIData(w http.ResponseWriter, r *http.Request) error {
	return s.serveCached(w, r, page.Spec{
		Request: page.NewRequest("api-data", "/api/data", modeOf(r)), Gens: listGens, TTL: apiDataTTL,
		Build: func(ctx context.Context, _ page.Request) (*page.Entry, error) {
			cats, err := s.store.CategoryCounts(ctx)
			if err != nil {
				return nil, err
			}
			d := apiData{Message: "Sample payload: generated_at is when it was built; it changes only on a MISS.",
				GeneratedAt: time.Now().UTC(), TTLSeconds: int(apiDataTTL / time.Second), Categories: make([]apiCat, len(cats))}
			for i, c := range cats {
				d.Categories[i] = apiCat{Category: c.Category, Count: c.Count}
				d.Products += c.Count
			}
			return jsonEntry(d)
		},
	})
}
