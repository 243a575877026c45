// Package seed fills an empty catalogue with 1000 deterministic, varied
// products, so every learner sees the same catalogue and the same numbers
// mean the same thing in every classroom.
package seed

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"gorm.io/gorm"

	"cacheworkshop/models"
)

// Count is how many products a fresh catalogue has.
const Count = 1000

type department struct {
	nouns     []string
	materials []string
	minCents  int64
	maxCents  int64
	uses      []string
}

var departments = map[string]department{
	"Books": {
		nouns:     []string{"Cookbook", "Field Guide", "Novel", "Atlas", "Handbook", "Anthology", "Workbook", "Memoir"},
		materials: []string{"Hardcover", "Paperback", "Illustrated", "Annotated", "Pocket", "Collector's"},
		minCents:  599, maxCents: 8999,
		uses: []string{"long train rides", "a rainy weekend", "curious teenagers", "book clubs", "the bedside table"},
	},
	"Electronics": {
		nouns:     []string{"Headphones", "Speaker", "Charger", "Webcam", "Keyboard", "Monitor Arm", "Power Bank", "Router"},
		materials: []string{"Wireless", "USB-C", "Noise-Cancelling", "Compact", "Ultra-Slim", "Pro"},
		minCents:  1499, maxCents: 89999,
		uses: []string{"home offices", "video calls", "travel", "gaming sessions", "the living room"},
	},
	"Garden": {
		nouns:     []string{"Planter", "Hose", "Pruner", "Seed Kit", "Trowel", "Watering Can", "Compost Bin", "Trellis"},
		materials: []string{"Cedar", "Galvanised", "Terracotta", "Recycled", "Heavy-Duty", "Self-Watering"},
		minCents:  799, maxCents: 24999,
		uses: []string{"balcony gardens", "raised beds", "herb growers", "allotments", "first-time gardeners"},
	},
	"Home & Kitchen": {
		nouns:     []string{"Skillet", "Kettle", "Knife Set", "Cutting Board", "Blender", "Mixing Bowls", "Tea Towel Set", "Storage Jars"},
		materials: []string{"Cast Iron", "Stainless", "Bamboo", "Ceramic", "Enamel", "Glass"},
		minCents:  999, maxCents: 29999,
		uses: []string{"weeknight dinners", "small kitchens", "batch cooking", "weekend baking", "family breakfasts"},
	},
	"Music": {
		nouns:     []string{"Ukulele", "Guitar Strings", "Metronome", "Capo", "Harmonica", "Drum Pad", "Music Stand", "Tuner"},
		materials: []string{"Mahogany", "Chromatic", "Folding", "Clip-On", "Studio", "Travel"},
		minCents:  499, maxCents: 59999,
		uses: []string{"daily practice", "beginners", "buskers", "band rehearsals", "music teachers"},
	},
	"Outdoors": {
		nouns:     []string{"Tent", "Sleeping Bag", "Headlamp", "Backpack", "Camp Stove", "Water Filter", "Hammock", "Trekking Poles"},
		materials: []string{"Ultralight", "Waterproof", "Insulated", "Ripstop", "Four-Season", "Packable"},
		minCents:  1299, maxCents: 64999,
		uses: []string{"weekend hikes", "alpine trips", "festival camping", "bikepacking", "cold nights"},
	},
	"Sports": {
		nouns:     []string{"Yoga Mat", "Dumbbells", "Jump Rope", "Football", "Tennis Racket", "Cycling Gloves", "Foam Roller", "Swim Goggles"},
		materials: []string{"Non-Slip", "Adjustable", "Carbon", "Training", "Competition", "Padded"},
		minCents:  699, maxCents: 39999,
		uses: []string{"home workouts", "club training", "recovery days", "morning runs", "the school team"},
	},
	"Toys": {
		nouns:     []string{"Building Set", "Puzzle", "Kite", "Board Game", "Marble Run", "Plush Fox", "Train Set", "Science Kit"},
		materials: []string{"Wooden", "Magnetic", "Glow-in-the-Dark", "Giant", "Junior", "Deluxe"},
		minCents:  499, maxCents: 14999,
		uses: []string{"rainy afternoons", "family game night", "birthday presents", "curious minds", "ages 6 and up"},
	},
}

