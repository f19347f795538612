package registry

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestUSCCKnownCodes checks the arithmetic against real codes, worked by hand
// with the values 0-9 → 0-9, A B C D E F G H J K L M N P Q R T U W X Y → 10-30:
//
//	91350100M000100Y43: values 9 1 3 5 0 1 0 0 21 0 0 0 1 0 0 30 4
//	  products 9+3+27+135+0+26+0+0+420+0+0+0+8+0+0+900+112 = 1640
//	  1640 mod 31 = 28 (52×31 = 1612); 31 − 28 = 3 → check '3' ✓
//	91110000600037341L: values 9 1 1 1 0 0 0 0 6 0 0 0 3 7 3 4 1
//	  products 9+3+9+27+0+0+0+0+120+0+0+0+24+168+30+120+28 = 538
//	  538 mod 31 = 11 (17×31 = 527); 31 − 11 = 20 → 'L' (A=10 … H=17, J=18, K=19, L=20) ✓
func TestUSCCKnownCodes(t *testing.T) {
	for _, code := range []string{usccFuzhou, usccBeijing} {
		require.NoError(t, ValidUSCC(code), code)
		c, err := USCCCheckChar(code[:17])
		require.NoError(t, err)
		require.Equal(t, code[17], c, code)
	}
}

// TestUSCCCheckCharZero covers 31 − 0 = 31, which GB 32100 writes as '0'.
func TestUSCCCheckCharZero(t *testing.T) {
	// The last weight, 28, is invertible mod 31, so exactly one value of
	// position 17 makes the sum divisible by 31.
	for _, last := range usccAlphabet {
		first17 := "9131011500000000" + string(last)
		sum := 0
		for i, w := range usccWeights {
			sum += strings.IndexByte(usccAlphabet, first17[i]) * w
		}
		if sum%31 != 0 {
			continue
		}
		c, err := USCCCheckChar(first17)
		require.NoError(t, err)
		require.Equal(t, byte('0'), c)
		require.NoError(t, ValidUSCC(first17+"0"))
		return
	}
	t.Fatal("no prefix with a sum divisible by 31")
}

func TestUSCCGeneratedRoundTrip(t *testing.T) {
	// Every character at every position of a valid prefix, so each weight and
	// value is exercised; changing the check character must then fail.
	base := []byte("91310115MA1K00000")
	for pos := 8; pos < 17; pos++ { // positions 1-8 are structured
		for _, r := range usccAlphabet {
			first17 := string(base[:pos]) + string(r) + string(base[pos+1:])
			code := makeUSCC(t, first17)
			require.NoError(t, ValidUSCC(code), code)
			wrong := code[:17] + string(usccAlphabet[(strings.IndexByte(usccAlphabet, code[17])+1)%31])
			requireInvalid(t, ValidUSCC(wrong), "uscc", fmt.Sprintf("check character should be %c", code[17]))
		}
	}
	// Every authority and a central-level division code.
	for _, a := range usccAuthorities {
		require.NoError(t, ValidUSCC(makeUSCC(t, string(a)+"1310000MB0000000")))
	}
	require.NoError(t, ValidUSCC(makeUSCC(t, "11100000000012345")))
}

