package registry

import (
	"errors"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/stretchr/testify/require"

	"github.com/tongquan/tongquan/internal/apperr"
)

const csvHeaderLine = "merchant_id,name,uscc,region,category,channel,status\n"

func parseCSV(t *testing.T, text string, maxRows int) ([]Merchant, []RowError, error) {
	t.Helper()
	return ParseMerchantCSV(strings.NewReader(text), "jd", maxRows)
}

func merchantIDs(ms []Merchant) []string {
	var ids []string
	for _, m := range ms {
		ids = append(ids, m.MerchantID)
	}
	return ids
}

func TestParseMerchantCSVGoodFile(t *testing.T) {
	text := csvHeaderLine +
		"m1,福州家电商行," + usccFuzhou + ",350102,household_appliances,offline,active\n" +
		`"m:2"," 京东 ""自营"" 旗舰店 ",` + usccBeijing + ",110105,5137,online,inactive\n" +
		"m3,Empty status," + usccBeijing + ",110105,food,online,\n"
	ms, rowErrs, err := parseCSV(t, text, 3)
	require.NoError(t, err)
	require.Empty(t, rowErrs)
	require.Equal(t, []Merchant{
		{PlatformID: "jd", MerchantID: "m1", Name: "福州家电商行", USCC: usccFuzhou, Region: "350102",
			Category: "household_appliances", Channel: "offline", Status: "active"},
		{PlatformID: "jd", MerchantID: "m:2", Name: `京东 "自营" 旗舰店`, USCC: usccBeijing, Region: "110105",
			Category: "5137", Channel: "online", Status: "inactive"},
		{PlatformID: "jd", MerchantID: "m3", Name: "Empty status", USCC: usccBeijing, Region: "110105",
			Category: "food", Channel: "online", Status: "active"},
	}, ms)
}

func TestParseMerchantCSVHeaderVariants(t *testing.T) {
	want := []Merchant{{PlatformID: "jd", MerchantID: "m1", Name: "Shop", USCC: usccFuzhou, Region: "350102",
		Category: "food", Channel: "online", Status: "active"}}
	tests := map[string]string{
		"reordered, no status column": "channel,uscc,name,category,merchant_id,region\n" +
			"online," + usccFuzhou + ",Shop,food,m1,350102\n",
		"header in other case and padded": " Merchant_ID ,NAME,Uscc,region,category,channel,Status\r\n" +
			"m1,Shop," + usccFuzhou + ",350102,food,online,active\r\n",
		"byte order mark": "\uFEFF" + csvHeaderLine + "m1,Shop," + usccFuzhou + ",350102,food,online,active",
		"byte order mark, quoted header": "\uFEFF\"merchant_id\",\"name\",uscc,region,category,channel\n" +
			"m1,Shop," + usccFuzhou + ",350102,food,online\n",
		"blank lines": "\n" + csvHeaderLine + "\n\nm1,Shop," + usccFuzhou + ",350102,food,online,active\n\n",
	}
	for name, text := range tests {
		t.Run(name, func(t *testing.T) {
			ms, rowErrs, err := parseCSV(t, text, 10)
			require.NoError(t, err)
			require.Empty(t, rowErrs)
			require.Equal(t, want, ms)
		})
	}
}

