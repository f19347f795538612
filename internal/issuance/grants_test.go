package issuance

// Internal tests: the crash test runs single chunks of a job by hand.

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tongquan/tongquan/internal/apperr"
	"github.com/tongquan/tongquan/internal/campaign"
	"github.com/tongquan/tongquan/internal/holder"
	"github.com/tongquan/tongquan/internal/issuer"
	"github.com/tongquan/tongquan/internal/ledger"
	"github.com/tongquan/tongquan/internal/pgtest"
	"github.com/tongquan/tongquan/internal/postgres"
)

// grantTestNow is the clock of these tests: a day before the campaign starts,
// while it is approved (funded) and grants.
var grantTestNow = time.Date(2027, 3, 4, 2, 0, 0, 0, time.UTC)

const grantTestDiscount = 5000

var grantTestManager = issuer.Actor{Subject: "alice", Role: "campaign_manager", RequestID: "req-grant-1"}

type grantTestEnv struct {
	db     *pgtest.DB
	issuer *issuer.Service
	hasher *holder.Hasher
	svc    *Service
}

func newGrantTestEnv(t *testing.T) *grantTestEnv {
	db := pgtest.New(t)
	h, err := holder.NewHasher([]byte(strings.Repeat("g", 32)))
	require.NoError(t, err)
	e := &grantTestEnv{db: db, issuer: issuer.New(db.Pool, clockAt(grantTestNow)), hasher: h}
	e.svc = e.newService(t)
	return e
}

func clockAt(t time.Time) func() time.Time { return func() time.Time { return t } }

// newService is another process on the same database.
func (e *grantTestEnv) newService(t *testing.T) *Service {
	s := New(e.db.Pool, Options{Now: clockAt(grantTestNow), Hasher: e.hasher})
	t.Cleanup(s.Close)
	return s
}

// approvedCampaign has one tier (¥200 − ¥50), budget for units vouchers and
// holders admitted from Shanghai (31…) only.
func (e *grantTestEnv) approvedCampaign(t *testing.T, units int64) campaign.Campaign {
	ctx := context.Background()
	start := grantTestNow.Add(24 * time.Hour)
	c, err := e.issuer.CreateCampaign(ctx, grantTestManager, campaign.Campaign{
		Kind: campaign.KindConsumption, Name: "granted vouchers", Authority: "test bureau",
		StartsAt: start, EndsAt: start.Add(60 * 24 * time.Hour), BudgetFen: units * grantTestDiscount,
		Rules: campaign.Rules{
			Tiers:       []campaign.Tier{{ID: "200-50", MinSpendFen: 20000, DiscountFen: grantTestDiscount, ValidityDays: 7}},
			Eligibility: campaign.Eligibility{HolderRegionPrefixes: []string{"31"}},
		},
	})
	require.NoError(t, err)
	_, err = e.issuer.Transition(ctx, grantTestManager, c.ID, campaign.ActionSubmit, "")
	require.NoError(t, err)
	c, err = e.issuer.Transition(ctx, issuer.Actor{Subject: "bob", Role: "approver"}, c.ID, campaign.ActionApprove, "")
	require.NoError(t, err)
	return c
}

// grantTestID is the n-th valid resident ID number of the test population.
func grantTestID(n int) string {
	first := fmt.Sprintf("310104%s%03d", time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, n/1000).Format("20060102"), n%1000)
	c, err := holder.CheckChar(first)
	if err != nil {
		panic(err)
	}
	return first + string(c)
}

// grantTestFile is a list of holders 0..n-1, all valid.
func grantTestFile(n int) string {
	var b strings.Builder
	b.WriteString("id_number,residence_region\n")
	for i := range n {
		fmt.Fprintf(&b, "%s,310104\n", grantTestID(i))
	}
	return b.String()
}

func (e *grantTestEnv) upload(t *testing.T, s *Service, c campaign.Campaign, file string) Grant {
	t.Helper()
	return e.uploadChunked(t, s, c, file, grantChunkRows)
}

// uploadChunked stages the file in chunks of chunkRows rows.
func (e *grantTestEnv) uploadChunked(t *testing.T, s *Service, c campaign.Campaign, file string, chunkRows int) Grant {
	t.Helper()
	g, err := s.createGrant(context.Background(), grantTestManager, c.ID, "200-50", strings.NewReader(file), chunkRows)
	require.NoError(t, err)
	return g
}

