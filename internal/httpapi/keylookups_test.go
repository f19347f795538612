package httpapi

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tongquan/tongquan/internal/idempotency"
	"github.com/tongquan/tongquan/internal/pgtest"
	"github.com/tongquan/tongquan/internal/postgres"
)

// Concurrent lookups, read in batches, each get their own key's state:
// answered, reserved without an answer yet, or never used.
func TestKeyLookupsAnswerEachKey(t *testing.T) {
	db := pgtest.New(t)
	ctx := context.Background()
	const n = 600
	key := func(i int) idempotency.Key {
		return idempotency.Key{PlatformID: fmt.Sprintf("p%d", i%3), Key: fmt.Sprintf("k%d", i),
			RequestHash: idempotency.HashRequest(http.MethodPost, "/x", []byte{byte(i)})}
	}
	var answered, reserved []idempotency.Key
	var answers []idempotency.Response
	for i := 0; i < n; i++ {
		switch i % 3 {
		case 0:
			answered = append(answered, key(i))
			answers = append(answers, idempotency.Response{Status: 201, Body: []byte(fmt.Sprintf(`{"n":%d}`, i))})
		case 1:
			reserved = append(reserved, key(i))
		}
	}
	_, err := postgres.ReserveIdempotencyKeys(ctx, db.Pool, append(append([]idempotency.Key{}, answered...), reserved...))
	require.NoError(t, err)
	require.NoError(t, postgres.CompleteIdempotencyKeys(ctx, db.Pool, answered, answers))

	l := newKeyLookups(db.Pool)
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			k := key(i)
			stored, found, err := l.lookup(ctx, k.PlatformID, k.Key)
			if !assert.NoError(t, err) {
				return
			}
			switch i % 3 {
			case 0:
				assert.True(t, found)
				assert.Equal(t, k.RequestHash, stored.RequestHash)
				if assert.NotNil(t, stored.Answer) {
					assert.Equal(t, fmt.Sprintf(`{"n":%d}`, i), string(stored.Answer.Body))
				}
			case 1:
				assert.True(t, found)
				assert.Equal(t, k.RequestHash, stored.RequestHash)
				assert.Nil(t, stored.Answer)
			default:
				assert.False(t, found, "key %d was never used", i)
			}
		}()
	}
	wg.Wait()
	// A reader answers its batch before it looks for the next one, so it may
	// still be on its way out when the last lookup returns.
	require.Eventually(t, l.queue.Idle, 10*time.Second, time.Millisecond, "readers leave once no lookup waits")
}

// A lookup whose request gives up returns at once; the read still serves the others.
func TestKeyLookupGivesUpWithItsRequest(t *testing.T) {
	db := pgtest.New(t)
	l := newKeyLookups(db.Pool)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, _, err := l.lookup(ctx, "p", "k")
	require.ErrorIs(t, err, context.Canceled)
	_, found, err := l.lookup(context.Background(), "p", "k")
	require.NoError(t, err)
	require.False(t, found)
}
