// Package plural writes counts with the noun in the right number, so that
// messages say "1 segment" and "2 segments", never "1 segments" or
// "segment(s)".
package plural

import "strconv"

// N returns n and the noun: singular for exactly 1, otherwise the plural,
// which is the singular with an "s" unless given (N(2, "entry", "entries")).
func N[I ~int | ~int64 | ~int32 | ~uint64 | ~uint32 | ~uint](n I, singular string, pluralForm ...string) string {
	return strconv.FormatInt(int64(n), 10) + " " + Word(n, singular, pluralForm...)
}

// Word is the noun alone in the number n asks for.
func Word[I ~int | ~int64 | ~int32 | ~uint64 | ~uint32 | ~uint](n I, singular string, pluralForm ...string) string {
	if n == 1 {
		return singular
	}
	if len(pluralForm) > 0 {
		return pluralForm[0]
	}
	return singular + "s"
}
