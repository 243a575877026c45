package models

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"gorm.io/gorm"
)

// Change is one committed invalidation: the cache generations that a write
// made stale, recorded in the same transaction as the write itself (a
// transactional outbox). It commits or rolls back with the write, so it can
// never be lost or reordered, and it survives restarts. IDs only grow, in
// commit order: SQLite has one writer at a time, and AUTOINCREMENT never
// reuses an id.
type Change struct {
	ID        int64
	Names     []string // the generations to advance
	CreatedAt time.Time
}

// outboxSchema is created by Open. The names are stored space-separated:
// generation names never contain a space.
const outboxSchema = `CREATE TABLE IF NOT EXISTS invalidations (
	id INTEGER PRIMARY KEY AUTOINCREMENT,
	names TEXT NOT NULL,
	created_at DATETIME NOT NULL
)`

// metaSchema holds facts about the database itself.
const metaSchema = `CREATE TABLE IF NOT EXISTS workshop_meta (
	key TEXT PRIMARY KEY,
	value TEXT NOT NULL
)`

// initEpoch gives a new database its epoch, once: a random name that no
// other database shares. Change ids start again from 1 in a new database,
// so caches shared by several databases (one Redis, a deleted and
// re-created data/workshop.db) keep each database's keys apart by epoch.
func initEpoch(db *gorm.DB) (string, error) {
	b := make([]byte, 5)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	if err := db.Exec(`INSERT OR IGNORE INTO workshop_meta (key, value) VALUES ('epoch', ?)`, hex.EncodeToString(b)).Error; err != nil {
		return "", err
	}
	var epoch string
	err := db.Raw(`SELECT value FROM workshop_meta WHERE key = 'epoch'`).Scan(&epoch).Error
	return epoch, err
}

// Epoch is the database's own random name, made when it was created: the
// part of every shared cache key that tells this database's entries and
// change ids from another's.
func (s *Store) Epoch() string { return s.epoch }

// record appends a change to the outbox inside tx.
func record(tx *gorm.DB, names []string) (Change, error) {
	c := Change{Names: names, CreatedAt: time.Now().UTC()}
	res := tx.Exec(`INSERT INTO invalidations (names, created_at) VALUES (?, ?)`, strings.Join(names, " "), c.CreatedAt)
	if res.Error != nil {
		return c, res.Error
	}
	if err := tx.Raw(`SELECT last_insert_rowid()`).Scan(&c.ID).Error; err != nil {
		return c, err
	}
	return c, nil
}

// Update applies c if the product is still at c.BaseVersion, bumping the
// version, and records the generations gens names for the change in the
// same transaction. On a stale version it changes nothing and returns a
// *ConflictError with the current row (no lost updates): the check and
// the write are one UPDATE statement, so two concurrent editors cannot
// both win.
func (s *Store) Update(ctx context.Context, id int64, c Changes, gens func(before, after Product) []string) (Product, Change, error) {
	var after Product
	var change Change
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var before Product
		if err := tx.Where("id = ?", id).Take(&before).Error; err != nil {
			if errors.Is(err, gorm.ErrRecordNotFound) {
				return Errorf(ENOTFOUND, "There is no product %d.", id)
			}
			return err
		}
		res := tx.Model(&Product{}).
			Where("id = ? AND version = ?", id, c.BaseVersion).
			Updates(map[string]any{
				"name": c.Name, "description": c.Description, "category": c.Category,
				"price": c.Price, "stock": c.Stock,
				"version":    gorm.Expr("version + 1"),
				"updated_at": time.Now().UTC(),
			})
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected == 0 {
			return &ConflictError{Current: before}
		}
		if err := tx.Where("id = ?", id).Take(&after).Error; err != nil {
			return err
		}
		var err error
		change, err = record(tx, gens(before, after))
		return err
	})
	if err != nil {
		return Product{}, Change{}, err
	}
	return after, change, nil
}

// Reset replaces the catalogue with the one reseed writes, inside one
// transaction with its outbox entry: products created since the seed are
// gone, deleted ones are back. Every version the catalogue had, deleted
// products' included, is retired first, and reseed (seed.Seed) writes its
// products above the retired versions, so no key or ETag built from
// "id:vN" before the reset can match a product after it. gens names the
// generations to advance, given the highest product id there was.
func (s *Store) Reset(ctx context.Context, reseed func(tx *gorm.DB) error, gens func(maxID int64) []string) (Change, error) {
	var change Change
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var top struct{ MaxID, MaxVersion int64 }
		if err := tx.Raw(`SELECT COALESCE(MAX(id), 0) AS max_id, COALESCE(MAX(version), 0) AS max_version FROM products`).
			Scan(&top).Error; err != nil {
			return err
		}
		if err := raiseMeta(tx, metaRetiredVersion, top.MaxVersion); err != nil {
			return err
		}
		if err := raiseMeta(tx, metaHighID, top.MaxID); err != nil {
			return err
		}
		if err := tx.Exec(`DELETE FROM products`).Error; err != nil {
			return err
		}
		if err := reseed(tx); err != nil {
			return err
		}
		var err error
		change, err = record(tx, gens(top.MaxID))
		return err
	})
	return change, err
}

// ChangesSince returns up to limit changes with an id above after, oldest
// first.
func (s *Store) ChangesSince(ctx context.Context, after int64, limit int) ([]Change, error) {
	var rows []struct {
		ID        int64
		Names     string
		CreatedAt time.Time
	}
	err := s.db.WithContext(readCtx(ctx)).Raw(`SELECT id, names, created_at FROM invalidations WHERE id > ? ORDER BY id LIMIT ?`,
		after, limit).Scan(&rows).Error
	out := make([]Change, len(rows))
	for i, r := range rows {
		out[i] = Change{ID: r.ID, Names: strings.Fields(r.Names), CreatedAt: r.CreatedAt}
	}
	return out, err
}

// LastChange returns the id of the newest change, 0 when there is none.
func (s *Store) LastChange(ctx context.Context) (int64, error) {
	var id int64
	err := s.db.WithContext(readCtx(ctx)).Raw(`SELECT COALESCE(MAX(id), 0) FROM invalidations`).Scan(&id).Error
	return id, err
}

// Watcher tells cheaply whether another connection, in this process or
// another, has committed to the database since it last looked: SQLite's
// PRAGMA data_version, read on one connection of its own (the value is
// per connection). It costs no table read, so it can be polled a few
// times a second.
type Watcher struct {
	conn *sql.Conn
	last int64
}

// Watch opens a Watcher; Close it when done.
func (s *Store) Watch(ctx context.Context) (*Watcher, error) {
	sqlDB, err := s.db.DB()
	if err != nil {
		return nil, err
	}
	conn, err := sqlDB.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("watch database: %w", err)
	}
	w := &Watcher{conn: conn}
	_, err = w.Changed(ctx)
	return w, err
}

// Changed reports whether anything was committed since the last call.
func (w *Watcher) Changed(ctx context.Context) (bool, error) {
	var v int64
	if err := w.conn.QueryRowContext(ctx, `PRAGMA data_version`).Scan(&v); err != nil {
		return false, err
	}
	changed := v != w.last
	w.last = v
	return changed, nil
}

// Close releases the watcher's connection.
func (w *Watcher) Close() error { return w.conn.Close() }
