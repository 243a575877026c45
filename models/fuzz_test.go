package models_test

import (
	"strconv"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"cacheworkshop/models"
)

// FuzzParsePrice: an accepted price is within 0..MaxPriceCents, was not
// written as a negative, and survives PriceString and back.
func FuzzParsePrice(f *testing.F) {
	for _, s := range []string{"0", "19.99", "12.5", "$1,234.56", " 7 ", ".5", "1000000.00", "1000000.01", "-1", "-0",
		"1e5", "NaN", "", "1.", "1.234", "99999999999999999999", "0x10", "+1", "１２", "$", ",", "1,,0"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, err := models.ParsePrice(s)
		if err != nil {
			if models.ErrorCode(err) != models.EUNPROC {
				t.Fatalf("ParsePrice(%q): error code %q, want %q", s, models.ErrorCode(err), models.EUNPROC)
			}
			return
		}
		if c < 0 || c > models.MaxPriceCents {
			t.Fatalf("ParsePrice(%q) = %d, outside 0..%d", s, c, models.MaxPriceCents)
		}
		if strings.Contains(s, "-") {
			t.Fatalf("ParsePrice(%q) = %d: accepted a minus sign", s, c)
		}
		back, err := models.ParsePrice(models.PriceString(c))
		if err != nil || back != c {
			t.Fatalf("ParsePrice(PriceString(%d) = %q) = %d, %v; want %d", c, models.PriceString(c), back, err, c)
		}
	})
}

// FuzzValidate: Validate never panics, and what it accepts is what the
// store may hold.
func FuzzValidate(f *testing.F) {
	f.Add("Desk lamp", "A lamp.", "Books", "19.99", "5", "1")
	f.Add("", "", "", "", "", "")
	f.Add("  x  ", "a\r\nb\tc", " Toys ", "$1,000,000.00", "1000000", "99")
	f.Add("bad\x00", "\x07", "books", "-1", "-1", "0")
	f.Add("\xff", "\xc3\x28", "<script>", "1e3", "1.5", "abc")
	f.Add(strings.Repeat("é", 201), strings.Repeat("d", 5001), "Music", "1.234", "+5", "-1")
	f.Add("a\u2028b", "ok", "Garden", "0", "0", "9223372036854775808")
	f.Add("Lamp\u202egpj.exe", "zero\u200bwidth", "Books", "1", "1", "1")
	f.Fuzz(func(t *testing.T, name, desc, cat, price, stock, version string) {
		in := models.ProductInput{Name: name, Description: desc, Category: cat, Price: price, Stock: stock, Version: version}
		c, err := in.Validate()
		if err != nil {
			if code := models.ErrorCode(err); code != models.EUNPROC && code != models.EINVALID {
				t.Fatalf("Validate(%+v): error code %q", in, code)
			}
			return
		}
		n := utf8.RuneCountInString(c.Name)
		if !utf8.ValidString(c.Name) || n < 1 || n > models.MaxNameLen {
			t.Fatalf("accepted name %q: %d runes, valid UTF-8 %v", c.Name, n, utf8.ValidString(c.Name))
		}
		for _, r := range c.Name {
			if unicode.IsControl(r) || r == '\u2028' || r == '\u2029' {
				t.Fatalf("accepted name %q with control character %U", c.Name, r)
			}
		}
		if c.Name != strings.TrimSpace(c.Name) {
			t.Fatalf("accepted name %q is not trimmed", c.Name)
		}
		if !utf8.ValidString(c.Description) || utf8.RuneCountInString(c.Description) > models.MaxDescriptionLen {
			t.Fatalf("accepted description of %d runes, valid UTF-8 %v", utf8.RuneCountInString(c.Description), utf8.ValidString(c.Description))
		}
		for _, r := range c.Description {
			if r != '\n' && r != '\t' && (unicode.IsControl(r) || r == '\u2028' || r == '\u2029') {
				t.Fatalf("accepted description with control character %U", r)
			}
		}
		for _, r := range c.Name + c.Description {
			if isInvisible(r) {
				t.Fatalf("accepted name %q or description with the invisible character %U", c.Name, r)
			}
		}
		if !models.IsCategory(c.Category) {
			t.Fatalf("accepted category %q", c.Category)
		}
		if c.Price < 0 || c.Price > models.MaxPriceCents || c.Stock < 0 || c.Stock > models.MaxStock {
			t.Fatalf("accepted price %d, stock %d", c.Price, c.Stock)
		}
		if c.BaseVersion < 1 {
			t.Fatalf("accepted version %d", c.BaseVersion)
		}
	})
}

// FuzzParseID: accepted ids are positive, written in plain digits, and
// every positive int64 is accepted in its canonical form.
func FuzzParseID(f *testing.F) {
	for _, s := range []string{"1", "0", "-1", "007", "1000", "9223372036854775807", "9223372036854775808", "99999999999999999999",
		"", " 1", "1 ", "+1", "1e3", "0x1", "١", "\xff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		id, err := models.ParseID(s)
		if err != nil {
			if models.ErrorCode(err) != models.EINVALID {
				t.Fatalf("ParseID(%q): error code %q, want %q", s, models.ErrorCode(err), models.EINVALID)
			}
			return
		}
		if id < 1 {
			t.Fatalf("ParseID(%q) = %d", s, id)
		}
		for i := 0; i < len(s); i++ {
			if s[i] < '0' || s[i] > '9' {
				t.Fatalf("ParseID(%q) = %d: accepted a non-digit", s, id)
			}
		}
		canon := strconv.FormatInt(id, 10)
		if back, err := models.ParseID(canon); err != nil || back != id {
			t.Fatalf("ParseID(%q) = %d, %v; want %d", canon, back, err, id)
		}
	})
}
