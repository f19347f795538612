package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"
)

// result is one run, as printed and as written with --json.
type result struct {
	Workload   string      `json:"workload"`
	Mode       string      `json:"mode"`
	Clients    int         `json:"clients"`
	Procs      int         `json:"procs"`
	Rate       float64     `json:"rate"`
	DurationS  float64     `json:"duration_s"`
	Ops        []opResult  `json:"ops"`
	Invariants []invariant `json:"invariants"`
	Notes      []string    `json:"notes,omitempty"`
	OK         bool        `json:"ok"`
}

type opResult struct {
	Op     string           `json:"op"`
	Count  int64            `json:"count"`
	PerSec float64          `json:"per_sec"`
	P50    float64          `json:"p50_ms"`
	P99    float64          `json:"p99_ms"`
	P999   float64          `json:"p999_ms"`
	Errors map[string]int64 `json:"errors"`
}

type invariant struct {
	Name   string `json:"name"`
	OK     bool   `json:"ok"`
	Detail string `json:"detail"`
}

// opsOf turns the recorder into results; per_sec is over the load's
// elapsed time.
func opsOf(r *recorder, elapsed time.Duration) []opResult {
	var out []opResult
	for _, name := range r.names() {
		s := r.op(name)
		n := s.hist.n.Load()
		s.mu.Lock()
		codes := make(map[string]int64, len(s.codes))
		for k, v := range s.codes {
			codes[k] = v
		}
		s.mu.Unlock()
		o := opResult{Op: name, Count: n, Errors: codes,
			P50: round3(s.hist.quantile(0.50)), P99: round3(s.hist.quantile(0.99)), P999: round3(s.hist.quantile(0.999))}
		if elapsed > 0 {
			o.PerSec = round3(float64(n) / elapsed.Seconds())
		}
		out = append(out, o)
	}
	return out
}

func round3(f float64) float64 { return float64(int64(f*1000+0.5)) / 1000 }

func (r *result) finish() {
	r.OK = true
	for _, inv := range r.Invariants {
		r.OK = r.OK && inv.OK
	}
}

func (r *result) print(w io.Writer) {
	fmt.Fprintf(w, "\n%s: %s loop", r.Workload, r.Mode)
	if r.Mode == "open" {
		fmt.Fprintf(w, ", %g units/s", r.Rate)
	} else {
		fmt.Fprintf(w, ", %d clients", r.Clients)
	}
	fmt.Fprintf(w, ", %.1f s, voucherbench GOMAXPROCS %d\n", r.DurationS, r.Procs)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "op\tcount\tper s\tp50 ms\tp99 ms\tp99.9 ms\t")
	for _, o := range r.Ops {
		fmt.Fprintf(tw, "%s\t%d\t%.1f\t%.2f\t%.2f\t%.2f\t\n", o.Op, o.Count, o.PerSec, o.P50, o.P99, o.P999)
	}
	tw.Flush()
	for _, o := range r.Ops {
		if len(o.Errors) == 0 {
			continue
		}
		var parts []string
		for _, c := range sortedCodes(o.Errors) {
			parts = append(parts, fmt.Sprintf("%s %d", c, o.Errors[c]))
		}
		fmt.Fprintf(w, "  %s answers by code: %s\n", o.Op, strings.Join(parts, ", "))
	}
	for _, n := range r.Notes {
		fmt.Fprintf(w, "  note: %s\n", n)
	}
	for _, inv := range r.Invariants {
		status := "PASS"
		if !inv.OK {
			status = "FAIL"
		}
		fmt.Fprintf(w, "  %s  %s: %s\n", status, inv.Name, inv.Detail)
	}
	if r.OK {
		fmt.Fprintln(w, "  every invariant holds")
	} else {
		fmt.Fprintln(w, "  INVARIANT BROKEN")
	}
}

func writeJSON(path string, v any) error {
	if path == "" {
		return nil
	}
	raw, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(raw, '\n'), 0o644)
}
