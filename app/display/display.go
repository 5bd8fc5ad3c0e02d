// Package display renders values for people the one way every page shows them, the admin
// console's and the customers' alike: money always with its currency, dates as 16 Nov 2026.
package display

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/technifold/technifold/app/zohobooks"
)

// DateFormat is the one date format (times add " 15:04 UTC").
const DateFormat = "2 Jan 2006"

// Money renders minor units with the currency: "£1,234.50", "1,234.50 SEK".
func Money(amount int64, currency string) string {
	digits := zohobooks.CurrencyExponent(currency)
	neg := amount < 0
	if neg {
		amount = -amount
	}
	scale := int64(math.Pow10(digits))
	whole, frac := amount/scale, amount%scale
	s := strconv.FormatInt(whole, 10)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	if digits > 0 {
		s += "." + fmt.Sprintf("%0*d", digits, frac)
	}
	switch strings.ToLower(currency) {
	case "gbp":
		s = "£" + s
	case "usd":
		s = "$" + s
	case "eur":
		s = "€" + s
	default:
		s += " " + strings.ToUpper(currency)
	}
	if neg {
		s = "−" + s
	}
	return s
}
