package product

import (
	"strings"
	"testing"
	"unicode"

	"github.com/libsecucard/libsecucard/core/errs"
	"github.com/libsecucard/libsecucard/internal/testkit"
)

// FuzzReceipt feeds any receipt input of secucard_format_receipt (lines or
// a smart transaction) and any width to ReceiptLines and FormatReceipt.
// Properties:
//   - refused input gets an InvalidArgument naming a field ("receipt", or
//     where in it), repeating no card number of the input;
//   - every printed line fits the width in columns (the clamped width),
//     holds no control character and no trailing space;
//   - nothing a line is documented to print is lost: every printable
//     character of its texts reaches the paper.
//
// Seeds: testdata/fuzz/FuzzReceipt.
func FuzzReceipt(f *testing.F) {
	f.Add([]byte(`[{"type":"name-value","value":{"name":"Summe","value":"12,97 EUR","decoration":["important"]}}]`), 40)
	f.Fuzz(func(t *testing.T, raw []byte, width int) {
		lines, err := ReceiptLines(raw)
		if err != nil {
			e := errs.As(err)
			if e.Kind != errs.InvalidArgument || e.Field == "" {
				t.Fatalf("%q: refused with %s (field %q): %v", raw, e.Kind, e.Field, err)
			}
			if leak := testkit.Leak(testkit.ErrorText(err), string(raw)); leak != "" {
				t.Fatalf("%q: the error repeats %q: %s", raw, leak, testkit.ErrorText(err))
			}
			return
		}
		w := width
		switch {
		case w == 0:
			w = DefaultReceiptWidth
		case w < MinReceiptWidth:
			w = MinReceiptWidth
		case w > MaxReceiptWidth:
			w = MaxReceiptWidth
		}
		text := FormatReceipt(lines, width)
		for i, l := range strings.Split(text, "\n") {
			if textWidth(l) > w {
				t.Fatalf("%q width %d: line %d %q takes %d columns", raw, w, i, l, textWidth(l))
			}
			if strings.HasSuffix(l, " ") {
				t.Fatalf("%q: line %d %q ends in a space", raw, i, l)
			}
			for _, r := range l {
				if unicode.IsControl(r) {
					t.Fatalf("%q: line %d %q holds the control character %U", raw, i, l, r)
				}
			}
		}
		if want, got := printable(documentedText(lines)), printable(text); got < want {
			t.Fatalf("%q width %d: %d printable characters in, %d on paper:\n%s", raw, w, want, got, text)
		}
	})
}

// documentedText is what FormatReceipt's documentation says each line
// prints, in upper case for "important" lines.
func documentedText(lines []ReceiptLine) string {
	var b strings.Builder
	for _, l := range lines {
		v := l.Value
		if v == nil {
			continue
		}
		var parts []Flex
		switch strings.ReplaceAll(strings.ToLower(strings.TrimSpace(l.Type)), "_", "-") {
		case "space":
		case "separator":
			parts = []Flex{v.Caption}
			if strings.TrimSpace(cleanText(string(v.Caption))) == "" {
				parts = []Flex{v.Text}
			}
		case "textline":
			parts = []Flex{v.Text}
		case "name-value":
			parts = []Flex{v.Name, v.Value}
		default:
			parts = []Flex{v.Caption, v.Text, v.Name, v.Value}
		}
		for _, p := range parts {
			s := string(p)
			for _, d := range v.Decoration {
				if strings.EqualFold(strings.TrimSpace(d), "important") {
					s = strings.ToUpper(s)
				}
			}
			b.WriteString(s)
		}
	}
	return b.String()
}

// printable counts what must reach the paper: no spaces, no control
// characters, no rule dashes.
func printable(s string) int {
	n := 0
	for _, r := range strings.ToValidUTF8(s, "?") {
		if !unicode.IsSpace(r) && !unicode.IsControl(r) && r != '-' {
			n++
		}
	}
	return n
}
