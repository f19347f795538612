package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/tongquan/tongquan/internal/auth"
	"github.com/tongquan/tongquan/internal/registry"
)

// grant is the contract's Grant: a grant job and its progress.
type grant struct {
	ID            string              `json:"id"`
	CampaignID    string              `json:"campaign_id"`
	TierID        string              `json:"tier_id"`
	Status        string              `json:"status"`
	RowsTotal     int64               `json:"rows_total"`
	RowsDone      int64               `json:"rows_done"`
	Granted       int64               `json:"granted"`
	Duplicates    int64               `json:"duplicates"`
	Rejected      int64               `json:"rejected"`
	Errors        []registry.RowError `json:"errors"`
	RatePerSecond float64             `json:"rate_per_second"`
	ETASeconds    float64             `json:"eta_seconds"`
	Failure       string              `json:"failure"`
	CreatedAt     time.Time           `json:"created_at"`
	FinishedAt    time.Time           `json:"finished_at"`
}

// runGrantCommand is voucherctl grant: progress goes to stderr, so stdout
// holds only the outcome.
func runGrantCommand(out io.Writer, args []string) error { return runGrant(out, os.Stderr, args) }

// runGrant uploads a list of holders, then follows the job with a progress
// bar on progress until it ends, and prints the outcome with the row errors.
// It fails when the job failed; rejected rows alone do not fail it, since a
// corrected file can be uploaded again without granting anyone twice.
func runGrant(out, progress io.Writer, args []string) error {
	fs, conn := newFlags("voucherctl grant", "CAMPAIGN_ID --tier T FILE.csv", auth.RoleCampaignManager)
	tier := fs.String("tier", "", "the tier every holder gets one voucher of (required)")
	poll := fs.Duration("poll", time.Second, "how often to ask how the job is doing")
	pos, err := parse(fs, out, args, "CAMPAIGN_ID", "FILE.csv")
	if err != nil {
		return err
	}
	if *tier == "" || *poll <= 0 {
		return usageError("--tier is required, and --poll must be positive, e.g. --tier 200-50 --poll 1s\n\n" + usage(fs))
	}
	data, err := os.ReadFile(pos[1]) // whole, so the request has a Content-Length
	if err != nil {
		return err
	}
	c, err := conn.client()
	if err != nil {
		return err
	}
	raw, err := c.send(http.MethodPost, apiPath("v1", "campaigns", pos[0], "grants"), query("tier_id", *tier), "text/csv", bytes.NewReader(data))
	if err != nil {
		return err
	}
	raw, err = follow(conn, raw, newProgressBar(progress), *poll)
	if err != nil {
		return err
	}
	g, err := render(c, out, raw, showGrant)
	if err != nil {
		return err
	}
	if g.Status == "failed" {
		return fmt.Errorf("grant %s failed: %s", g.ID, g.Failure)
	}
	return nil
}

// follow polls the job until it is no longer running and returns the last
// answer. Each poll makes a fresh client: a development token lives minutes,
// a large job may run longer.
func follow(conn *conn, raw []byte, bar *progressBar, every time.Duration) ([]byte, error) {
	for {
		var g grant
		if err := json.Unmarshal(raw, &g); err != nil {
			return nil, fmt.Errorf("unexpected answer from voucherd: %w", err)
		}
		bar.show(g)
		if g.Status != "running" {
			bar.finish()
			return raw, nil
		}
		time.Sleep(every)
		c, err := conn.client()
		if err != nil {
			return nil, err
		}
		if raw, err = c.send(http.MethodGet, apiPath("v1", "grants", g.ID), nil, "", nil); err != nil {
			bar.finish()
			return nil, err
		}
	}
}

func showGrant(w io.Writer, g *grant) {
	fmt.Fprintf(w, "Grant:\t%s\n", g.ID)
	fmt.Fprintf(w, "Campaign:\t%s\n", g.CampaignID)
	fmt.Fprintf(w, "Tier:\t%s\n", g.TierID)
	fmt.Fprintf(w, "Status:\t%s\n", g.Status)
	fmt.Fprintf(w, "Rows:\t%d of %d done\n", g.RowsDone, g.RowsTotal)
	fmt.Fprintf(w, "Granted:\t%d\n", g.Granted)
	fmt.Fprintf(w, "Duplicates:\t%d (already had a voucher of the tier)\n", g.Duplicates)
	fmt.Fprintf(w, "Rejected:\t%d\n", g.Rejected)
	if g.RatePerSecond > 0 {
		fmt.Fprintf(w, "Rate:\t%s rows/s\n", thousands(int64(g.RatePerSecond)))
	}
	if g.Failure != "" {
		fmt.Fprintf(w, "Failure:\t%s\n", g.Failure)
	}
	if len(g.Errors) == 0 {
		return
	}
	fmt.Fprintln(w, "\nROW\tFIELD\tREASON")
	for _, e := range g.Errors {
		for _, fe := range e.Fields {
			fmt.Fprintf(w, "%d\t%s\t%s\n", e.Row, fe.Field, fe.Reason)
		}
	}
	if int64(len(g.Errors)) < g.Rejected {
		fmt.Fprintf(w, "\n(the first %d of %d rejected rows)\n", len(g.Errors), g.Rejected)
	}
}

// progressBar draws a job's progress: redrawn in place on a terminal, one
// line per update otherwise (a log file, a CI job).
type progressBar struct {
	w        io.Writer
	terminal bool
	drawn    bool
}

func newProgressBar(w io.Writer) *progressBar {
	f, ok := w.(*os.File)
	terminal := false
	if ok {
		if st, err := f.Stat(); err == nil {
			terminal = st.Mode()&os.ModeCharDevice != 0
		}
	}
	return &progressBar{w: w, terminal: terminal}
}

func (b *progressBar) show(g grant) {
	if b.terminal {
		fmt.Fprintf(b.w, "\r%s\033[K", progressLine(g))
	} else {
		fmt.Fprintln(b.w, progressLine(g))
	}
	b.drawn = true
}

// finish ends the line a terminal bar was redrawn on.
func (b *progressBar) finish() {
	if b.terminal && b.drawn {
		fmt.Fprintln(b.w)
	}
	b.drawn = false
}

const barWidth = 30

// progressLine is one frame of the bar: rows done of total, percent, rate and
// time left, e.g. "[#########.....]  62%  620,000/1,000,000 rows  48,210 rows/s  ETA 8s".
func progressLine(g grant) string {
	frac := 1.0
	if g.RowsTotal > 0 {
		frac = float64(g.RowsDone) / float64(g.RowsTotal)
	}
	filled := int(frac * barWidth)
	line := fmt.Sprintf("[%s%s] %3d%%  %s/%s rows", strings.Repeat("#", filled), strings.Repeat(".", barWidth-filled),
		int(frac*100), thousands(g.RowsDone), thousands(g.RowsTotal))
	if g.RatePerSecond > 0 {
		line += fmt.Sprintf("  %s rows/s", thousands(int64(g.RatePerSecond)))
	}
	if g.Status == "running" && g.ETASeconds > 0 {
		line += "  ETA " + time.Duration(g.ETASeconds*float64(time.Second)).Round(time.Second).String()
	} else if g.Status != "running" {
		line += "  " + g.Status
	}
	return line
}

// thousands formats n with thousands separators: 1234567 → "1,234,567".
func thousands(n int64) string {
	s := fmt.Sprint(n)
	start := 0
	if n < 0 {
		start = 1
	}
	var b strings.Builder
	for i, r := range s {
		if i > start && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	return b.String()
}
