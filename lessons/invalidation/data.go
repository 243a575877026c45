package invalidation

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"gorm.io/gorm"

	"cacheworkshop/cache"
	"cacheworkshop/models"
)

// The lab's data set is ten products in a table of their own, in the
// workshop's database: its edits never touch the catalogue, and the
// catalogue's pages never show them.
const (
	productsTable = "lab_invalidation_products"
	// changesTable is the lab's own outbox, for the generations strategy:
	// a change is recorded in the same transaction as the edit it follows,
	// and its id is the value the generations are raised to, exactly as
	// the workshop's own invalidations table works.
	changesTable = "lab_invalidation_changes"
)

var schema = []string{
	`CREATE TABLE IF NOT EXISTS ` + productsTable + ` (
		id INTEGER PRIMARY KEY,
		name TEXT NOT NULL,
		category TEXT NOT NULL,
		price INTEGER NOT NULL,
		version INTEGER NOT NULL)`,
	`CREATE TABLE IF NOT EXISTS ` + changesTable + ` (
		id INTEGER PRIMARY KEY AUTOINCREMENT,
		names TEXT NOT NULL)`,
}

// row is one lab product: what every view shows of it.
type row struct {
	ID       int64  `json:"id"`
	Name     string `json:"name"`
	Category string `json:"category"`
	Price    int64  `json:"price"` // cents
	Version  int64  `json:"version"`
}

// PriceText is the price as the page shows it.
func (r row) PriceText() string { return models.FormatMoney(r.Price) }

// seedRows is the data set a reset restores. Categories interleave, so
// each list page shows products of every category.
var seedRows = []row{
	{1, "Sencha", "tea", 650, 1},
	{2, "Espresso beans", "coffee", 1200, 1},
	{3, "Drinking chocolate", "cocoa", 825, 1},
	{4, "Earl Grey", "tea", 575, 1},
	{5, "Filter roast", "coffee", 1050, 1},
	{6, "Cacao nibs", "cocoa", 900, 1},
	{7, "Rooibos", "tea", 490, 1},
	{8, "Cold brew pack", "coffee", 1125, 1},
	{9, "Hot cocoa mix", "cocoa", 600, 1},
	{10, "Matcha", "tea", 1400, 1},
}

// labCategories are the categories of the data set, in display order.
var labCategories = []string{"tea", "coffee", "cocoa"}

// perPage is the size of a list page: ten products make two pages.
const perPage = 5

// data reads and writes the lab's table.
type data struct{ db *gorm.DB }

// init creates the tables and seeds an empty one.
func (d data) init(ctx context.Context) error {
	for _, s := range schema {
		if err := d.db.WithContext(ctx).Exec(s).Error; err != nil {
			return fmt.Errorf("invalidation lab schema: %w", err)
		}
	}
	return d.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var n int64
		if err := tx.Raw(`SELECT COUNT(*) FROM ` + productsTable).Scan(&n).Error; err != nil {
			return err
		}
		if n > 0 {
			return nil
		}
		return insertSeed(tx, 1)
	})
}

func insertSeed(tx *gorm.DB, version int64) error {
	for _, r := range seedRows {
		if err := tx.Exec(`INSERT INTO `+productsTable+` (id, name, category, price, version) VALUES (?, ?, ?, ?, ?)`,
			r.ID, r.Name, r.Category, r.Price, version).Error; err != nil {
			return err
		}
	}
	return nil
}

// all returns every product, by id.
func (d data) all(ctx context.Context) ([]row, error) {
	var rows []row
	err := d.db.WithContext(ctx).Raw(`SELECT id, name, category, price, version FROM ` + productsTable + ` ORDER BY id`).
		Scan(&rows).Error
	return rows, err
}

// get returns one product.
func (d data) get(ctx context.Context, id int64) (row, error) {
	rows, err := d.query(ctx, view{Kind: kindProduct, ID: id})
	if err != nil {
		return row{}, err
	}
	if len(rows) != 1 {
		return row{}, fmt.Errorf("lab product %d: %d rows", id, len(rows))
	}
	return rows[0], nil
}

// query reads what a view shows, straight from the database.
func (d data) query(ctx context.Context, v view) ([]row, error) {
	const cols = `SELECT id, name, category, price, version FROM ` + productsTable
	db := d.db.WithContext(ctx)
	var rows []row
	var err error
	switch v.Kind {
	case kindProduct:
		err = db.Raw(cols+` WHERE id = ?`, v.ID).Scan(&rows).Error
	case kindList:
		err = db.Raw(cols+` ORDER BY id LIMIT ? OFFSET ?`, perPage, (v.ID-1)*perPage).Scan(&rows).Error
	case kindCategory:
		err = db.Raw(cols+` WHERE category = ? ORDER BY id`, v.Category).Scan(&rows).Error
	default:
		err = fmt.Errorf("unknown view kind %q", v.Kind)
	}
	return rows, err
}

// setPrice changes a product's price and bumps its version. With gens, it
// also records a change naming them in the same transaction and returns
// it: the commit that makes the new row visible is the commit that
// records the invalidation.
func (d data) setPrice(ctx context.Context, id, price int64, gens []string) (before, after row, change cache.Change, err error) {
	err = d.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		tdata := data{tx}
		if before, err = tdata.get(ctx, id); err != nil {
			return err
		}
		if err := tx.Exec(`UPDATE `+productsTable+` SET price = ?, version = version + 1 WHERE id = ?`, price, id).Error; err != nil {
			return err
		}
		if after, err = tdata.get(ctx, id); err != nil {
			return err
		}
		if len(gens) > 0 {
			change, err = record(tx, gens)
		}
		return err
	})
	return before, after, change, err
}

