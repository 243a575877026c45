package models

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"gorm.io/driver/sqlite"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	"cacheworkshop/trace"
)

// Store reads and writes products.
type Store struct {
	db *gorm.DB

	listOnce sync.Once
	list     *sql.Stmt // List
	listUpd  *sql.Stmt // ListWithUpdated
	count    *sql.Stmt
	listErr  error

	// epoch names this database (see Epoch).
	epoch string

	// queries counts every statement run, for the bench; each is also
	// timed into its request's trace by s.query.
	queries atomic.Int64
}

// Queries is how many statements the store has run since it was opened:
// the count make bench reports per request, from the same place that times
// each one into its request's trace.
func (s *Store) Queries() int64 { return s.queries.Load() }

// query records one statement that took d in ctx's trace and in the count.
func (s *Store) query(ctx context.Context, d time.Duration) {
	s.queries.Add(1)
	trace.From(ctx).DB(d)
}

// Open opens (creating if needed) the SQLite database at path, tuned for a
// read-heavy web app: WAL so readers never wait for the writer, a busy
// timeout instead of "database is locked" errors, and prepared statements.
// Every query is timed into the request's trace.
func Open(path string) (*Store, error) {
	if dir := filepath.Dir(path); dir != "" && path != ":memory:" {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, fmt.Errorf("create database folder: %w", err)
		}
	}
	dsn := "file:" + path + "?_journal_mode=WAL&_busy_timeout=5000&_synchronous=NORMAL&_foreign_keys=on&_txlock=immediate&cache=private&_mutex=no"
	db, err := gorm.Open(sqlite.Open(dsn), &gorm.Config{
		PrepareStmt:            true,
		SkipDefaultTransaction: true,
		Logger:                 logger.Discard,
		NowFunc:                func() time.Time { return time.Now().UTC() },
	})
	if err != nil {
		return nil, fmt.Errorf("open database %s: %w", path, err)
	}
	sqlDB, err := db.DB()
	if err != nil {
		return nil, err
	}
	sqlDB.SetMaxOpenConns(8)
	sqlDB.SetMaxIdleConns(8)
	sqlDB.SetConnMaxIdleTime(0)
	st := &Store{db: db}
	if err := st.registerTiming(); err != nil {
		return nil, err
	}
	if err := db.AutoMigrate(&Product{}); err != nil {
		return nil, fmt.Errorf("migrate: %w", err)
	}
	for _, schema := range []string{outboxSchema, metaSchema} {
		if err := db.Exec(schema).Error; err != nil {
			return nil, fmt.Errorf("migrate: %w", err)
		}
	}
	if st.epoch, err = initEpoch(db); err != nil {
		return nil, fmt.Errorf("migrate: %w", err)
	}
	return st, nil
}

// DB exposes the gorm handle (seeding, tests).
func (s *Store) DB() *gorm.DB { return s.db }

// Close closes the database.
func (s *Store) Close() error {
	for _, st := range []*sql.Stmt{s.list, s.listUpd, s.count} {
		if st != nil {
			_ = st.Close()
		}
	}
	sqlDB, err := s.db.DB()
	if err != nil {
		return err
	}
	return sqlDB.Close()
}

const startKey = "cw:start"

// registerTiming adds gorm callbacks that time every statement into the
// trace carried by the statement's context.
func (s *Store) registerTiming() error {
	before := func(tx *gorm.DB) { tx.InstanceSet(startKey, time.Now()) }
	after := func(tx *gorm.DB) {
		if v, ok := tx.InstanceGet(startKey); ok {
			s.query(tx.Statement.Context, time.Since(v.(time.Time)))
		}
	}
	cb := s.db.Callback()
	for _, err := range []error{
		cb.Query().Before("gorm:query").Register("cw:before_query", before),
		cb.Query().After("gorm:after_query").Register("cw:after_query", after),
		cb.Row().Before("gorm:row").Register("cw:before_row", before),
		cb.Row().After("gorm:row").Register("cw:after_row", after),
		cb.Raw().Before("gorm:raw").Register("cw:before_raw", before),
		cb.Raw().After("gorm:raw").Register("cw:after_raw", after),
		cb.Update().Before("gorm:update").Register("cw:before_update", before),
		cb.Update().After("gorm:update").Register("cw:after_update", after),
	} {
		if err != nil {
			return err
		}
	}
	return nil
}

// readCtx is the context of a read query: ctx's values (the trace) without
// its cancellation. mattn/go-sqlite3 runs every Rows.Next under a
// cancellable context on a goroutine of its own, so that it can interrupt
// SQLite; an uncached list page paid 22 goroutines, and their stack growth,
// for queries that take a fraction of a millisecond. A client that goes
// away still stops its request at the next step after the query. Writes
// keep their context.
func readCtx(ctx context.Context) context.Context {
	if ctx.Done() == nil {
		return ctx
	}
	return context.WithoutCancel(ctx)
}

// Count returns the number of products.
func (s *Store) Count(ctx context.Context) (int64, error) {
	if _, err := s.listStmt(); err != nil {
		return 0, err
	}
	t0 := time.Now()
	var n int64
	err := s.count.QueryRowContext(readCtx(ctx)).Scan(&n)
	s.query(ctx, time.Since(t0))
	return n, err
}

