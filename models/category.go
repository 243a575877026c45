package models

import (
	"context"
	"strings"
)

// CategorySlug is a category's name in URLs and generation names: lower
// case letters and digits, every other run of characters one dash
// ("Home & Kitchen" is "home-kitchen").
func CategorySlug(c string) string {
	var b strings.Builder
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

// categoryBySlug maps each category's slug back to its name.
var categoryBySlug = func() map[string]string {
	m := make(map[string]string, len(Categories))
	for _, c := range Categories {
		m[CategorySlug(c)] = c
	}
	return m
}()

// CategoryBySlug returns the category whose slug is exactly slug. Only the
// listed categories have one, so a URL can name nothing else: an unknown
// slug is a 404 before any cache key is made from it.
func CategoryBySlug(slug string) (string, bool) {
	c, ok := categoryBySlug[slug]
	return c, ok
}

// CategoryCount returns how many products category c has.
func (s *Store) CategoryCount(ctx context.Context, c string) (int64, error) {
	var n int64
	err := s.db.WithContext(readCtx(ctx)).Model(&Product{}).Where("category = ?", c).Count(&n).Error
	return n, err
}

// ListCategory returns limit products of category c ordered by id,
// starting after offset of them, with the columns List returns.
func (s *Store) ListCategory(ctx context.Context, c string, offset, limit int) ([]Product, error) {
	ps := make([]Product, 0, limit)
	err := s.db.WithContext(readCtx(ctx)).Select("id", "name", "category", "price", "stock", "version").
		Where("category = ?", c).Order("id").Limit(limit).Offset(offset).Find(&ps).Error
	return ps, err
}
