package auditlog_test

import (
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tongquan/tongquan/internal/auditlog"
)

func entry(n byte) auditlog.Entry {
	return auditlog.Entry{ID: uuid.UUID{15: n}, Hash: [32]byte{n}}
}

// chain seals three blocks of two events each, as the sealer would.
func chain() []*auditlog.Block {
	var blocks []*auditlog.Block
	var prev auditlog.Block
	for i := range 3 {
		b := &auditlog.Block{
			No: prev.No + 1, Lo: prev.Hi, Hi: prev.Hi + 10, EventCount: 2,
			Entries:  []auditlog.Entry{entry(byte(2*i + 1)), entry(byte(2*i + 2))},
			PrevHash: prev.Hash, SealedAt: time.Unix(int64(i), 0),
		}
		b.Hash = auditlog.BlockHash(b)
		blocks = append(blocks, b)
		prev = *b
	}
	return blocks
}

// firstFault runs the checks a verifier runs, block by block.
func firstFault(blocks []*auditlog.Block) *auditlog.Fault {
	var prev *auditlog.Block
	for i, b := range blocks {
		var next *auditlog.Block
		if i+1 < len(blocks) {
			next = blocks[i+1]
		}
		if f := auditlog.CheckBlock(prev, b, next); f != nil {
			return f
		}
		prev = b
	}
	return nil
}

func TestCheckBlock(t *testing.T) {
	assert.Nil(t, firstFault(chain()))

	cases := []struct {
		name   string
		tamper func([]*auditlog.Block) []*auditlog.Block
		no     int64
		kind   auditlog.FaultKind
	}{
		{"stored hash replaced", func(b []*auditlog.Block) []*auditlog.Block { b[1].Hash[0]++; return b }, 2, auditlog.FaultChainBroken},
		{"contents changed", func(b []*auditlog.Block) []*auditlog.Block { b[1].Entries[0].Hash[0]++; return b }, 2, auditlog.FaultBlockModified},
		{"newest block's hash replaced", func(b []*auditlog.Block) []*auditlog.Block { b[2].Hash[0]++; return b }, 3, auditlog.FaultBlockModified},
		{"count changed", func(b []*auditlog.Block) []*auditlog.Block { b[0].EventCount = 1; return b }, 1, auditlog.FaultBlockModified},
		{"middle block dropped", func(b []*auditlog.Block) []*auditlog.Block { return []*auditlog.Block{b[0], b[2]} }, 3, auditlog.FaultChainBroken},
		{"first block dropped", func(b []*auditlog.Block) []*auditlog.Block { return b[1:] }, 2, auditlog.FaultChainBroken},
		{"range gap", func(b []*auditlog.Block) []*auditlog.Block {
			b[2].Lo++
			b[2].Hash = auditlog.BlockHash(b[2])
			return b
		}, 3, auditlog.FaultChainBroken},
		{"resealed block", func(b []*auditlog.Block) []*auditlog.Block {
			b[1].Entries = b[1].Entries[:1]
			b[1].EventCount = 1
			b[1].Hash = auditlog.BlockHash(b[1])
			return b
		}, 3, auditlog.FaultChainBroken},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := firstFault(c.tamper(chain()))
			require.NotNil(t, f)
			assert.Equal(t, c.no, f.BlockNo)
			assert.Equal(t, c.kind, f.Kind, f.Message)
			assert.Nil(t, f.EventID)
		})
	}
}

func TestCheckEvents(t *testing.T) {
	b := chain()[0]
	b.Entries = []auditlog.Entry{entry(1), entry(2), entry(3)}
	modified := entry(2)
	modified.Hash[1] = 9

	cases := []struct {
		name  string
		found []auditlog.Entry
		kind  auditlog.FaultKind
		id    auditlog.Entry
	}{
		{"modified", []auditlog.Entry{entry(1), modified, entry(3)}, auditlog.FaultModified, entry(2)},
		{"deleted", []auditlog.Entry{entry(1), entry(3)}, auditlog.FaultDeleted, entry(2)},
		{"last deleted", []auditlog.Entry{entry(1), entry(2)}, auditlog.FaultDeleted, entry(3)},
		{"all deleted", nil, auditlog.FaultDeleted, entry(1)},
		{"inserted", []auditlog.Entry{entry(1), entry(9), entry(2), entry(3)}, auditlog.FaultInserted, entry(9)},
		{"appended", []auditlog.Entry{entry(1), entry(2), entry(3), entry(9)}, auditlog.FaultInserted, entry(9)},
		{"moved", []auditlog.Entry{entry(2), entry(1), entry(3)}, auditlog.FaultModified, entry(1)},
		{"first fault wins", []auditlog.Entry{entry(1), modified}, auditlog.FaultModified, entry(2)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := auditlog.CheckEvents(b, c.found)
			require.NotNil(t, f)
			assert.Equal(t, c.kind, f.Kind, f.Message)
			require.NotNil(t, f.EventID)
			assert.Equal(t, c.id.ID, *f.EventID)
			assert.Equal(t, b.No, f.BlockNo)
			assert.Contains(t, f.Message, c.id.ID.String())
		})
	}
	assert.Nil(t, auditlog.CheckEvents(b, []auditlog.Entry{entry(1), entry(2), entry(3)}))
}