func TestValidUSCCErrors(t *testing.T) {
	tests := []struct {
		name, code, reason string
	}{
		{"empty", "", "must be 18 characters, got 0"},
		{"too short", usccFuzhou[:17], "must be 18 characters, got 17"},
		{"too long", usccFuzhou + "1", "must be 18 characters, got 19"},
		{"counts characters, not bytes", "91350100M000100Y4中", "position 18 is '中'"},
		{"lower case", strings.ToLower(usccFuzhou), "position 9 is 'm': letters must be upper case"},
		{"letter I", "91350100I000100Y43", "position 9 is 'I', a letter the code never uses"},
		{"letter O", "9135010O0000100Y43", "position 8 is 'O'"},
		{"letter Z", "91350100Z000100Y43", "'Z'"},
		{"letter S", "91350100S000100Y43", "'S'"},
		{"letter V", "91350100V000100Y43", "'V'"},
		{"punctuation", "91350100-000100Y43", "only digits and the upper-case letters"},
		{"space", "91350100 000100Y43", "position 9 is ' '"},
		{"wrong check character", "91350100M000100Y44", "check character should be 3, not 4"},
		{"transposed digits", "91530100M000100Y43", "check character should be 8, not 3"},
		{"unknown authority", "B1350100M000100Y43", "position 1 is 'B', which is not a registration authority code"},
		{"entity type 0", "90350100M000100Y43", "position 2 is '0', which is not an entity type code"},
		{"entity type letter", "9A350100M000100Y43", "position 2 is 'A'"},
		{"division not a province", "91990100M000100Y43", "positions 3-8 (990100) are not an administrative division code: starts with 99"},
		{"division not digits", "913501A0M000100Y43", "positions 3-8 (3501A0)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			requireInvalid(t, ValidUSCC(tt.code), "uscc", tt.reason)
		})
	}
}

func TestUSCCCheckCharErrors(t *testing.T) {
	for first17, reason := range map[string]string{
		"":                     "needs exactly 17 characters",
		usccFuzhou:             "got 18",
		"91350100I000100Y4":    "position 9 is 'I'",
		"91350100m000100Y4":    "letters must be upper case",
		"9135010\x00M000100Y4": "position 8 is '\\x00'",
	} {
		_, err := USCCCheckChar(first17)
		requireInvalid(t, err, "uscc", reason)
	}
}

func TestValidRegionCode(t *testing.T) {
	for _, ok := range []string{"110000", "110105", "150102", "210102", "230103", "310115", "370102",
		"410102", "460105", "500103", "540102", "610113", "650102", "710000", "810000", "820000"} {
		require.NoError(t, ValidRegionCode(ok), ok)
	}
	tests := []struct{ code, reason string }{
		{"", "must be a 6-digit"},
		{"31011", "must be a 6-digit"},
		{"3101150", "must be a 6-digit"},
		{"31011a", "must be a 6-digit"},
		{"３１０１１５", "must be a 6-digit"}, // full-width digits
		{"-10115", "must be a 6-digit"},
		{"000000", "starts with 00"},
		{"100000", "starts with 10"}, // the national code: not where a merchant is
		{"160000", "starts with 16"},
		{"240000", "starts with 24"},
		{"380000", "starts with 38"},
		{"470000", "starts with 47"},
		{"550000", "starts with 55"},
		{"660000", "starts with 66"},
		{"720000", "starts with 72"},
		{"830000", "starts with 83"},
		{"910000", "starts with 91"},
	}
	for _, tt := range tests {
		requireInvalid(t, ValidRegionCode(tt.code), "region", tt.reason)
	}
}

func FuzzValidUSCC(f *testing.F) {
	for _, s := range []string{usccFuzhou, usccBeijing, "", "91350100m000100Y43", "91350100M000100Y4中", "\xff\xfe"} {
		f.Add(s)
	}
	f.Add(usccFuzhou[:17])
	f.Fuzz(func(t *testing.T, s string) {
		// Whatever the prefix, the computed check character completes it.
		if c, err := USCCCheckChar(s); err == nil {
			if err := ValidUSCC(s + string(c)); err != nil && strings.Contains(err.Error(), "check character") {
				t.Fatalf("%q completed with %q: %v", s, c, err)
			}
		}
		if ValidUSCC(s) != nil {
			return
		}
		if len(s) != 18 {
			t.Fatalf("accepted %q of %d bytes", s, len(s))
		}
		c, err := USCCCheckChar(s[:17])
		if err != nil || c != s[17] {
			t.Fatalf("accepted %q, but its check character is %q (%v)", s, c, err)
		}
	})
}
