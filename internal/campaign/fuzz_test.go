package campaign

import (
	"encoding/json"
	"testing"
	"time"
)

// FuzzValidate feeds arbitrary JSON to Normalize and Validate: they must never
// panic, every error must name a field and a reason, and a campaign that
// passes must be safe to price and schedule.
func FuzzValidate(f *testing.F) {
	for _, c := range []*Campaign{consumption(), tradeIn()} {
		b, err := json.Marshal(c)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(`{}`))
	f.Add([]byte(`{"kind":"trade_in","rules":{"categories":[{"code":"x","rate_bp":-1,"grade_rate_bp":{"":99999}}]}}`))
	f.Add([]byte(`{"budget_fen":9223372036854775807,"rules":{"eligibility":{"hour_windows":[{"from":"24:00","to":"0:0"}],"weekdays":[-1]}}}`))

	f.Fuzz(func(t *testing.T, data []byte) {
		var c Campaign
		if json.Unmarshal(data, &c) != nil {
			return
		}
		c.Normalize()
		fields := c.Validate()
		for _, fe := range fields {
			if fe.Field == "" || fe.Reason == "" {
				t.Fatalf("field error without field or reason: %+v", fe)
			}
		}
		if (c.ValidateErr() == nil) != (len(fields) == 0) {
			t.Fatal("ValidateErr disagrees with Validate")
		}
		if len(fields) > 0 {
			return
		}
		loc := c.Location()
		c.Rules.Eligibility.AllowsTime(c.StartsAt, loc)
		c.DueAction(c.StartsAt.Add(time.Minute))
		for _, cat := range c.Rules.Categories {
			for _, g := range []string{"", "1", "2", "3", "4", "5"} {
				if s := cat.Subsidy(MaxAmountFen, g); s < 0 || s > cat.CapFen {
					t.Fatalf("subsidy %d outside 0..cap %d", s, cat.CapFen)
				}
			}
		}
	})
}
