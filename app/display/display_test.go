package display

import "testing"

func TestFormatMoney(t *testing.T) {
	for _, tc := range []struct {
		amount   int64
		currency string
		want     string
	}{
		{123456, "gbp", "£1,234.56"},
		{5, "eur", "€0.05"},
		{-2500, "usd", "−$25.00"},
		{1234567, "jpy", "1,234,567 JPY"},
		{1500, "kwd", "1.500 KWD"},
		{100000000, "sek", "1,000,000.00 SEK"},
	} {
		if got := Money(tc.amount, tc.currency); got != tc.want {
			t.Errorf("Money(%d, %s) = %q, want %q", tc.amount, tc.currency, got, tc.want)
		}
	}
}
