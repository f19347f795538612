package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tongquan/tongquan/internal/campaign"
	"github.com/tongquan/tongquan/internal/registry"
)

var examples = filepath.Join("..", "..", "scripts", "examples")

// loadExample reads an example campaign as `campaign create` sends it and
// checks it three ways: against the contract's CampaignInput (so the server
// accepts its fields), decoded strictly into the campaign types, and through
// the domain's Normalize and Validate.
func loadExample(t *testing.T, name string) campaign.Campaign {
	t.Helper()
	body, err := readCampaignFile(filepath.Join(examples, name))
	require.NoError(t, err)

	doc, err := contract()
	require.NoError(t, err)
	var generic any
	require.NoError(t, json.Unmarshal(body, &generic))
	require.NoError(t, doc.Components.Schemas["CampaignInput"].Value.VisitJSON(generic, openapi3.EnableFormatValidation()))

	var c campaign.Campaign
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	require.NoError(t, dec.Decode(&c))
	c.Normalize()
	require.Empty(t, c.Validate())
	return c
}

func TestShanghaiConsumptionExample(t *testing.T) {
	c := loadExample(t, "shanghai-consumption.yaml")

	assert.Equal(t, campaign.KindConsumption, c.Kind)
	assert.Equal(t, "Asia/Shanghai", c.TimeZone)
	assert.Equal(t, 2027, c.StartsAt.Year())
	assert.Equal(t, 2027, c.EndsAt.Year())
	assert.Equal(t, int64(5_000_000_000), c.BudgetFen, "¥50,000,000")
	var tiers [][2]int64
	for _, tier := range c.Rules.Tiers {
		tiers = append(tiers, [2]int64{tier.MinSpendFen, tier.DiscountFen})
		assert.Equal(t, 7, tier.ValidityDays, tier.ID)
		assert.Equal(t, 1, tier.PerRoundLimit, tier.ID)
	}
	assert.Equal(t, [][2]int64{{2000, 500}, {10000, 2500}, {20000, 5000}}, tiers)
	assert.Equal(t, []string{"3101"}, c.Rules.Eligibility.MerchantRegionPrefixes)
	assert.Equal(t, "Friday 10:00", c.StartsAt.In(c.Location()).Format("Monday 15:04"), "the first release round")
}

func TestNationalTradeInExample(t *testing.T) {
	c := loadExample(t, "national-trade-in.yaml")

	assert.Equal(t, campaign.KindTradeIn, c.Kind)
	cats := map[string]campaign.Category{}
	for _, cat := range c.Rules.Categories {
		cats[cat.Code] = cat
	}
	for _, code := range []string{"refrigerator", "washing_machine", "television", "air_conditioner", "computer"} {
		cat := cats[code]
		assert.Equal(t, 1500, cat.RateBP, code)
		assert.Equal(t, map[string]int{"1": 2000}, cat.GradeRateBP, code)
		assert.Equal(t, int64(200000), cat.CapFen, code)
		assert.Zero(t, cat.MaxPriceFen, code)
		assert.True(t, cat.RecyclingProofRequired, code)
	}
	assert.Equal(t, 3, cats["air_conditioner"].PerHolderLimit)
	assert.Equal(t, 1, cats["refrigerator"].PerHolderLimit)
	for _, code := range []string{"phone", "tablet", "smartwatch"} {
		cat := cats[code]
		assert.Equal(t, 1500, cat.RateBP, code)
		assert.Equal(t, int64(50000), cat.CapFen, code)
		assert.Equal(t, int64(600000), cat.MaxPriceFen, code)
		assert.False(t, cat.RecyclingProofRequired, code)
	}

	// The rules as shoppers meet them.
	fridge, phone := cats["refrigerator"], cats["phone"]
	assert.Equal(t, int64(120000), fridge.Subsidy(800000, "2"), "15% of ¥8,000")
	assert.Equal(t, int64(160000), fridge.Subsidy(800000, "1"), "20% of ¥8,000 for grade 1")
	assert.Equal(t, int64(200000), fridge.Subsidy(1500000, "1"), "capped at ¥2,000")
	assert.Equal(t, int64(44998), phone.Subsidy(299990, ""), "15% of ¥2,999.90, rounded down")
	assert.Equal(t, int64(50000), phone.Subsidy(599900, ""), "capped at ¥500")
	assert.False(t, phone.AllowsPrice(600001), "not above ¥6,000")
}

func TestMerchantsExample(t *testing.T) {
	f, err := os.Open(filepath.Join(examples, "merchants.csv"))
	require.NoError(t, err)
	defer f.Close()

	merchants, rowErrors, err := registry.ParseMerchantCSV(f, "dev-platform", 100_000)

	require.NoError(t, err)
	require.Empty(t, rowErrors)
	assert.Len(t, merchants, 12)
	shanghai := 0
	for _, m := range merchants {
		if strings.HasPrefix(m.Region, "3101") {
			shanghai++
		}
	}
	assert.Equal(t, 7, shanghai, "Shanghai merchants, the rest elsewhere")
}