func TestParseMerchantCSVRowErrors(t *testing.T) {
	good := func(id string) string {
		return id + ",Shop " + id + "," + usccFuzhou + ",350102,food,online,active\n"
	}
	tests := []struct {
		name    string
		rows    string
		kept    []string
		rowErrs []RowError
	}{
		{
			name: "bad row among good rows",
			rows: good("m1") + "m2,Shop," + strings.ToLower(usccFuzhou) + ",350102,food,mail,active\n" + good("m3"),
			kept: []string{"m1", "m3"},
			rowErrs: []RowError{{Row: 2, MerchantID: "m2", Fields: []apperr.FieldError{
				{Field: "uscc", Reason: "position 9 is 'm': letters must be upper case"},
				{Field: "channel", Reason: `must be "online" or "offline", got "mail"`},
			}}},
		},
		{
			name: "duplicate merchant ids: the later rows are refused",
			rows: good("m1") + good("m2") + good("m1") + good("m1"),
			kept: []string{"m1", "m2"},
			rowErrs: []RowError{
				{Row: 3, MerchantID: "m1", Fields: []apperr.FieldError{{Field: "merchant_id", Reason: "repeats row 1; each merchant may appear once per file"}}},
				{Row: 4, MerchantID: "m1", Fields: []apperr.FieldError{{Field: "merchant_id", Reason: "repeats row 1; each merchant may appear once per file"}}},
			},
		},
		{
			name: "short and long rows",
			rows: "m1,Shop," + usccFuzhou + ",350102,food,online\n" + good("m2") + good("m3") + "m4,a,b,c,d,e,f,g\n",
			kept: []string{"m2", "m3"},
			rowErrs: []RowError{
				{Row: 1, MerchantID: "m1", Fields: []apperr.FieldError{{Field: "row", Reason: "has 6 values but the header has 7 columns"}}},
				{Row: 4, MerchantID: "m4", Fields: []apperr.FieldError{{Field: "row", Reason: "has 8 values but the header has 7 columns"}}},
			},
		},
		{
			name: "a row is a record, even when a quoted value spans lines",
			rows: "m1,\"two\nlines\"," + usccFuzhou + ",350102,food,online,active\n" + ",Shop," + usccFuzhou + ",350102,food,online,active\n" + good("m3"),
			kept: []string{"m3"},
			rowErrs: []RowError{
				{Row: 1, MerchantID: "m1", Fields: []apperr.FieldError{{Field: "name", Reason: "must not contain control characters such as line breaks or tabs"}}},
				{Row: 2, Fields: []apperr.FieldError{{Field: "merchant_id", Reason: "must be 1 to 64 characters: letters, digits, '.', '_', ':' or '-'"}}},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ms, rowErrs, err := parseCSV(t, csvHeaderLine+tt.rows, 10)
			require.NoError(t, err)
			require.Equal(t, tt.kept, merchantIDs(ms))
			require.Equal(t, tt.rowErrs, rowErrs)
		})
	}
}

func TestParseMerchantCSVFileErrors(t *testing.T) {
	row := "m1,Shop," + usccFuzhou + ",350102,food,online,active\n"
	tests := []struct {
		name, text    string
		field, reason string
	}{
		{"empty file", "", "header", "the file is empty"},
		{"only a byte order mark", "\uFEFF", "header", "the file is empty"},
		{"missing column", "merchant_id,name,uscc,category,channel\n", "header", `required column "region" is missing`},
		{"unknown column", "merchant_id,name,uscc,region,category,channel,platform_id\n", "header", `unknown column "platform_id"`},
		{"repeated column", "merchant_id,name,uscc,region,category,channel,Name\n", "header", `column "name" appears twice (columns 2 and 7)`},
		{"unnamed column", "merchant_id,name,uscc,region,category,channel,\n", "header", "column 7 has no name"},
		{"no header, data first", row, "header", `unknown column "m1"`},
		{"too many rows", csvHeaderLine + row + strings.Replace(row, "m1", "m2", 1) + strings.Replace(row, "m1", "m3", 1), "file", "has more than 2 data rows"},
		{"bare quote", csvHeaderLine + row + "m2,Sh\"op,x,x,x,x,x\n", "file", "is not valid CSV at line 3, column 6"},
		{"unterminated quote", csvHeaderLine + "m1,\"Shop\n", "file", "is not valid CSV at line 2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ms, rowErrs, err := parseCSV(t, tt.text, 2)
			require.Nil(t, ms)
			require.Nil(t, rowErrs)
			e, ok := apperr.As(err)
			require.True(t, ok, "%v", err)
			require.Equal(t, apperr.CodeValidationFailed, e.Code)
			require.NotEmpty(t, e.Fields)
			require.Equal(t, tt.field, e.Fields[0].Field)
			require.Contains(t, e.Fields[0].Reason, tt.reason)
		})
	}

	t.Run("every header problem at once", func(t *testing.T) {
		_, _, err := parseCSV(t, "merchant_id,merchant_id,shop,uscc\n", 2)
		requireInvalid(t, err,
			"header", `column "merchant_id" appears twice`,
			"header", `unknown column "shop"`,
			"header", `"name" is missing`,
			"header", `"region" is missing`,
			"header", `"category" is missing`,
			"header", `"channel" is missing`)
	})

	t.Run("exactly maxRows", func(t *testing.T) {
		ms, _, err := parseCSV(t, csvHeaderLine+row+strings.Replace(row, "m1", "m2", 1), 2)
		require.NoError(t, err)
		require.Len(t, ms, 2)
	})

	t.Run("rows with errors count towards maxRows", func(t *testing.T) {
		_, _, err := parseCSV(t, csvHeaderLine+"x\ny\nz\n", 2)
		requireInvalid(t, err, "file", "more than 2 data rows")
	})

	t.Run("bad platform", func(t *testing.T) {
		_, _, err := ParseMerchantCSV(strings.NewReader(csvHeaderLine+row), "JD", 2)
		requireInvalid(t, err, "platform_id", "lower-case")
	})

	t.Run("bad limit", func(t *testing.T) {
		_, _, err := parseCSV(t, csvHeaderLine, 0)
		require.Equal(t, apperr.CodeInternal, apperr.CodeOf(err))
	})

	cause := errors.New("connection reset")
	for name, r := range map[string]func() error{
		"read error at once": func() error {
			_, _, err := ParseMerchantCSV(iotest.ErrReader(cause), "jd", 2)
			return err
		},
		"read error mid-file": func() error {
			_, _, err := ParseMerchantCSV(&failingReader{data: csvHeaderLine + row, err: cause}, "jd", 2)
			return err
		},
	} {
		t.Run(name, func(t *testing.T) {
			err := r()
			require.ErrorIs(t, err, cause)
			require.Equal(t, apperr.CodeValidationFailed, apperr.CodeOf(err))
		})
	}
}