var (
	brands = []string{"Northwind", "Acorn & Oak", "Bluebird", "Kestrel", "Harbor", "Lumen", "Tidewater",
		"Copperline", "Fernhill", "Granite Peak", "Maple Row", "Solstice"}
	colours = []string{"Slate", "Sage", "Ocean", "Ember", "Sand", "Midnight", "Coral", "Forest", "Pebble", "Saffron"}
	perks   = []string{
		"Backed by a two-year warranty.", "Ships in plastic-free packaging.",
		"Designed and tested in small batches.", "Easy to clean and built to last.",
		"A customer favourite for three years running.", "Replacement parts available on request.",
	}
)

// Products returns the deterministic catalogue (without ids).
func Products(now time.Time) []models.Product {
	rng := rand.New(rand.NewPCG(2024, 1123))
	ps := make([]models.Product, 0, Count)
	for i := range Count {
		cat := models.Categories[rng.IntN(len(models.Categories))]
		d := departments[cat]
		brand := brands[rng.IntN(len(brands))]
		mat := d.materials[rng.IntN(len(d.materials))]
		noun := d.nouns[rng.IntN(len(d.nouns))]
		colour := colours[rng.IntN(len(colours))]
		name := fmt.Sprintf("%s %s %s", brand, mat, noun)
		if rng.IntN(3) == 0 {
			name += " — " + colour
		}
		// Prices cluster toward the low end of a department's range, as
		// real catalogues do, and end in .99, .49 or .00.
		span := float64(d.maxCents - d.minCents)
		f := rng.Float64()
		cents := d.minCents + int64(f*f*span)
		cents = cents/100*100 + []int64{99, 49, 0, 99}[rng.IntN(4)]
		desc := fmt.Sprintf("%s %s from %s, in %s. Made for %s. %s",
			article(mat, noun), strings.ToLower(noun), brand, strings.ToLower(colour),
			d.uses[rng.IntN(len(d.uses))], perks[rng.IntN(len(perks))])
		stock := int64(rng.IntN(250))
		if rng.IntN(10) == 0 {
			stock = 0
		}
		created := now.Add(-time.Duration(Count-i) * 37 * time.Minute)
		ps = append(ps, models.Product{
			// Explicit ids keep the catalogue identical after a reset,
			// whatever the table's id sequence has reached.
			ID:   int64(i + 1),
			Name: name, Description: desc, Category: cat, Price: cents, Stock: stock,
			Version: 1, CreatedAt: created, UpdatedAt: created,
		})
	}
	return ps
}

// Seed inserts the catalogue in one transaction when the products table is
// empty, and does nothing otherwise, so running it again never duplicates.
// It reports how many rows it inserted. On a new database every product is
// at version 1; on one whose products were deleted (or are being replaced
// by a reset) each starts one above the highest version any product had,
// so no "id:vN" cache key can come back with other content.
func Seed(ctx context.Context, db *gorm.DB) (int, error) {
	inserted := 0
	err := db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var n int64
		if err := tx.Model(&models.Product{}).Count(&n).Error; err != nil {
			return err
		}
		if n > 0 {
			return nil
		}
		retired, err := models.RetiredVersion(tx)
		if err != nil {
			return err
		}
		ps := Products(time.Date(2026, 1, 1, 9, 0, 0, 0, time.UTC))
		for i := range ps {
			ps[i].Version += retired
		}
		if err := tx.CreateInBatches(ps, 100).Error; err != nil {
			return err
		}
		inserted = len(ps)
		return nil
	})
	return inserted, err
}

// article starts a description: "A cotton towel", "An oak board", "A
// USB-C charger" (an acronym keeps its case and, like "USB", may sound
// like a consonant), and no article before a plural ("Wireless headphones").
func article(mat, noun string) string {
	m := mat
	if m != strings.ToUpper(m) {
		m = strings.ToLower(m)
	}
	if plural(noun) {
		return strings.ToUpper(m[:1]) + m[1:]
	}
	if strings.ContainsRune("aeiou", rune(m[0])) {
		return "An " + m
	}
	return "A " + m
}

// plural tells the catalogue's plural nouns (Headphones, Dumbbells) from
// singular ones that end in s (Atlas, Trellis).
func plural(noun string) bool {
	if !strings.HasSuffix(noun, "s") {
		return false
	}
	for _, end := range []string{"as", "is", "us", "ss"} {
		if strings.HasSuffix(noun, end) {
			return false
		}
	}
	return true
}