// wait polls the job until it ends.
func (e *grantTestEnv) wait(t *testing.T, id uuid.UUID) Grant {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		g, err := e.svc.GetGrant(context.Background(), id)
		require.NoError(t, err)
		if g.Status != GrantRunning {
			return g
		}
		require.True(t, time.Now().Before(deadline), "grant %s still running: %+v", id, g.GrantRecord)
		time.Sleep(5 * time.Millisecond)
	}
}

func (e *grantTestEnv) breakdown(t *testing.T, id uuid.UUID) ledger.Breakdown {
	t.Helper()
	b, err := postgres.Breakdown(context.Background(), e.db.Pool, id)
	require.NoError(t, err)
	return b
}

// checkBooks asserts the ledger verifies and that every granted voucher of
// the campaign, and only they, committed its discount.
func (e *grantTestEnv) checkBooks(t *testing.T, c campaign.Campaign) ledger.Breakdown {
	t.Helper()
	faults, err := postgres.CheckLedger(context.Background(), e.db.Pool, &c.ID)
	require.NoError(t, err)
	require.Empty(t, faults)
	var vouchers, holders int64
	require.NoError(t, e.db.Pool.QueryRow(context.Background(), `SELECT count(*), count(DISTINCT holder_hash)
		FROM vouchers WHERE campaign_id = $1 AND source = 'grant'`, c.ID).Scan(&vouchers, &holders))
	assert.Equal(t, vouchers, holders, "a holder granted twice")
	b := e.breakdown(t, c.ID)
	assert.Equal(t, vouchers*grantTestDiscount, b.Committed)
	assert.Zero(t, b.Allocated)
	assert.Equal(t, c.BudgetFen, b.Funded)
	return b
}

func TestGrantCountsGrantedDuplicatesAndRejectedRows(t *testing.T) {
	e := newGrantTestEnv(t)
	c := e.approvedCampaign(t, 100)
	mistyped := grantTestID(2)[:17] + "0"
	if mistyped == grantTestID(2) {
		mistyped = grantTestID(2)[:17] + "1"
	}
	file := "\uFEFFResidence_Region, ID_Number\n" + // any order and case, after a byte order mark
		"310104," + grantTestID(1) + "\n" + // 1 granted
		"310104," + mistyped + "\n" + // 2 bad check character
		"310115, " + strings.ToLower(grantTestID(3)) + " \n" + // 3 granted (trimmed)
		"31,\n" + // 4 bad region, missing ID
		"320102," + grantTestID(5) + "\n" + // 5 Jiangsu: not admitted
		"310104," + grantTestID(1) + "\n" + // 6 holder of row 1 again
		"310104," + grantTestID(7) + ",extra\n" + // 7 one value too many
		"310101," + grantTestID(8) + "\n" // 8 granted

	g := e.upload(t, e.svc, c, file)
	assert.Equal(t, GrantRunning, g.Status)
	assert.EqualValues(t, 8, g.RowsTotal)
	assert.EqualValues(t, 4, g.Rejected, "rejected rows are known at upload")

	g = e.wait(t, g.ID)
	assert.Equal(t, GrantDone, g.Status, g.Failure)
	assert.EqualValues(t, 8, g.RowsDone)
	assert.EqualValues(t, 3, g.Granted)
	assert.EqualValues(t, 1, g.Duplicates)
	assert.EqualValues(t, 4, g.Rejected)
	assert.NotNil(t, g.FinishedAt)

	type rowField struct {
		row   int
		field string
	}
	var got []rowField
	for _, re := range g.Errors {
		for _, f := range re.Fields {
			got = append(got, rowField{re.Row, f.Field})
			for n := range 9 {
				assert.NotContains(t, f.Reason, grantTestID(n)[:17], "a row error echoes an ID number")
			}
		}
	}
	assert.Equal(t, []rowField{{2, "id_number"}, {4, "id_number"}, {4, "residence_region"}, {5, "residence_region"}, {7, "row"}}, got)

	b := e.checkBooks(t, c)
	assert.EqualValues(t, 3*grantTestDiscount, b.Committed)
	assert.Equal(t, c.BudgetFen-3*grantTestDiscount, b.Available)

	var staged int
	require.NoError(t, e.db.Pool.QueryRow(context.Background(), `SELECT count(*) FROM grant_chunks`).Scan(&staged))
	assert.Zero(t, staged, "a finished job leaves nothing staged")
	var actions []string
	rows, err := e.db.Pool.Query(context.Background(), `SELECT action FROM audit_events WHERE entity_type = 'grant' ORDER BY id`)
	require.NoError(t, err)
	for rows.Next() {
		var a string
		require.NoError(t, rows.Scan(&a))
		actions = append(actions, a)
	}
	require.NoError(t, rows.Err())
	assert.Equal(t, []string{"grant.started", "grant.chunk", "grant.done"}, actions)
}

