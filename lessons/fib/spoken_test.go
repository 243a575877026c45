package fib

import (
	"testing"
	"time"
)

func TestSpoken(t *testing.T) {
	tests := []struct {
		d    time.Duration
		want string
	}{
		{0, "0 ns"},
		{850 * time.Nanosecond, "850 ns"},
		{time.Microsecond, "1 µs"},
		{1234 * time.Nanosecond, "1.23 µs"},
		{340 * time.Microsecond, "340 µs"},
		{12500 * time.Microsecond, "12.5 ms"},
		{999400 * time.Nanosecond, "999 µs"},
		{999700 * time.Nanosecond, "1 ms"},
		{999999 * time.Microsecond, "1 s"},
		{59970 * time.Millisecond, "1 min"},
		{59*time.Minute + 50*time.Second, "1 h"},
		{1200 * time.Millisecond, "1.2 s"},
		{59 * time.Second, "59 s"},
		{time.Minute, "1 min"},
		{5 * time.Minute, "5 min"},
		{90 * time.Second, "1 min 30 s"},
		{time.Hour, "1 h"},
		{90 * time.Minute, "1 h 30 min"},
		{-2 * time.Second, "-2 s"},
	}
	for _, tt := range tests {
		if got := spoken(tt.d); got != tt.want {
			t.Errorf("spoken(%v): got %q, want %q", tt.d, got, tt.want)
		}
	}
}
