package zohobooks

import (
	"encoding/json"
	"strconv"
	"strings"
	"testing"
)

func TestMinorToMajor(t *testing.T) {
	for _, tc := range []struct {
		minor    int64
		currency string
		want     float64
		json     string
		text     string
	}{
		{1234, "gbp", 12.34, "12.34", "12.34"},
		{1234, "GBP", 12.34, "12.34", "12.34"},
		{5, "gbp", 0.05, "0.05", "0.05"},
		{100, "eur", 1, "1", "1.00"},
		{500, "jpy", 500, "500", "500"},
		{1234, "kwd", 1.234, "1.234", "1.234"},
		{1, "kwd", 0.001, "0.001", "0.001"},
		{-1999, "usd", -19.99, "-19.99", "-19.99"},
	} {
		got := MinorToMajor(tc.minor, tc.currency)
		b, _ := json.Marshal(got)
		if got != tc.want || string(b) != tc.json {
			t.Errorf("MinorToMajor(%d, %s) = %v (JSON %s), want %v (%s)", tc.minor, tc.currency, got, b, tc.want, tc.json)
		}
		if s := FormatMinor(tc.minor, tc.currency); s != tc.text {
			t.Errorf("FormatMinor(%d, %s) = %q, want %q", tc.minor, tc.currency, s, tc.text)
		}
		if back := MajorToMinor(got, tc.currency); back != tc.minor {
			t.Errorf("MajorToMinor(%v, %s) = %d, want %d", got, tc.currency, back, tc.minor)
		}
	}
}

// Every amount up to 10^7 minor units encodes to exactly its decimal.
func TestMinorToMajorEncodesExactly(t *testing.T) {
	for _, cur := range []string{"gbp", "kwd"} {
		for minor := int64(0); minor < 10_000_000; minor += 7 {
			want := strings.TrimRight(strings.TrimRight(FormatMinor(minor, cur), "0"), ".")
			if want == "" {
				want = "0"
			}
			if got := strconv.FormatFloat(MinorToMajor(minor, cur), 'f', -1, 64); got != want {
				t.Fatalf("%d %s: %s, want %s", minor, cur, got, want)
			}
		}
	}
}
