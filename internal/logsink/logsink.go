// Package logsink buffers the process log: lines written by many goroutines
// are gathered and written out in one write per batch instead of one per
// line, which on a busy edge (one access-log line per request) saves a
// system call per request.
//
// A batch is written at the latest Interval after its first line arrived,
// at once when it reaches a size bound, on Flush and on Close; a Handler
// wrapped with FlushAbove writes out records at or above a level (warnings
// and errors) immediately. The price: if the process dies without running
// Close (SIGKILL, a crash in another goroutine, os.Exit), the info lines of
// the last few milliseconds are lost.
package logsink

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"time"
)

const (
	// DefaultInterval bounds how long a line waits in the buffer.
	DefaultInterval = 5 * time.Millisecond
	// maxBuffered is the batch size written at once by the writer that
	// reaches it, so a flood of lines cannot grow the buffer without bound.
	maxBuffered = 64 << 10
	// maxSpare bounds the buffer kept for reuse between batches.
	maxSpare = 1 << 20
)

// Writer is an io.Writer that buffers what it is given and writes it to an
// underlying writer in batches. Each Write is kept whole: a batch holds
// whole Writes, in the order they were made, so lines written with one
// Write each (as slog's handlers do) never interleave. It is safe for
// concurrent use.
type Writer struct {
	out      io.Writer
	interval time.Duration
	timer    *time.Timer

	flushMu sync.Mutex // held while writing to out: batches go out in order

	mu     sync.Mutex // guards what follows
	buf    []byte     // the batch being gathered
	spare  []byte     // an empty buffer to gather the next batch in
	armed  bool       // the timer will flush buf
	closed bool       // Writes go straight to out
	err    error      // the first error writing to out
}

// New returns a Writer that writes to out at least every interval
// (DefaultInterval when interval ≤ 0). Close it to write out the rest.
func New(out io.Writer, interval time.Duration) *Writer {
	if interval <= 0 {
		interval = DefaultInterval
	}
	w := &Writer{out: out, interval: interval}
	w.timer = time.AfterFunc(time.Hour, func() { _ = w.Flush() })
	w.timer.Stop()
	return w
}

// Write appends p to the current batch. It reports len(p) and no error;
// an error writing a batch out is reported by Flush and Close. Once the
// Writer is closed, p is written to the underlying writer at once.
func (w *Writer) Write(p []byte) (int, error) {
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		w.flushMu.Lock()
		defer w.flushMu.Unlock()
		return w.out.Write(p)
	}
	w.buf = append(w.buf, p...)
	full := len(w.buf) >= maxBuffered
	if !full && !w.armed {
		w.armed = true
		w.timer.Reset(w.interval)
	}
	w.mu.Unlock()
	if full {
		_ = w.Flush()
	}
	return len(p), nil
}

// Flush writes out the current batch and returns the error of that write,
// or the first error of an earlier one.
func (w *Writer) Flush() error {
	w.flushMu.Lock()
	defer w.flushMu.Unlock()
	w.mu.Lock()
	batch := w.buf
	w.buf, w.spare = w.spare, nil
	w.armed = false // a timer still pending finds an empty or newer batch
	w.mu.Unlock()
	var err error
	if len(batch) > 0 {
		_, err = w.out.Write(batch)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.spare == nil && cap(batch) <= maxSpare {
		w.spare = batch[:0]
	}
	if err != nil && w.err == nil {
		w.err = err
	}
	if err == nil {
		err = w.err
	}
	return err
}

// Close writes out what is buffered; later Writes go straight to the
// underlying writer, which Close does not close.
func (w *Writer) Close() error {
	w.mu.Lock()
	w.closed = true
	w.timer.Stop()
	w.mu.Unlock()
	return w.Flush()
}

// FlushAbove wraps h, which writes to w, so that a record at level or above
// is written out at once, together with every line buffered before it.
func FlushAbove(h slog.Handler, w *Writer, level slog.Level) slog.Handler {
	return &flushingHandler{Handler: h, w: w, level: level}
}

type flushingHandler struct {
	slog.Handler
	w     *Writer
	level slog.Level
}

func (h *flushingHandler) Handle(ctx context.Context, r slog.Record) error {
	err := h.Handler.Handle(ctx, r)
	if r.Level >= h.level {
		if ferr := h.w.Flush(); err == nil {
			err = ferr
		}
	}
	return err
}

func (h *flushingHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return &flushingHandler{Handler: h.Handler.WithAttrs(attrs), w: h.w, level: h.level}
}

func (h *flushingHandler) WithGroup(name string) slog.Handler {
	return &flushingHandler{Handler: h.Handler.WithGroup(name), w: h.w, level: h.level}
}

// NewLogger is the process logger: slog's JSON lines (or text lines when
// format is "text") written to out through a Writer flushed every
// DefaultInterval, warnings and errors at once. Close the Writer before
// the process exits.
func NewLogger(out io.Writer, format string, opts *slog.HandlerOptions) (*slog.Logger, *Writer) {
	w := New(out, DefaultInterval)
	var h slog.Handler
	if format == "text" {
		h = slog.NewTextHandler(w, opts)
	} else {
		h = slog.NewJSONHandler(w, opts)
	}
	return slog.New(FlushAbove(h, w, slog.LevelWarn)), w
}