// List returns limit products ordered by id, starting after offset rows,
// with the columns the list page shows: Description, CreatedAt and
// UpdatedAt are left zero. It is the hot query of an uncached list page,
// so it skips gorm's reflection and scans from a prepared statement, and
// it reads no column it does not need: each column costs cgo calls into
// SQLite, and a timestamp a parse.
func (s *Store) List(ctx context.Context, offset, limit int) ([]Product, error) {
	return s.listPage(ctx, offset, limit, false)
}

// ListWithUpdated is List with UpdatedAt, for the JSON list.
func (s *Store) ListWithUpdated(ctx context.Context, offset, limit int) ([]Product, error) {
	return s.listPage(ctx, offset, limit, true)
}

func (s *Store) listPage(ctx context.Context, offset, limit int, updated bool) ([]Product, error) {
	if _, err := s.listStmt(); err != nil {
		return nil, err
	}
	stmt := s.list
	if updated {
		stmt = s.listUpd
	}
	t0 := time.Now()
	defer func() { s.query(ctx, time.Since(t0)) }()
	rows, err := stmt.QueryContext(readCtx(ctx), limit, offset)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	ps := make([]Product, 0, limit)
	for rows.Next() {
		var p Product
		if updated {
			err = rows.Scan(&p.ID, &p.Name, &p.Category, &p.Price, &p.Stock, &p.Version, &p.UpdatedAt)
		} else {
			err = rows.Scan(&p.ID, &p.Name, &p.Category, &p.Price, &p.Stock, &p.Version)
		}
		if err != nil {
			return nil, err
		}
		ps = append(ps, p)
	}
	return ps, rows.Err()
}

func (s *Store) listStmt() (*sql.Stmt, error) {
	s.listOnce.Do(func() {
		var db *sql.DB
		if db, s.listErr = s.db.DB(); s.listErr == nil {
			s.list, s.listErr = db.Prepare(`SELECT id, name, category, price, stock, version
				FROM products ORDER BY id LIMIT ? OFFSET ?`)
		}
		if s.listErr == nil {
			s.listUpd, s.listErr = db.Prepare(`SELECT id, name, category, price, stock, version, updated_at
				FROM products ORDER BY id LIMIT ? OFFSET ?`)
		}
		if s.listErr == nil {
			s.count, s.listErr = db.Prepare(`SELECT COUNT(*) FROM products`)
		}
	})
	return s.list, s.listErr
}

// Get returns one product or an ENOTFOUND error.
func (s *Store) Get(ctx context.Context, id int64) (Product, error) {
	var p Product
	err := s.db.WithContext(readCtx(ctx)).Where("id = ?", id).Take(&p).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return p, Errorf(ENOTFOUND, "There is no product %d.", id)
	}
	return p, err
}

// PriceStats places a product's price within its category: worth caching,
// because it aggregates over the whole category.
type PriceStats struct {
	Rank          int64 // 1 = most expensive in its category
	CategoryCount int64
	AvgCents      int64
	MinCents      int64
	MaxCents      int64
}

// PriceStats computes p's rank and its category's price figures.
func (s *Store) PriceStats(ctx context.Context, p Product) (PriceStats, error) {
	var r struct {
		Rank, N            int64
		Avg                float64
		MinPrice, MaxPrice int64
	}
	err := s.db.WithContext(readCtx(ctx)).Raw(`
		SELECT (SELECT COUNT(*) FROM products WHERE category = ? AND price > ?) + 1 AS rank,
		       COUNT(*) AS n, COALESCE(AVG(price), 0) AS avg,
		       COALESCE(MIN(price), 0) AS min_price, COALESCE(MAX(price), 0) AS max_price
		FROM products WHERE category = ?`, p.Category, p.Price, p.Category).Scan(&r).Error
	return PriceStats{Rank: r.Rank, CategoryCount: r.N, AvgCents: int64(r.Avg + 0.5), MinCents: r.MinPrice, MaxCents: r.MaxPrice}, err
}

// CategoryCount is one row of CategoryCounts.
type CategoryCount struct {
	Category string
	Count    int64
}

// CategoryCounts returns how many products each category has.
func (s *Store) CategoryCounts(ctx context.Context) ([]CategoryCount, error) {
	var out []CategoryCount
	err := s.db.WithContext(readCtx(ctx)).Model(&Product{}).Select("category, COUNT(*) AS count").
		Group("category").Order("category").Scan(&out).Error
	return out, err
}

// CategorySummary is one row of CatalogueSummary.
type CategorySummary struct {
	Category   string
	Count      int64
	AvgCents   float64
	StockValue int64 // sum of price × stock, in cents
}

// CatalogueSummary aggregates every product by category: a deliberately
// whole-table query, the kind of expensive summary worth a TTL cache.
func (s *Store) CatalogueSummary(ctx context.Context) ([]CategorySummary, error) {
	var out []CategorySummary
	err := s.db.WithContext(readCtx(ctx)).Raw(`
		SELECT category, COUNT(*) AS count, AVG(price) AS avg_cents, SUM(price * stock) AS stock_value
		FROM products GROUP BY category ORDER BY category`).Scan(&out).Error
	return out, err
}
