package main

import (
	"crypto/rand"
	"fmt"
	"time"

	"github.com/tongquan/tongquan/internal/holder"
	"github.com/tongquan/tongquan/internal/registry"
)

// holderRegion is where the generated holders live (Shanghai, Xuhui).
const holderRegion = "310104"

var birthBase = time.Date(1950, 1, 1, 0, 0, 0, 0, time.UTC)

// idNumber is the i-th generated resident ID number: valid (GB 11643 date
// and check character) and distinct for i below 36,500,000.
func idNumber(i int) string {
	birth := birthBase.AddDate(0, 0, i/1000).Format("20060102")
	first17 := fmt.Sprintf("%s%s%03d", holderRegion, birth, i%1000)
	c, err := holder.CheckChar(first17)
	if err != nil {
		panic(err) // first17 is 17 digits by construction
	}
	return first17 + string(c)
}

// uscc is a valid unified social credit code built on seq.
func uscc(seq int) string {
	first17 := fmt.Sprintf("91310104MA%07d", seq%10_000_000)
	c, err := registry.USCCCheckChar(first17)
	if err != nil {
		panic(err)
	}
	return first17 + string(c)
}

// runID names one run's platforms and keys: lower-case letters and digits.
func runID() string {
	const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b)
}