func TestGrantUploadedAgainGrantsNobodyTwice(t *testing.T) {
	e := newGrantTestEnv(t)
	c := e.approvedCampaign(t, 100)
	file := grantTestFile(40)

	first := e.wait(t, e.upload(t, e.svc, c, file).ID)
	require.Equal(t, GrantDone, first.Status, first.Failure)
	assert.EqualValues(t, 40, first.Granted)
	before := e.checkBooks(t, c)

	again := e.wait(t, e.upload(t, e.svc, c, file).ID)
	assert.Equal(t, GrantDone, again.Status, again.Failure)
	assert.EqualValues(t, 40, again.RowsDone)
	assert.Zero(t, again.Granted)
	assert.EqualValues(t, 40, again.Duplicates)
	assert.Equal(t, before, e.checkBooks(t, c), "the budget is unchanged")
}

func TestGrantSameListUploadedTwiceAtOnce(t *testing.T) {
	e := newGrantTestEnv(t)
	c := e.approvedCampaign(t, 1000)
	file := grantTestFile(200)

	first := e.uploadChunked(t, e.svc, c, file, 20)
	second := e.uploadChunked(t, e.svc, c, file, 20)
	a, b := e.wait(t, first.ID), e.wait(t, second.ID)
	assert.Equal(t, GrantDone, a.Status, a.Failure)
	assert.Equal(t, GrantDone, b.Status, b.Failure)
	assert.EqualValues(t, 200, a.Granted+b.Granted)
	assert.EqualValues(t, 200, a.Duplicates+b.Duplicates)
	b2 := e.checkBooks(t, c)
	assert.EqualValues(t, 200*grantTestDiscount, b2.Committed)
}

func TestGrantStopsWhereTheBudgetRunsOut(t *testing.T) {
	e := newGrantTestEnv(t)
	c := e.approvedCampaign(t, 7)
	// Holder 0 is listed twice before the budget runs out: the duplicate costs nothing.
	file := grantTestFile(10) + grantTestID(0) + ",310104\n"
	file = strings.Replace(file, grantTestID(5)+",310104\n", grantTestID(5)+",310104\n"+grantTestID(0)+",310104\n", 1)

	g := e.wait(t, e.upload(t, e.svc, c, file).ID)
	assert.Equal(t, GrantFailed, g.Status)
	assert.EqualValues(t, 7, g.Granted)
	assert.EqualValues(t, 1, g.Duplicates)
	assert.EqualValues(t, 8, g.RowsDone, "rows up to the first holder the budget cannot cover")
	assert.EqualValues(t, 12, g.RowsTotal)
	assert.Contains(t, g.Failure, "after granting 7 vouchers")
	assert.Contains(t, g.Failure, "4 rows were not processed")

	b := e.checkBooks(t, c)
	assert.Zero(t, b.Available)
	assert.EqualValues(t, 7*grantTestDiscount, b.Committed)
}

