package seed

import "testing"

func TestArticle(t *testing.T) {
	tests := []struct{ mat, noun, want string }{
		{"Wireless", "Speaker", "A wireless"},
		{"Ultra-Slim", "Keyboard", "An ultra-slim"},
		{"Annotated", "Atlas", "An annotated"},
		{"USB-C", "Charger", "A USB-C"},
		{"Wireless", "Headphones", "Wireless"},
		{"Compact", "Dumbbells", "Compact"},
		{"Pocket", "Field Guide", "A pocket"},
		{"Sturdy", "Trellis", "A sturdy"},
		{"Steel", "Trekking Poles", "Steel"},
	}
	for _, tt := range tests {
		if got := article(tt.mat, tt.noun); got != tt.want {
			t.Errorf("article(%q, %q): got %q, want %q", tt.mat, tt.noun, got, tt.want)
		}
	}
}
