package instances

import (
	"encoding/json"
	"strconv"
)

func itoa(n int) string { return strconv.Itoa(n) }

// formatRatio prints a hit ratio as a percentage with one decimal.
func formatRatio(f float64) string { return strconv.FormatFloat(f*100, 'f', 1, 64) + " %" }

func decodeAPI(b []byte) (itemAnswer, error) {
	var a itemAnswer
	err := json.Unmarshal(b, &a)
	return a, err
}