func TestGrantResumesAfterACrash(t *testing.T) {
	e := newGrantTestEnv(t)
	c := e.approvedCampaign(t, 100)
	ctx := context.Background()

	// Process A stages the list in chunks of 3 rows and dies after two
	// chunks, holding the lease.
	a := e.newService(t)
	a.Close() // its workers never start: the test runs A's chunks by hand
	g := e.uploadChunked(t, a, c, grantTestFile(10)+grantTestID(2)+",310104\n", 3)
	for range 2 {
		more, err := a.grantChunk(ctx, g.ID)
		require.NoError(t, err)
		require.True(t, more)
	}
	ok, err := postgres.AcquireLease(ctx, e.db.Pool, grantJob(g.ID), "process-a", time.Hour)
	require.NoError(t, err)
	require.True(t, ok)
	partial, err := e.svc.GetGrant(ctx, g.ID)
	require.NoError(t, err)
	assert.EqualValues(t, 6, partial.RowsDone)
	assert.EqualValues(t, 6, partial.Granted)

	// Process B resumes it once A's lease has expired, not before.
	b := e.newService(t)
	n, err := b.ResumeGrants(ctx)
	require.NoError(t, err)
	assert.Zero(t, n, "the lease of process A still runs")
	_, err = e.db.Pool.Exec(ctx, `UPDATE job_leases SET expires_at = now() - interval '1 second' WHERE job = $1`, grantJob(g.ID))
	require.NoError(t, err)
	n, err = b.ResumeGrants(ctx)
	require.NoError(t, err)
	assert.Equal(t, 1, n)

	done := e.wait(t, g.ID)
	assert.Equal(t, GrantDone, done.Status, done.Failure)
	assert.EqualValues(t, 11, done.RowsDone)
	assert.EqualValues(t, 10, done.Granted)
	assert.EqualValues(t, 1, done.Duplicates)
	e.checkBooks(t, c)
}

// Two workers grant chunks in parallel; holders listed again in other
// chunks, possibly granted concurrently, are still granted once.
func TestGrantRunsChunksInParallel(t *testing.T) {
	e := newGrantTestEnv(t)
	c := e.approvedCampaign(t, 1000)
	file := grantTestFile(300)
	for i := 0; i < 300; i += 7 {
		file += grantTestID(i) + ",310104\n"
	}

	g := e.wait(t, e.uploadChunked(t, e.svc, c, file, 7).ID)
	assert.Equal(t, GrantDone, g.Status, g.Failure)
	assert.EqualValues(t, 343, g.RowsTotal)
	assert.EqualValues(t, 343, g.RowsDone)
	assert.EqualValues(t, 300, g.Granted)
	assert.EqualValues(t, 43, g.Duplicates)
	e.checkBooks(t, c)
	var chunks, staged int
	require.NoError(t, e.db.Pool.QueryRow(context.Background(), `SELECT
		(SELECT count(*) FROM audit_events WHERE entity_type = 'grant' AND action = 'grant.chunk'),
		(SELECT count(*) FROM grant_chunks)`).Scan(&chunks, &staged))
	assert.Equal(t, 49, chunks, "one audit event per chunk, not per voucher")
	assert.Zero(t, staged)
}

func TestGrantFailsWhenTheCampaignIsCancelledMidway(t *testing.T) {
	e := newGrantTestEnv(t)
	c := e.approvedCampaign(t, 100)
	a := e.newService(t)
	a.Close()
	g := e.uploadChunked(t, a, c, grantTestFile(5), 2)
	more, err := a.grantChunk(context.Background(), g.ID)
	require.NoError(t, err)
	require.True(t, more)
	_, err = e.issuer.Transition(context.Background(), grantTestManager, c.ID, campaign.ActionCancel, "")
	require.NoError(t, err)

	more, err = a.grantChunk(context.Background(), g.ID)
	require.NoError(t, err)
	assert.False(t, more)
	got, err := e.svc.GetGrant(context.Background(), g.ID)
	require.NoError(t, err)
	assert.Equal(t, GrantFailed, got.Status)
	assert.EqualValues(t, 2, got.Granted)
	assert.EqualValues(t, 2, got.RowsDone)
	assert.Contains(t, got.Failure, "stopped after granting 2 vouchers")
	assert.Contains(t, got.Failure, "it is cancelled")
	var staged int
	require.NoError(t, e.db.Pool.QueryRow(context.Background(), `SELECT count(*) FROM grant_chunks`).Scan(&staged))
	assert.Zero(t, staged, "an ended job leaves nothing staged")
}

