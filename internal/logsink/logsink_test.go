package logsink

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// sink records what reaches the underlying writer, and in how many writes.
type sink struct {
	mu     sync.Mutex
	buf    bytes.Buffer
	writes int
}

func (s *sink) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.writes++
	return s.buf.Write(p)
}

func (s *sink) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.String()
}

func (s *sink) Writes() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.writes
}

func TestLinesArriveWithoutFlush(t *testing.T) {
	out := &sink{}
	w := New(out, time.Millisecond)
	defer w.Close()
	_, err := w.Write([]byte("one\n"))
	require.NoError(t, err)
	_, err = w.Write([]byte("two\n"))
	require.NoError(t, err)
	// Written out by the timer; the deadline only keeps a broken timer from hanging the test.
	require.Eventually(t, func() bool { return out.String() == "one\ntwo\n" }, 10*time.Second, time.Millisecond)

	_, err = w.Write([]byte("three\n")) // a later batch arms the timer again
	require.NoError(t, err)
	require.Eventually(t, func() bool { return out.String() == "one\ntwo\nthree\n" }, 10*time.Second, time.Millisecond)
}

func TestCloseWritesEverythingInOneWrite(t *testing.T) {
	out := &sink{}
	w := New(out, time.Hour) // only Close writes out
	var want strings.Builder
	for i := range 100 {
		line := fmt.Sprintf("line %d\n", i)
		want.WriteString(line)
		_, err := w.Write([]byte(line))
		require.NoError(t, err)
	}
	assert.Empty(t, out.String(), "buffered until the interval or Close")
	require.NoError(t, w.Close())
	assert.Equal(t, want.String(), out.String())
	assert.Equal(t, 1, out.Writes(), "one write for the batch")

	// After Close, writes go straight through.
	_, err := w.Write([]byte("late\n"))
	require.NoError(t, err)
	assert.Equal(t, want.String()+"late\n", out.String())
	require.NoError(t, w.Close(), "closing twice is harmless")
}

func TestFullBatchIsWrittenAtOnce(t *testing.T) {
	out := &sink{}
	w := New(out, time.Hour)
	line := strings.Repeat("x", 1023) + "\n"
	for range maxBuffered / len(line) {
		_, err := w.Write([]byte(line))
		require.NoError(t, err)
	}
	assert.Equal(t, maxBuffered, len(out.String()), "the write that filled the batch wrote it out")
	_, err := w.Write([]byte("rest\n"))
	require.NoError(t, err)
	require.NoError(t, w.Close())
	assert.True(t, strings.HasSuffix(out.String(), line+"rest\n"))
}

func TestWarningsAreWrittenAtOnce(t *testing.T) {
	out := &sink{}
	log, w := NewLogger(out, "json", nil)
	w.interval = time.Hour // only a warning (or Close) writes out
	log.Info("first")
	log.With("component", "x").WithGroup("g").Info("second", "n", 1)
	assert.Empty(t, out.String())
	log.With("component", "x").Warn("trouble")
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	require.Len(t, lines, 3, "the warning and the lines before it: %q", out.String())
	assert.Contains(t, lines[0], `"msg":"first"`)
	assert.Contains(t, lines[1], `"g":{"n":1}`)
	assert.Contains(t, lines[2], `"level":"WARN"`)
	log.Error("failure")
	assert.Contains(t, out.String(), `"msg":"failure"`)
	log.Info("last")
	require.NoError(t, w.Close())
	assert.True(t, strings.HasSuffix(out.String(), `"msg":"last"}`+"\n"))

	text, tw := NewLogger(&sink{}, "text", &slog.HandlerOptions{Level: slog.LevelWarn})
	assert.False(t, text.Enabled(t.Context(), slog.LevelInfo), "the handler's level holds")
	require.NoError(t, tw.Close())
}

// TestConcurrentWritersNeverInterleave logs from many goroutines through
// slog, with batches written by the timer, by full buffers and by warnings
// at once: every line arrives whole, once, in each writer's order.
func TestConcurrentWritersNeverInterleave(t *testing.T) {
	out := &sink{}
	log, w := NewLogger(out, "json", nil)
	w.interval = 50 * time.Microsecond
	const writers, lines = 16, 500
	pad := strings.Repeat("p", 200)
	var wg sync.WaitGroup
	for g := range writers {
		wg.Go(func() {
			for i := range lines {
				if i%97 == 0 {
					log.Warn("line", "writer", g, "seq", i, "pad", pad)
					continue
				}
				log.Info("line", "writer", g, "seq", i, "pad", pad)
			}
		})
	}
	wg.Wait()
	require.NoError(t, w.Close())

	next := make([]int, writers)
	text := out.String()
	require.True(t, strings.HasSuffix(text, "\n"))
	for _, l := range strings.Split(strings.TrimSuffix(text, "\n"), "\n") {
		var rec struct {
			Msg    string
			Writer int
			Seq    int
			Pad    string
		}
		require.NoError(t, json.Unmarshal([]byte(l), &rec), "a whole JSON line: %q", l)
		require.Equal(t, pad, rec.Pad)
		require.Equal(t, next[rec.Writer], rec.Seq, "writer %d's lines in order", rec.Writer)
		next[rec.Writer]++
	}
	for g := range writers {
		assert.Equal(t, lines, next[g], "every line of writer %d arrived", g)
	}
	assert.Less(t, out.Writes(), writers*lines, "lines were batched")
}
