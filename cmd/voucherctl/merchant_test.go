package main

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tongquan/tongquan/internal/auth"
)

const merchantCSV = "merchant_id,name,uscc,region,category,channel\n" +
	"m1,Xuhui Appliances,91310104MA1G8W2N57,310104,household_appliances,offline\n" +
	"m2,Bad Code,91310104MA1G8W2N58,310104,household_appliances,offline\n"

func TestMerchantImportPostsTheCSVAsTheDevelopmentPlatform(t *testing.T) {
	f := newFakeVoucherd(t)
	f.on(http.MethodPost, "/v1/merchants/import", http.StatusOK, `{"rows": 1, "imported": 1, "rejected": 0, "errors": []}`)

	out, errOut, code := f.voucherctl("merchant", "import", writeFile(t, "m.csv", merchantCSV))

	require.Equal(t, 0, code, errOut)
	req := f.only()
	assert.Equal(t, "text/csv", req.contentType)
	assert.Equal(t, merchantCSV, string(req.body))
	assert.Equal(t, auth.KindPlatform, req.caller.Kind)
	assert.Equal(t, "dev-platform", req.caller.PlatformID)
	assert.Regexp(t, `Imported:\s+1`, out)
}

func TestMerchantImportWithAPlatformToken(t *testing.T) {
	f := newFakeVoucherd(t)
	f.on(http.MethodPost, "/v1/merchants/import", http.StatusOK, `{"rows": 1, "imported": 1, "rejected": 0, "errors": []}`)

	_, errOut, code := f.voucherctl("merchant", "import", writeFile(t, "m.csv", merchantCSV), "--platform-token", "jd-signed-token")

	require.Equal(t, 0, code, errOut)
	assert.Equal(t, "Bearer jd-signed-token", f.only().authorization)
}

func TestMerchantImportReportsRejectedRowsAndFails(t *testing.T) {
	f := newFakeVoucherd(t)
	f.on(http.MethodPost, "/v1/merchants/import", http.StatusOK, `{"rows": 2, "imported": 1, "rejected": 1, "errors": [
		{"row": 2, "merchant_id": "m2", "fields": [{"field": "uscc", "reason": "check character should be 7, not 8"}]}]}`)

	out, errOut, code := f.voucherctl("merchant", "import", writeFile(t, "m.csv", merchantCSV))

	assert.Equal(t, 1, code)
	assert.Regexp(t, `Rows:\s+2\nImported:\s+1\nRejected:\s+1\n`, out)
	assert.Regexp(t, `ROW\s+MERCHANT\s+FIELD\s+REASON\n2\s+m2\s+uscc\s+check character should be 7, not 8\n`, out)
	assert.Contains(t, errOut, "1 of 2 rows rejected")
}