// failingReader returns data, then err.
type failingReader struct {
	data string
	err  error
}

func (f *failingReader) Read(p []byte) (int, error) {
	if f.data == "" {
		return 0, f.err
	}
	n := copy(p, f.data)
	f.data = f.data[n:]
	return n, nil
}

func FuzzParseMerchantCSV(f *testing.F) {
	row := "m1,Shop," + usccFuzhou + ",350102,food,online,active\n"
	for _, seed := range []string{
		csvHeaderLine + row,
		"\uFEFF" + csvHeaderLine + row + row,
		"channel,uscc,name,category,merchant_id,region\nonline," + usccBeijing + ",Shop,food,m1,110105\n",
		csvHeaderLine + "m1,\"a\"\"b\"," + usccFuzhou + ",350102,food,online,\n",
		csvHeaderLine + "m1,Shop\n",
		csvHeaderLine + "m2,Sh\"op,x,x,x,x,x\n",
		"",
		"\uFEFF",
	} {
		f.Add([]byte(seed), uint8(3))
	}
	f.Fuzz(func(t *testing.T, data []byte, limit uint8) {
		maxRows := int(limit%16) + 1
		ms, rowErrs, err := ParseMerchantCSV(strings.NewReader(string(data)), "jd", maxRows)
		if err != nil {
			if ms != nil || rowErrs != nil {
				t.Fatalf("whole-file error %v came with results", err)
			}
			if _, ok := apperr.As(err); !ok {
				t.Fatalf("error is not an apperr: %v", err)
			}
			return
		}
		if n := len(ms) + len(rowErrs); n > maxRows {
			t.Fatalf("%d rows accepted or reported, limit %d", n, maxRows)
		}
		ids := map[string]bool{}
		for _, m := range ms {
			if fields := m.Validate(); len(fields) > 0 || m.PlatformID != "jd" {
				t.Fatalf("kept an invalid merchant %+v: %v", m, fields)
			}
			if ids[m.MerchantID] {
				t.Fatalf("kept merchant %q twice", m.MerchantID)
			}
			ids[m.MerchantID] = true
		}
		last := 0
		for _, re := range rowErrs {
			if re.Row <= last || len(re.Fields) == 0 {
				t.Fatalf("bad row error %+v after row %d", re, last)
			}
			last = re.Row
		}
	})
}
