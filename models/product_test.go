package models_test

import (
	"errors"
	"strings"
	"testing"

	"cacheworkshop/models"
)

// isInvisible reports the characters Validate must refuse in names and
// descriptions: bidirectional embeddings, overrides and isolates, and the
// zero-width ones. It is written from the ranges, apart from the map in
// models, so a character missing there fails the tests.
func isInvisible(r rune) bool {
	return r >= 0x202a && r <= 0x202e || r >= 0x2066 && r <= 0x2069 || r >= 0x200b && r <= 0x200d || r == 0xfeff
}

// validInput is an edit that Validate accepts; each case spoils one field.
func validInput() models.ProductInput {
	return models.ProductInput{Name: "Desk lamp", Description: "A lamp.", Category: "Books", Price: "19.99", Stock: "5", Version: "1"}
}

func TestValidateRefusesInvisibleCharacters(t *testing.T) {
	tests := []struct {
		field, value string
		want         string // the message, or "" when the value is accepted
	}{
		{"name", "Lamp\u202egpj.exe", "Name must not contain the invisible character U+202E (right-to-left override) at position 5."},
		{"name", "\u202aLamp", "Name must not contain the invisible character U+202A (left-to-right embedding) at position 1."},
		{"name", "La\u202bmp", "U+202B (right-to-left embedding) at position 3"},
		{"name", "Lamp\u202c", "U+202C (pop directional formatting)"},
		{"name", "Lamp\u202dx", "U+202D (left-to-right override)"},
		{"name", "\u2066Lamp\u2069", "U+2066 (left-to-right isolate) at position 1"},
		{"name", "Lamp\u2067", "U+2067 (right-to-left isolate)"},
		{"name", "Lamp\u2068", "U+2068 (first strong isolate)"},
		{"name", "Lamp\u2069", "U+2069 (pop directional isolate)"},
		{"name", "Desk\u200blamp", "U+200B (zero width space) at position 5"},
		{"name", "Desk\u200clamp", "U+200C (zero width non-joiner)"},
		{"name", "Desk\u200dlamp", "U+200D (zero width joiner)"},
		// TrimSpace keeps a byte order mark: it is not a space.
		{"name", "\ufeffDesk lamp", "U+FEFF (zero width no-break space) at position 1"},
		// The position counts characters, not bytes.
		{"name", "Élan\u202e", "U+202E (right-to-left override) at position 5"},
		{"description", "Bright.\n\u202eNew line reversed", "Description must not contain the invisible character U+202E (right-to-left override) at position 9."},
		{"description", "Zero\u200bwidth", "Description must not contain the invisible character U+200B (zero width space) at position 5."},
		{"description", "BOM\ufeff", "U+FEFF"},
		// Neighbours of the ranges, and ordinary non-ASCII text, are fine.
		{"name", "Lamp\u2029x", "Name must not contain control characters."},
		{"name", "Lamp \u200e", ""}, // left-to-right mark: U+200E, outside the refused set
		{"name", "Lamp\u2065", ""},  // unassigned, outside the refused set
		{"name", "Lamp\u206a", ""},  // outside the refused set
		{"name", "Lampe à poser, 東京", ""},
		{"description", "עברית and English", ""},
	}
	for _, tt := range tests {
		in := validInput()
		switch tt.field {
		case "name":
			in.Name = tt.value
		case "description":
			in.Description = tt.value
		}
		_, err := in.Validate()
		if tt.want == "" {
			if err != nil {
				t.Errorf("%s %q: got error %v, want none", tt.field, tt.value, err)
			}
			continue
		}
		if got, want := models.ErrorCode(err), models.EUNPROC; got != want {
			t.Errorf("%s %q: got code %v, want %v", tt.field, tt.value, got, want)
			continue
		}
		var me *models.Error
		if !errors.As(err, &me) {
			t.Fatalf("%s %q: got %T, want *models.Error", tt.field, tt.value, err)
		}
		if got := me.Fields[tt.field]; !strings.Contains(got, tt.want) {
			t.Errorf("%s %q: got message %q, want it to contain %q", tt.field, tt.value, got, tt.want)
		}
		if len(me.Fields) != 1 {
			t.Errorf("%s %q: got fields %v, want only %s", tt.field, tt.value, me.Fields, tt.field)
		}
	}
}

// TestValidateRefusesEveryInvisibleCharacter walks the whole refused set,
// so that the messages' table cannot miss one.
func TestValidateRefusesEveryInvisibleCharacter(t *testing.T) {
	for r := rune(0x2000); r <= 0x2070; r++ {
		checkRune(t, r)
	}
	checkRune(t, 0xfeff)
}

func checkRune(t *testing.T, r rune) {
	t.Helper()
	in := validInput()
	in.Name = "a" + string(r) + "b"
	_, err := in.Validate()
	msg := ""
	var me *models.Error
	if errors.As(err, &me) {
		msg = me.Fields["name"]
	}
	refused := strings.Contains(msg, "invisible character U+")
	if got, want := refused, isInvisible(r); got != want {
		t.Errorf("name with %U: refused as invisible %v (%q), want %v", r, got, msg, want)
	}
}
