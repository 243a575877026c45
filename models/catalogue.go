package models

import (
	"context"
	"errors"
	"strconv"
	"time"

	"gorm.io/gorm"
)

// Cached fragments are keyed by a product's id and version ("5:v3") and
// carry no generation, so a pair must never come back with other content.
// Edits only raise versions; these two facts, kept in workshop_meta, cover
// creating and deleting:
//
//   - highID is the highest id the catalogue has ever used. A new product
//     takes the id after it, never the id of a deleted product: SQLite
//     would hand out MAX(id)+1 again after the newest product is deleted.
//   - retiredVersion is the highest version of any product deleted (or
//     replaced by a reset). Seeding starts above it, so a product that
//     comes back ("5" after a reset) never repeats a version it had.
const (
	metaHighID         = "high_id"
	metaRetiredVersion = "retired_version"
)

// metaInt reads a counter of workshop_meta, 0 when it was never set.
func metaInt(tx *gorm.DB, key string) (int64, error) {
	var v int64
	err := tx.Raw(`SELECT COALESCE((SELECT CAST(value AS INTEGER) FROM workshop_meta WHERE key = ?), 0)`, key).Scan(&v).Error
	return v, err
}

// raiseMeta raises a counter of workshop_meta to v, if it is lower.
func raiseMeta(tx *gorm.DB, key string, v int64) error {
	return tx.Exec(`INSERT INTO workshop_meta (key, value) VALUES (?, ?)
		ON CONFLICT(key) DO UPDATE SET value = CAST(MAX(CAST(value AS INTEGER), CAST(excluded.value AS INTEGER)) AS TEXT)`,
		key, strconv.FormatInt(v, 10)).Error
}

// RetiredVersion is the highest version a product of this database has
// had that no product has now (0 on a new database): seeding writes its
// products one above it. tx is the transaction that seeds.
func RetiredVersion(tx *gorm.DB) (int64, error) { return metaInt(tx, metaRetiredVersion) }

// Create adds a product from validated fields, at version 1 with a new id,
// and records the generations gens names for it in the same transaction
// (see Update).
func (s *Store) Create(ctx context.Context, c Changes, gens func(p Product) []string) (Product, Change, error) {
	var p Product
	var change Change
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		// Transactions begin IMMEDIATE (see Open): no other writer can
		// take the same id between this read and the insert.
		var top int64
		if err := tx.Raw(`SELECT COALESCE(MAX(id), 0) FROM products`).Scan(&top).Error; err != nil {
			return err
		}
		high, err := metaInt(tx, metaHighID)
		if err != nil {
			return err
		}
		now := time.Now().UTC()
		p = Product{ID: max(top, high) + 1, Name: c.Name, Description: c.Description, Category: c.Category,
			Price: c.Price, Stock: c.Stock, Version: 1, CreatedAt: now, UpdatedAt: now}
		if err := tx.Create(&p).Error; err != nil {
			return err
		}
		if err := raiseMeta(tx, metaHighID, p.ID); err != nil {
			return err
		}
		change, err = record(tx, gens(p))
		return err
	})
	if err != nil {
		return Product{}, Change{}, err
	}
	return p, change, nil
}

// Delete removes product id if it is still at version baseVersion, and
// records the generations gens names for it in the same transaction. A
// product that has changed since is not deleted: a *ConflictError with the
// current row, as for Update. It returns the deleted row.
func (s *Store) Delete(ctx context.Context, id, baseVersion int64, gens func(p Product) []string) (Product, Change, error) {
	var p Product
	var change Change
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := tx.Where("id = ?", id).Take(&p).Error; err != nil {
			if errors.Is(err, gorm.ErrRecordNotFound) {
				return Errorf(ENOTFOUND, "There is no product %d.", id)
			}
			return err
		}
		res := tx.Exec(`DELETE FROM products WHERE id = ? AND version = ?`, id, baseVersion)
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected == 0 {
			return &ConflictError{Current: p}
		}
		if err := raiseMeta(tx, metaHighID, p.ID); err != nil {
			return err
		}
		if err := raiseMeta(tx, metaRetiredVersion, p.Version); err != nil {
			return err
		}
		var err error
		change, err = record(tx, gens(p))
		return err
	})
	if err != nil {
		return Product{}, Change{}, err
	}
	return p, change, nil
}

// Position is how many products come before id in the catalogue's order,
// among all of them or, when category is not empty, among that
// category's: the 0-based place id has, or had before it was deleted.
func (s *Store) Position(ctx context.Context, id int64, category string) (int64, error) {
	q := s.db.WithContext(readCtx(ctx)).Model(&Product{}).Where("id < ?", id)
	if category != "" {
		q = q.Where("category = ?", category)
	}
	var n int64
	err := q.Count(&n).Error
	return n, err
}
