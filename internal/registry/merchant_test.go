package registry

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func goodMerchant() Merchant {
	return Merchant{
		PlatformID: "jd",
		MerchantID: "shop:1001",
		Name:       "福州家电商行",
		USCC:       usccFuzhou,
		Region:     "350102",
		Category:   "household_appliances",
		Channel:    ChannelOffline,
		Status:     MerchantActive,
	}
}

func TestMerchantValidate(t *testing.T) {
	m := goodMerchant()
	require.Empty(t, m.Validate())

	tests := []struct {
		name   string
		edit   func(*Merchant)
		fields []string // field, reason fragment, …
	}{
		{"numeric category", func(m *Merchant) { m.Category = "5137" }, nil},
		{"online, inactive", func(m *Merchant) { m.Channel, m.Status = ChannelOnline, MerchantInactive }, nil},
		{"sanction and platform are not checked", func(m *Merchant) { m.Sanction, m.PlatformID = "whatever", "" }, nil},
		{"id with every allowed punctuation", func(m *Merchant) { m.MerchantID = "a.b_c:d-E9" }, nil},
		{"id empty", func(m *Merchant) { m.MerchantID = "" }, []string{"merchant_id", "1 to 64 characters"}},
		{"id with space", func(m *Merchant) { m.MerchantID = "shop 1" }, []string{"merchant_id", "1 to 64 characters"}},
		{"id with slash", func(m *Merchant) { m.MerchantID = "shop/1" }, []string{"merchant_id", "1 to 64 characters"}},
		{"id too long", func(m *Merchant) { m.MerchantID = strings.Repeat("9", 65) }, []string{"merchant_id", "1 to 64 characters"}},
		{"name empty", func(m *Merchant) { m.Name = "" }, []string{"name", "is required"}},
		{"name too long", func(m *Merchant) { m.Name = strings.Repeat("店", 201) }, []string{"name", "at most 200"}},
		{"name with tab", func(m *Merchant) { m.Name = "a\tb" }, []string{"name", "control characters"}},
		{"uscc lower case", func(m *Merchant) { m.USCC = strings.ToLower(usccFuzhou) }, []string{"uscc", "upper case"}},
		{"uscc check", func(m *Merchant) { m.USCC = usccFuzhou[:17] + "4" }, []string{"uscc", "check character should be 3"}},
		{"region", func(m *Merchant) { m.Region = "35010" }, []string{"region", "6-digit"}},
		{"category upper case", func(m *Merchant) { m.Category = "Appliances" }, []string{"category", "lower-case"}},
		{"category with dash", func(m *Merchant) { m.Category = "home-appliances" }, []string{"category", "lower-case"}},
		{"category too long", func(m *Merchant) { m.Category = strings.Repeat("a", 33) }, []string{"category", "1 to 32"}},
		{"channel", func(m *Merchant) { m.Channel = "Online" }, []string{"channel", `must be "online" or "offline", got "Online"`}},
		{"status missing", func(m *Merchant) { m.Status = "" }, []string{"status", `is required: "active" or "inactive"`}},
		{"everything, in field order", func(m *Merchant) { *m = Merchant{} }, []string{
			"merchant_id", "", "name", "", "uscc", "", "region", "", "category", "", "channel", "", "status", "",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := goodMerchant()
			tt.edit(&m)
			requireFields(t, m.Validate(), tt.fields...)
		})
	}
}

func TestSanctionValidate(t *testing.T) {
	tests := []struct {
		name   string
		s      Sanction
		fields []string
	}{
		{"suspend", Sanction{USCC: usccBeijing, Sanction: SanctionSuspended, Reason: "虚假交易调查中"}, nil},
		{"blacklist, multi-line reason", Sanction{USCC: usccBeijing, Sanction: SanctionBlacklisted, Reason: "套现\n第二次\t确认"}, nil},
		{"lift without reason", Sanction{USCC: usccBeijing, Sanction: SanctionNone}, nil},
		{"lift with reason", Sanction{USCC: usccBeijing, Sanction: SanctionNone, Reason: "appeal upheld"}, nil},
		{"reason 500 characters", Sanction{USCC: usccBeijing, Sanction: SanctionSuspended, Reason: strings.Repeat("理", 500)}, nil},
		{"reason missing", Sanction{USCC: usccBeijing, Sanction: SanctionSuspended}, []string{"reason", "is required"}},
		{"reason blank", Sanction{USCC: usccBeijing, Sanction: SanctionBlacklisted, Reason: " \n "}, []string{"reason", "is required"}},
		{"reason too long", Sanction{USCC: usccBeijing, Sanction: SanctionSuspended, Reason: strings.Repeat("理", 501)}, []string{"reason", "at most 500 characters, got 501"}},
		{"reason too long when lifting", Sanction{USCC: usccBeijing, Sanction: SanctionNone, Reason: strings.Repeat("x", 501)}, []string{"reason", "at most 500"}},
		{"reason with NUL", Sanction{USCC: usccBeijing, Sanction: SanctionSuspended, Reason: "a\x00b"}, []string{"reason", "control characters other than line breaks"}},
		{"bad uscc", Sanction{USCC: "91110000600037341", Sanction: SanctionSuspended, Reason: "r"}, []string{"uscc", "18 characters"}},
		{"unknown sanction", Sanction{USCC: usccBeijing, Sanction: "banned", Reason: "r"}, []string{"sanction", `"suspended", "blacklisted" or "none"`}},
		{"empty", Sanction{}, []string{"uscc", "", "sanction", "is required", "reason", "is required"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			requireFields(t, tt.s.Validate(), tt.fields...)
		})
	}
}
