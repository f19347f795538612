package registry

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// usccAlphabet is the character set of GB 32100-2015 in value order (0..30).
// I, O, S, V and Z are left out so they cannot be misread as 1, 0, 5, U and 2.
const usccAlphabet = "0123456789ABCDEFGHJKLMNPQRTUWXY"

// usccWeights are 3^i mod 31 for positions 1..17.
var usccWeights = [17]int{1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28}

// usccAuthorities are the registration authority codes of GB 32100-2015
// appendix A (1 机构编制 … 9 市场监管/工商, A 军队, N 农业, Y 其他).
const usccAuthorities = "123456789ANY"

// usccCentralDivision is the division code (中华人民共和国) that centrally
// registered bodies carry in positions 3-8; it is not a merchant region.
const usccCentralDivision = "100000"

// ValidUSCC checks an 18-character unified social credit code (统一社会信用代码,
// GB 32100-2015): its character set, registration authority (position 1),
// entity type (position 2: a digit 1-9; which types each authority may use is
// not checked, as the authorities extend that table), division code
// (positions 3-8, see ValidRegionCode) and check character (position 18).
// The error is VALIDATION_FAILED on field uscc with a reason naming the
// position at fault, e.g. "check character should be 3, not 4".
func ValidUSCC(s string) error {
	return invalid("uscc", usccProblem(s))
}

// USCCCheckChar computes the check character (position 18) of a code's first
// 17 characters: 31 − (Σ value×weight mod 31), where 31 stands for '0'.
// It checks only the character set, so tools can build codes from any prefix.
func USCCCheckChar(first17 string) (byte, error) {
	if n := utf8.RuneCountInString(first17); n != 17 {
		return 0, invalid("uscc", fmt.Sprintf("needs exactly 17 characters to compute a check character, got %d", n))
	}
	if reason := usccCharsProblem(first17); reason != "" {
		return 0, invalid("uscc", reason)
	}
	return usccCheck(first17), nil
}

// usccCheck assumes 17 characters of the alphabet.
func usccCheck(first17 string) byte {
	sum := 0
	for i, w := range usccWeights {
		sum += strings.IndexByte(usccAlphabet, first17[i]) * w
	}
	return usccAlphabet[(31-sum%31)%31]
}

func usccProblem(s string) string {
	if n := utf8.RuneCountInString(s); n != 18 {
		return fmt.Sprintf("must be 18 characters, got %d", n)
	}
	if reason := usccCharsProblem(s); reason != "" {
		return reason
	}
	// All ASCII from here on, so bytes are characters.
	if strings.IndexByte(usccAuthorities, s[0]) < 0 {
		return fmt.Sprintf("position 1 is %q, which is not a registration authority code (1-9, A, N or Y)", s[0])
	}
	if s[1] < '1' || s[1] > '9' {
		return fmt.Sprintf("position 2 is %q, which is not an entity type code (a digit 1-9)", s[1])
	}
	if division := s[2:8]; division != usccCentralDivision {
		if reason := regionProblem(division); reason != "" {
			return fmt.Sprintf("positions 3-8 (%s) are not an administrative division code: %s", division, reason)
		}
	}
	if want := usccCheck(s[:17]); s[17] != want {
		return fmt.Sprintf("check character should be %c, not %c; if the code was copied correctly, one of the first 17 characters is mistyped", want, s[17])
	}
	return ""
}

// usccCharsProblem reports the first character outside the alphabet, saying
// what was probably meant.
func usccCharsProblem(s string) string {
	for i, r := range []rune(s) {
		pos := i + 1
		switch {
		case r < utf8.RuneSelf && strings.IndexByte(usccAlphabet, byte(r)) >= 0:
		case r >= 'a' && r <= 'z':
			return fmt.Sprintf("position %d is %q: letters must be upper case", pos, r)
		case strings.ContainsRune("IOSVZ", r):
			return fmt.Sprintf("position %d is %q, a letter the code never uses (I, O, S, V and Z are left out; did you mean 1, 0, 5, U or 2?)", pos, r)
		default:
			return fmt.Sprintf("position %d is %q; only digits and the upper-case letters A-H, J-N, P-R, T, U and W-Y occur", pos, r)
		}
	}
	return ""
}

// ValidRegionCode checks a 6-digit administrative division code (GB/T 2260,
// e.g. 310115 for Pudong). Only the province-level prefix is checked: the full
// table of some 3,000 divisions changes every year, and a stale copy would
// refuse real merchants. The error is VALIDATION_FAILED on field region.
func ValidRegionCode(s string) error {
	return invalid("region", regionProblem(s))
}

func regionProblem(s string) string {
	if len(s) != 6 || strings.Trim(s, "0123456789") != "" {
		return "must be a 6-digit administrative division code (GB/T 2260), such as 310115"
	}
	switch p := int(s[0]-'0')*10 + int(s[1]-'0'); {
	case p >= 11 && p <= 15, p >= 21 && p <= 23, p >= 31 && p <= 37, p >= 41 && p <= 46,
		p >= 50 && p <= 54, p >= 61 && p <= 65, p == 71, p == 81, p == 82:
		return ""
	}
	return fmt.Sprintf("starts with %s, which is not a province-level division (11-15, 21-23, 31-37, 41-46, 50-54, 61-65, 71, 81 or 82)", s[:2])
}
