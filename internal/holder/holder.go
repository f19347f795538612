// Package holder is the citizen a voucher belongs to, known to platforms by a
// real-name-verified resident ID number. The number is validated and then only
// ever kept as a keyed hash (HMAC-SHA256 with a server secret): limits hold
// across platforms, and nothing readable is stored, logged or returned.
package holder

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/tongquan/tongquan/internal/apperr"
)

// Error codes about holders.
const (
	CodeHolderNotEligible apperr.Code = "HOLDER_NOT_ELIGIBLE"
)

func init() { apperr.Register(CodeHolderNotEligible, 403) }

// Hash is the keyed hash of a resident ID number.
type Hash [32]byte

// String is the hash in hex (safe to log: it cannot be reversed without the key).
func (h Hash) String() string { return hex.EncodeToString(h[:]) }

// Hasher keys the hash of ID numbers. The key must stay the same for the life
// of the data: a new key makes every holder a stranger to their limits.
type Hasher struct {
	key []byte
	// macs holds keyed HMACs to Reset and reuse: hmac.New hashes the key
	// pads and allocates each time, a fifth of a grant upload's CPU.
	macs sync.Pool
}

// NewHasher needs a key of at least 32 bytes.
func NewHasher(key []byte) (*Hasher, error) {
	if len(key) < 32 {
		return nil, fmt.Errorf("the holder hash key must be at least 32 bytes, got %d", len(key))
	}
	h := &Hasher{key: append([]byte(nil), key...)}
	h.macs.New = func() any { return hmac.New(sha256.New, h.key) }
	return h, nil
}

// Hash returns the keyed hash of an ID number already validated and normalised.
func (h *Hasher) Hash(idNumber string) Hash {
	m := h.macs.Get().(hash.Hash)
	m.Reset()
	io.WriteString(m, idNumber)
	var out Hash
	m.Sum(out[:0])
	h.macs.Put(m)
	return out
}

// weights of ISO 7064 MOD 11-2 over the first 17 digits (2^(17-i) mod 11).
var weights = [17]int{7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2}

const checkChars = "10X98765432"

// CheckChar is the check character of the first 17 digits of a resident ID number.
func CheckChar(first17 string) (byte, error) {
	if len(first17) != 17 {
		return 0, fmt.Errorf("need 17 digits, got %d characters", len(first17))
	}
	sum := 0
	for i := 0; i < 17; i++ {
		c := first17[i]
		if c < '0' || c > '9' {
			return 0, fmt.Errorf("character %d is not a digit", i+1)
		}
		sum += int(c-'0') * weights[i]
	}
	return checkChars[sum%11], nil
}

// NormalizeID validates an 18-character resident ID number (GB 11643) and
// returns it with an upper-case X. Reasons never repeat the number itself.
func NormalizeID(s string) (string, error) {
	bad := func(reason string) error {
		return apperr.Invalid(apperr.FieldError{Field: "holder.id_number", Reason: reason})
	}
	s = strings.ToUpper(strings.TrimSpace(s))
	if len(s) != 18 {
		return "", bad("must be the 18-character resident ID number")
	}
	want, err := CheckChar(s[:17])
	if err != nil {
		return "", bad("the first 17 characters must be digits")
	}
	if s[17] != want {
		return "", bad("the check character does not match (ISO 7064 MOD 11-2): the number is mistyped")
	}
	if p := s[:2]; !provinces[p] {
		return "", bad("does not start with a province-level region code")
	}
	if _, err := time.Parse("20060102", s[6:14]); err != nil {
		return "", bad("does not carry a valid date of birth")
	}
	return s, nil
}

// provinces are the province-level prefixes of administrative division codes.
var provinces = map[string]bool{}

func init() {
	for _, p := range []string{"11", "12", "13", "14", "15", "21", "22", "23", "31", "32", "33", "34", "35", "36", "37",
		"41", "42", "43", "44", "45", "46", "50", "51", "52", "53", "54", "61", "62", "63", "64", "65", "71", "81", "82"} {
		provinces[p] = true
	}
}
