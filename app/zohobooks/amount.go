package zohobooks

import (
	"math"
	"strconv"
	"strings"
)

// CurrencyExponent returns the number of decimals of an ISO 4217 currency as
// Stripe counts them: 0 for zero-decimal currencies, 3 for the three-decimal
// ones, 2 for all others. The code is case-insensitive.
func CurrencyExponent(currency string) int {
	switch strings.ToLower(currency) {
	case "bif", "clp", "djf", "gnf", "jpy", "kmf", "krw", "mga", "pyg", "rwf", "ugx", "vnd", "vuv", "xaf", "xof", "xpf":
		return 0
	case "bhd", "jod", "kwd", "omr", "tnd":
		return 3
	}
	return 2
}

// MinorToMajor converts Stripe's integer minor units to the decimal major
// units Zoho expects: MinorToMajor(1234, "gbp") == 12.34.
//
// The result is the float64 nearest to the exact decimal (IEEE division is
// correctly rounded), so encoding/json writes it back as exactly "12.34".
func MinorToMajor(amount int64, currency string) float64 {
	return float64(amount) / math.Pow10(CurrencyExponent(currency))
}

// MajorToMinor converts a major-unit amount from Zoho back to minor units,
// rounding to the nearest unit.
func MajorToMinor(amount float64, currency string) int64 {
	return int64(math.Round(amount * math.Pow10(CurrencyExponent(currency))))
}

// FormatMinor renders minor units as a fixed-point decimal string with the
// currency's exponent: FormatMinor(1234, "gbp") == "12.34",
// FormatMinor(500, "jpy") == "500", FormatMinor(-5, "kwd") == "-0.005".
func FormatMinor(amount int64, currency string) string {
	exp := CurrencyExponent(currency)
	sign := ""
	u := uint64(amount)
	if amount < 0 {
		sign, u = "-", uint64(-amount) // two's complement: also right for MinInt64
	}
	digits := strconv.FormatUint(u, 10)
	if exp == 0 {
		return sign + digits
	}
	if len(digits) <= exp {
		digits = strings.Repeat("0", exp-len(digits)+1) + digits
	}
	cut := len(digits) - exp
	return sign + digits[:cut] + "." + digits[cut:]
}
