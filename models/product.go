package models

import (
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Product is one catalogue row. Price is in integer cents so sums and
// comparisons are exact; Version goes up by one on every update and is what
// edit forms and cache keys use to detect change.
type Product struct {
	ID          int64     `gorm:"primaryKey" json:"id"`
	Name        string    `gorm:"not null" json:"name"`
	Description string    `gorm:"not null" json:"description"`
	Category    string    `gorm:"not null;index:idx_products_category_price,priority:1" json:"category"`
	Price       int64     `gorm:"not null;index:idx_products_category_price,priority:2" json:"price_cents"`
	Stock       int64     `gorm:"not null" json:"stock"`
	Version     int64     `gorm:"not null;default:1" json:"version"`
	CreatedAt   time.Time `json:"created_at"`
	UpdatedAt   time.Time `json:"updated_at"`
}

// CacheKey is the product's part of a cache key: its id and version, so
// every edit makes a new key for exactly this product (the "cache_key" of
// Russian-doll caching). It makes a Product usable with {{fragmentEach}}.
func (p Product) CacheKey() string {
	return strconv.FormatInt(p.ID, 10) + ":v" + strconv.FormatInt(p.Version, 10)
}

// Limits on editable fields.
const (
	MaxNameLen        = 200
	MaxDescriptionLen = 5000
	MaxPriceCents     = 100_000_000 // 1,000,000.00
	MaxStock          = 1_000_000
)

// Categories are the catalogue's departments; an edit must pick one.
var Categories = []string{
	"Books", "Electronics", "Garden", "Home & Kitchen", "Music",
	"Outdoors", "Sports", "Toys",
}

// IsCategory reports whether c is one of Categories.
func IsCategory(c string) bool {
	for _, k := range Categories {
		if k == c {
			return true
		}
	}
	return false
}

// FormatMoney renders cents as dollars with thousands separators: 123456 is
// "$1,234.56".
func FormatMoney(cents int64) string {
	neg := cents < 0
	if neg {
		cents = -cents
	}
	whole := strconv.FormatInt(cents/100, 10)
	var b strings.Builder
	if neg {
		b.WriteByte('-')
	}
	b.WriteByte('$')
	for i, c := range whole {
		if i > 0 && (len(whole)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	frac := cents % 100
	b.WriteByte('.')
	b.WriteByte(byte('0' + frac/10))
	b.WriteByte(byte('0' + frac%10))
	return b.String()
}

// PriceString renders cents as the plain decimal an edit form shows: "1234.56".
func PriceString(cents int64) string {
	return strconv.FormatInt(cents/100, 10) + "." + strconv.FormatInt(cents%100/10, 10) + strconv.FormatInt(cents%10, 10)
}

// ParsePrice reads a decimal price with at most two decimals ("12", "12.5",
// "1,234.56", optional leading "$") into cents, within 0..MaxPriceCents.
func ParsePrice(s string) (int64, error) {
	s = strings.TrimSpace(s)
	s = strings.TrimPrefix(s, "$")
	s = strings.ReplaceAll(s, ",", "")
	if s == "" {
		return 0, Errorf(EUNPROC, "Price is required.")
	}
	whole, frac, hasDot := strings.Cut(s, ".")
	if whole == "" {
		whole = "0"
	}
	if hasDot && frac == "" || len(frac) > 2 {
		return 0, Errorf(EUNPROC, "Price must have at most two decimals, like 19.99.")
	}
	if !allDigits(whole) || !allDigits(frac) {
		return 0, Errorf(EUNPROC, "Price must be a number like 19.99.")
	}
	if len(whole) > 7 {
		return 0, Errorf(EUNPROC, "Price must be between 0.00 and 1,000,000.00.")
	}
	w, _ := strconv.ParseInt(whole, 10, 64)
	f := int64(0)
	if frac != "" {
		f, _ = strconv.ParseInt(frac, 10, 64)
		if len(frac) == 1 {
			f *= 10
		}
	}
	cents := w*100 + f
	if cents > MaxPriceCents {
		return 0, Errorf(EUNPROC, "Price must be between 0.00 and 1,000,000.00.")
	}
	return cents, nil
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// ProductInput is an edit form as submitted, kept as strings so an invalid
// form can be shown again exactly as the user typed it.
type ProductInput struct {
	Name        string
	Description string
	Category    string
	Price       string
	Stock       string
	Version     string
}

// InputFrom fills a form from a product, for the edit page.
func InputFrom(p Product) ProductInput {
	return ProductInput{
		Name: p.Name, Description: p.Description, Category: p.Category,
		Price: PriceString(p.Price), Stock: strconv.FormatInt(p.Stock, 10),
		Version: strconv.FormatInt(p.Version, 10),
	}
}

// Changes is a validated edit.
type Changes struct {
	Name        string
	Description string
	Category    string
	Price       int64
	Stock       int64
	// BaseVersion is the version the form was opened at.
	BaseVersion int64
}

// Validate checks every field of an edit and returns the cleaned changes,
// or an *Error: EINVALID when the form lacks the version it was opened at,
// EUNPROC with one message per bad field otherwise.
func (in ProductInput) Validate() (Changes, error) {
	c, fields := in.check()
	v, err := strconv.ParseInt(strings.TrimSpace(in.Version), 10, 64)
	if err != nil || v < 1 {
		return c, Errorf(EINVALID, "The form is missing the version it was opened at; reload the edit page.")
	}
	c.BaseVersion = v
	if len(fields) > 0 {
		return c, &Error{Code: EUNPROC, Message: "Please correct the highlighted fields.", Fields: fields}
	}
	return c, nil
}

// ValidateNew checks a new product's fields by the same rules as an edit's;
// a new product has no version to start from, so Version is ignored.
func (in ProductInput) ValidateNew() (Changes, error) {
	c, fields := in.check()
	if len(fields) > 0 {
		return c, &Error{Code: EUNPROC, Message: "Please correct the highlighted fields.", Fields: fields}
	}
	return c, nil
}

// check cleans every field but the version, with one message per bad
// field.
func (in ProductInput) check() (Changes, map[string]string) {
	var c Changes
	fields := map[string]string{}

	c.Name = strings.TrimSpace(in.Name)
	invisibleName := hasInvisible(c.Name)
	switch n := utf8.RuneCountInString(c.Name); {
	case !utf8.ValidString(c.Name):
		fields["name"] = "Name must be valid UTF-8 text."
	case hasControl(c.Name, false):
		fields["name"] = "Name must not contain control characters."
	case invisibleName != "":
		fields["name"] = "Name must not contain " + invisibleName + "."
	case n == 0:
		fields["name"] = "Name is required."
	case n > MaxNameLen:
		fields["name"] = "Name must be at most 200 characters (it has " + strconv.Itoa(n) + ")."
	}

	c.Description = strings.TrimSpace(strings.ReplaceAll(in.Description, "\r\n", "\n"))
	invisibleDesc := hasInvisible(c.Description)
	switch n := utf8.RuneCountInString(c.Description); {
	case !utf8.ValidString(c.Description):
		fields["description"] = "Description must be valid UTF-8 text."
	case hasControl(c.Description, true):
		fields["description"] = "Description must not contain control characters."
	case invisibleDesc != "":
		fields["description"] = "Description must not contain " + invisibleDesc + "."
	case n > MaxDescriptionLen:
		fields["description"] = "Description must be at most 5,000 characters (it has " + strconv.Itoa(n) + ")."
	}

	c.Category = strings.TrimSpace(in.Category)
	if !IsCategory(c.Category) {
		fields["category"] = "Pick one of the listed categories."
	}

	if p, err := ParsePrice(in.Price); err != nil {
		fields["price"] = ErrorMessage(err)
	} else {
		c.Price = p
	}

	stock := strings.TrimSpace(in.Stock)
	if s, err := strconv.ParseInt(stock, 10, 64); err != nil || !allDigits(stock) || s > MaxStock {
		fields["stock"] = "Stock must be a whole number from 0 to 1,000,000."
	} else {
		c.Stock = s
	}

	return c, fields
}

func hasControl(s string, allowNewlines bool) bool {
	for _, r := range s {
		if allowNewlines && (r == '\n' || r == '\t') {
			continue
		}
		if unicode.IsControl(r) || r == '\u2028' || r == '\u2029' {
			return true
		}
	}
	return false
}

// invisible are the formatting characters a name or description may not
// contain, although they are not control characters: the bidirectional
// embeddings, overrides and isolates, which make text display in another
// order than it is stored (so "Lamp\u202egpj.exe" shows as
// "Lampexe.jpg"), and the zero-width characters, which make two names
// that look identical differ. Refusing them, rather than storing them
// escaped, keeps what the catalogue shows equal to what it stores.
var invisible = map[rune]string{
	'\u200b': "zero width space",
	'\u200c': "zero width non-joiner",
	'\u200d': "zero width joiner",
	'\u202a': "left-to-right embedding",
	'\u202b': "right-to-left embedding",
	'\u202c': "pop directional formatting",
	'\u202d': "left-to-right override",
	'\u202e': "right-to-left override",
	'\u2066': "left-to-right isolate",
	'\u2067': "right-to-left isolate",
	'\u2068': "first strong isolate",
	'\u2069': "pop directional isolate",
	'\ufeff': "zero width no-break space",
}

// hasInvisible names the first invisible character in s and where it is
// ("the invisible character U+202E (right-to-left override) at position
// 5"), or returns "" when there is none. The position counts characters
// from 1, since the character itself cannot be seen.
func hasInvisible(s string) string {
	pos := 0
	for _, r := range s {
		pos++
		if name, ok := invisible[r]; ok {
			return fmt.Sprintf("the invisible character U+%04X (%s) at position %d", r, name, pos)
		}
	}
	return ""
}

// ParseID reads a product id from a path segment: a positive decimal that
// fits in int64. Anything else is EINVALID (the handler shows 400); a
// well-formed id that does not exist is the store's ENOTFOUND.
func ParseID(s string) (int64, error) {
	if s == "" || len(s) > 19 || !allDigits(s) {
		return 0, Errorf(EINVALID, "Product id must be a positive whole number.")
	}
	id, err := strconv.ParseInt(s, 10, 64)
	if err != nil || id < 1 {
		return 0, Errorf(EINVALID, "Product id must be a positive whole number.")
	}
	return id, nil
}