// recordChange records a change on its own, outside any edit: only the
// "bump before the commit" replay of the race does that, to show why the
// workshop never does.
func (d data) recordChange(ctx context.Context, gens []string) (cache.Change, error) {
	var c cache.Change
	err := d.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var err error
		c, err = record(tx, gens)
		return err
	})
	return c, err
}

func record(tx *gorm.DB, names []string) (cache.Change, error) {
	c := cache.Change{Names: names}
	if err := tx.Exec(`INSERT INTO `+changesTable+` (names) VALUES (?)`, strings.Join(names, " ")).Error; err != nil {
		return c, err
	}
	err := tx.Raw(`SELECT last_insert_rowid()`).Scan(&c.ID).Error
	return c, err
}

// changesSince returns the lab's changes after id, oldest first, for a
// Redis that has lost some (restarted, or cleared on the statistics page).
func (d data) changesSince(ctx context.Context, after int64) ([]cache.Change, error) {
	var rs []struct {
		ID    int64
		Names string
	}
	if err := d.db.WithContext(ctx).Raw(`SELECT id, names FROM `+changesTable+` WHERE id > ? ORDER BY id`, after).
		Scan(&rs).Error; err != nil {
		return nil, err
	}
	out := make([]cache.Change, len(rs))
	for i, r := range rs {
		out[i] = cache.Change{ID: r.ID, Names: strings.Fields(r.Names)}
	}
	return out, nil
}

// reset restores the seeded data set, every version above any it had (so
// no copy cached before the reset can pass for a row after it), and
// records a change that raises every lab generation.
func (d data) reset(ctx context.Context) (cache.Change, error) {
	var c cache.Change
	err := d.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var top int64
		if err := tx.Raw(`SELECT COALESCE(MAX(version), 0) FROM ` + productsTable).Scan(&top).Error; err != nil {
			return err
		}
		if err := tx.Exec(`DELETE FROM ` + productsTable).Error; err != nil {
			return err
		}
		if err := insertSeed(tx, top+1); err != nil {
			return err
		}
		var err error
		c, err = record(tx, everyGen())
		return err
	})
	return c, err
}

// The views are what the lab caches: each product's detail, the two list
// pages and the three category pages, fifteen entries in all. A product
// appears in three of them, which is the whole difficulty of
// invalidation.
const (
	kindProduct  = "product"
	kindList     = "list"
	kindCategory = "category"
)

// view is one cached view of the data set.
type view struct {
	Kind     string
	ID       int64  // the product, or the list page number
	Category string // for kindCategory
}

// allViews lists the fifteen views in display order.
func allViews() []view {
	var vs []view
	for _, r := range seedRows {
		vs = append(vs, view{Kind: kindProduct, ID: r.ID})
	}
	for p := int64(1); p <= int64((len(seedRows)+perPage-1)/perPage); p++ {
		vs = append(vs, view{Kind: kindList, ID: p})
	}
	for _, c := range labCategories {
		vs = append(vs, view{Kind: kindCategory, Category: c})
	}
	return vs
}

// showing lists the views that show product r: its detail, its list page
// and its category's page. Deleting "the key" deletes the first only.
func showing(r row) []view {
	return []view{
		{Kind: kindProduct, ID: r.ID},
		{Kind: kindList, ID: (r.ID-1)/perPage + 1},
		{Kind: kindCategory, Category: r.Category},
	}
}

// Key is the view's cache key, under the lab's namespace.
func (v view) Key() string {
	switch v.Kind {
	case kindCategory:
		return entryPrefix + "category:" + v.Category
	default:
		return entryPrefix + v.Kind + ":" + strconv.FormatInt(v.ID, 10)
	}
}

// Label names the view for the page.
func (v view) Label() string {
	switch v.Kind {
	case kindProduct:
		return "Product " + strconv.FormatInt(v.ID, 10)
	case kindList:
		return "List page " + strconv.FormatInt(v.ID, 10)
	default:
		return "Category " + v.Category
	}
}

// gens names the generations a view depends on, as the workshop's pages
// do: a detail its product's, a list page the list's, a category page its
// category's.
func (v view) gens() []string {
	switch v.Kind {
	case kindProduct:
		return []string{genProduct(v.ID)}
	case kindList:
		return []string{"list"}
	default:
		return []string{"category:" + v.Category}
	}
}

// tags are the groups a view belongs to for the tags strategy: every
// product it shows, so invalidating "product:3" drops every view that
// shows product 3, and nothing else.
func (v view) tags(rows []row) []string {
	t := make([]string, len(rows))
	for i, r := range rows {
		t[i] = genProduct(r.ID)
	}
	return t
}

func genProduct(id int64) string { return "product:" + strconv.FormatInt(id, 10) }

// editGens are the generations an edit of r raises, as the workshop's
// edit form raises its product's, the list's and its category's.
func editGens(r row) []string { return []string{genProduct(r.ID), "list", "category:" + r.Category} }

// everyGen names every lab generation, for a reset.
func everyGen() []string {
	names := []string{"list"}
	for _, c := range labCategories {
		names = append(names, "category:"+c)
	}
	for _, r := range seedRows {
		names = append(names, genProduct(r.ID))
	}
	return names
}

// encodeRows is what an entry holds: the rows as the view showed them.
func encodeRows(rows []row) []byte {
	b, _ := json.Marshal(rows) // rows of plain fields always encode
	return b
}

var errCorrupt = errors.New("a lab entry could not be decoded")

func decodeRows(b []byte) ([]row, error) {
	var rows []row
	if err := json.Unmarshal(b, &rows); err != nil {
		return nil, fmt.Errorf("%w: %w", errCorrupt, err)
	}
	return rows, nil
}