func TestGrantRefusals(t *testing.T) {
	e := newGrantTestEnv(t)
	c := e.approvedCampaign(t, 100)
	code := func(err error) apperr.Code { return apperr.CodeOf(err) }
	create := func(id uuid.UUID, tier, file string) error {
		_, err := e.svc.CreateGrant(context.Background(), grantTestManager, id, tier, strings.NewReader(file))
		return err
	}

	err := create(c.ID, "500-100", grantTestFile(1))
	assert.Equal(t, apperr.CodeValidationFailed, code(err))
	assert.ErrorContains(t, err, "tier_id")
	assert.Equal(t, apperr.CodeNotFound, code(create(uuid.New(), "200-50", grantTestFile(1))))

	for name, file := range map[string]string{
		"empty":          "",
		"header only":    "id_number,residence_region\n",
		"missing column": "id_number\n" + grantTestID(1) + "\n",
		"unknown column": "id_number,residence_region,name\n",
		"broken quotes":  "id_number,residence_region\n\"" + grantTestID(1) + ",310104\n",
	} {
		err := create(c.ID, "200-50", file)
		assert.Equal(t, apperr.CodeValidationFailed, code(err), "%s: %v", name, err)
	}

	draft, err := e.issuer.CreateCampaign(context.Background(), grantTestManager, campaign.Campaign{
		Kind: campaign.KindConsumption, Name: "draft", Authority: "test bureau",
		StartsAt: grantTestNow.Add(time.Hour), EndsAt: grantTestNow.Add(48 * time.Hour), BudgetFen: 100_000,
		Rules: campaign.Rules{Tiers: []campaign.Tier{{ID: "200-50", MinSpendFen: 20000, DiscountFen: 5000, ValidityDays: 7}}},
	})
	require.NoError(t, err)
	assert.Equal(t, apperr.CodeInvalidState, code(create(draft.ID, "200-50", grantTestFile(1))))

	var grants int
	require.NoError(t, e.db.Pool.QueryRow(context.Background(), `SELECT count(*) FROM grants`).Scan(&grants))
	assert.Zero(t, grants, "a refused upload stores nothing")
}

func TestGrantPace(t *testing.T) {
	start := grantTestNow
	s := &Service{now: clockAt(start.Add(10 * time.Second))}
	running := postgres.GrantRecord{Status: GrantRunning, RowsTotal: 2000, RowsDone: 500, CreatedAt: start}
	g := s.present(running)
	assert.InDelta(t, 50, g.RatePerSecond, 1e-9)
	assert.InDelta(t, 30, g.ETASeconds, 1e-9)

	finished := start.Add(4 * time.Second)
	done := postgres.GrantRecord{Status: GrantDone, RowsTotal: 2000, RowsDone: 2000, CreatedAt: start, FinishedAt: &finished}
	g = s.present(done)
	assert.InDelta(t, 500, g.RatePerSecond, 1e-9, "measured to the end, not to now")
	assert.Zero(t, g.ETASeconds)

	assert.Zero(t, s.present(postgres.GrantRecord{Status: GrantRunning, RowsTotal: 10, CreatedAt: start}).RatePerSecond)
}

// TestGrant100kHoldersTwice loads 100,000 holders and uploads the same file
// again: every holder is granted exactly once.
func TestGrant100kHoldersTwice(t *testing.T) {
	if testing.Short() {
		t.Skip("loads 100,000 holders")
	}
	e := newGrantTestEnv(t)
	const holders = 100_000
	c := e.approvedCampaign(t, holders)
	file := grantTestFile(holders)

	first := e.wait(t, e.upload(t, e.svc, c, file).ID)
	require.Equal(t, GrantDone, first.Status, first.Failure)
	assert.EqualValues(t, holders, first.Granted)
	before := e.checkBooks(t, c)
	assert.Equal(t, int64(holders)*grantTestDiscount, before.Committed)

	again := e.wait(t, e.upload(t, e.svc, c, file).ID)
	require.Equal(t, GrantDone, again.Status, again.Failure)
	assert.Zero(t, again.Granted)
	assert.EqualValues(t, holders, again.Duplicates)
	assert.Equal(t, before, e.checkBooks(t, c), "nobody granted twice, the budget unchanged")
}
