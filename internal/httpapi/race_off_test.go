//go:build !race

package httpapi

// raceDetector is whether the tests run with -race, which slows the code
// under test about tenfold.
const raceDetector = false
