package product

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/libsecucard/libsecucard/core/errs"
)

// A customer receipt in the shape of spec §7.1 (recorded decorations use
// hyphens; the Java/PHP constants use underscores; both appear here), with a
// line type and a decoration no SDK knows.
const demoReceipt = `[
  {"type":"separator","value":{"caption":"Kundenbeleg","decoration":["important"]}},
  {"type":"textline","value":{"text":"Bäckerei Schmidt","decoration":["align-center","important"]}},
  {"type":"textline","value":{"text":"Goethestraße 6, 01896 Pulsnitz","decoration":["align_center"]}},
  {"type":"space"},
  {"type":"name-value","value":{"name":"Datum","value":"23.11.2026 10:15"}},
  {"type":"name-value","value":{"name":"Terminal-ID","value":"52500038"}},
  {"type":"name-value","value":{"name":"Beleg-Nr.","value":"1207"}},
  {"type":"name-value","value":{"name":"Karte","value":"girocard ************1234"}},
  {"type":"separator"},
  {"type":"name-value","value":{"name":"Betrag","value":"3,48 EUR","decoration":["important"]}},
  {"type":"separator"},
  {"type":"textline","value":{"text":"Zahlung erfolgt","decoration":["align-center","important"]}},
  {"type":"textline","value":{"text":"Vielen Dank für Ihren Einkauf und bis bald in unserer Filiale in Pulsnitz!"}},
  {"type":"textline","value":{"text":"Beleg bitte aufbewahren","decoration":["align-right"]}},
  {"type":"space"},
  {"type":"separator","value":{"caption":"Kundenkarte"}},
  {"type":"name-value","value":{"name":"Kartennummer:","value":"9276 **** **** 1234"}},
  {"type":"name-value","value":{"name":"Guthaben nach Zahlung inklusive Bonuspunkte","value":"12,50 EUR"}},
  {"type":"barcode","value":{"text":"STX_3R3BVVHR32YCUCQGR5GQGQS6DMJ2A2","decoration":["blink"]}},
  {"type":"textline","value":{"text":"Guthabenabfrage: https://secucard.com/guthabenabfrage-0"}}
]`

const demoReceipt40 = `------------- KUNDENBELEG --------------
            BÄCKEREI SCHMIDT
     Goethestraße 6, 01896 Pulsnitz

Datum                   23.11.2026 10:15
Terminal-ID                     52500038
Beleg-Nr.                           1207
Karte          girocard ************1234
----------------------------------------
BETRAG                          3,48 EUR
----------------------------------------
            ZAHLUNG ERFOLGT
Vielen Dank für Ihren Einkauf und bis
bald in unserer Filiale in Pulsnitz!
                 Beleg bitte aufbewahren

------------- Kundenkarte --------------
Kartennummer:        9276 **** **** 1234
Guthaben nach Zahlung inklusive
Bonuspunkte                    12,50 EUR
STX_3R3BVVHR32YCUCQGR5GQGQS6DMJ2A2
Guthabenabfrage:
https://secucard.com/guthabenabfrage-0`

const demoReceipt24 = `----- KUNDENBELEG ------
    BÄCKEREI SCHMIDT
 Goethestraße 6, 01896
        Pulsnitz

Datum   23.11.2026 10:15
Terminal-ID     52500038
Beleg-Nr.           1207
Karte
                girocard
        ************1234
------------------------
BETRAG          3,48 EUR
------------------------
    ZAHLUNG ERFOLGT
Vielen Dank für Ihren
Einkauf und bis bald in
unserer Filiale in
Pulsnitz!
 Beleg bitte aufbewahren

----- Kundenkarte ------
Kartennummer:
     9276 **** **** 1234
Guthaben nach Zahlung
inklusive Bonuspunkte
               12,50 EUR
STX_3R3BVVHR32YCUCQGR5GQ
GQS6DMJ2A2
Guthabenabfrage:
https://secucard.com/gut
habenabfrage-0`

func TestFormatReceiptGolden(t *testing.T) {
	lines, err := ReceiptLines(json.RawMessage(demoReceipt))
	require.NoError(t, err)
	for _, tc := range []struct {
		width int
		want  string
	}{{0, demoReceipt40}, {40, demoReceipt40}, {24, demoReceipt24}} {
		got := FormatReceipt(lines, tc.width)
		assert.Equal(t, tc.want, got, "width %d", tc.width)
		w := tc.width
		if w == 0 {
			w = DefaultReceiptWidth
		}
		for _, l := range strings.Split(got, "\n") {
			assert.LessOrEqual(t, utf8.RuneCountInString(l), w, "line %q is wider than the paper", l)
			assert.Equal(t, strings.TrimRight(l, " "), l, "no trailing spaces")
		}
	}
}

func line(typ string, v *ReceiptValue) ReceiptLine { return ReceiptLine{Type: typ, Value: v} }

func TestFormatReceiptLines(t *testing.T) {
	cases := []struct {
		name  string
		lines []ReceiptLine
		width int
		want  string
	}{
		{"width 0 is 40", []ReceiptLine{line("separator", nil)}, 0, strings.Repeat("-", 40)},
		{"narrow widths are clamped", []ReceiptLine{line("separator", nil)}, 5, strings.Repeat("-", MinReceiptWidth)},
		{"wide widths are clamped", []ReceiptLine{line("separator", nil)}, 1000, strings.Repeat("-", MaxReceiptWidth)},
		{"space", []ReceiptLine{line("space", nil), line("textline", &ReceiptValue{Text: "x"})}, 20, "\nx"},
		{"long caption above a rule", []ReceiptLine{line("separator", &ReceiptValue{Caption: "Ein sehr langer Abschnittstitel"})}, 20,
			"  Ein sehr langer\n  Abschnittstitel\n" + strings.Repeat("-", 20)},
		{"explicit newlines kept", []ReceiptLine{line("textline", &ReceiptValue{Text: "Zeile 1\r\nZeile 2"})}, 20, "Zeile 1\nZeile 2"},
		{"fitting text keeps its spacing", []ReceiptLine{line("textline", &ReceiptValue{Text: "EUR     3,48"})}, 20, "EUR     3,48"},
		{"control characters removed", []ReceiptLine{line("textline", &ReceiptValue{Text: "A\x1bB\x07C\tD"})}, 20, "ABC D"},
		{"important name-value", []ReceiptLine{line("name-value", &ReceiptValue{Name: "Summe", Value: "5,04 €", Decoration: Decorations{"IMPORTANT"}})}, 20,
			"SUMME         5,04 €"},
		{"name without value", []ReceiptLine{line("name-value", &ReceiptValue{Name: "Nur Name"})}, 20, "Nur Name"},
		{"value without name", []ReceiptLine{line("name-value", &ReceiptValue{Value: "42"})}, 20, "                  42"},
		{"decomposed umlaut counts one column", []ReceiptLine{line("name-value", &ReceiptValue{Name: "Mu\u0308ller", Value: "1"})}, 20,
			"Mu\u0308ller             1"},
		{"wide characters count two columns", []ReceiptLine{line("name-value", &ReceiptValue{Name: "咖啡", Value: "1"})}, 20,
			"咖啡               1"},
		{"over-long word is cut", []ReceiptLine{line("textline", &ReceiptValue{Text: Flex(strings.Repeat("x", 25))})}, 20,
			strings.Repeat("x", 20) + "\n" + strings.Repeat("x", 5)},
		{"unknown decoration ignored", []ReceiptLine{line("textline", &ReceiptValue{Text: "blinkt", Decoration: Decorations{"blink", "align-right"}})}, 20,
			"              blinkt"},
		{"type case and underscore tolerated", []ReceiptLine{line("Name_Value", &ReceiptValue{Name: "a", Value: "b"})}, 20, "a                  b"},
		{"unknown type prints all its text", []ReceiptLine{line("qrcode", &ReceiptValue{Caption: "Scan", Value: "https://x.invalid/r"})}, 30, "Scan https://x.invalid/r"},
		{"unknown type without text keeps its place", []ReceiptLine{line("cut", nil), line("textline", &ReceiptValue{Text: "x"})}, 20, "\nx"},
		{"nil value textline", []ReceiptLine{line("textline", nil)}, 20, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, FormatReceipt(tc.lines, tc.width))
		})
	}
}

func TestReceiptLines(t *testing.T) {
	cases := []struct {
		name string
		in   string
		n    int  // lines expected
		bad  bool // InvalidArgument expected
	}{
		{"array", `[{"type":"space"},{"type":"textline","value":{"text":"x"}}]`, 2, false},
		{"transaction", `{"object":"smart.transactions","id":"STX_1","receipt":[{"type":"space"}],"receipt_merchant":[{"type":"space"},{"type":"space"}]}`, 1, false},
		{"transaction without receipt", `{"object":"smart.transactions","id":"STX_1","status":"created"}`, 0, true},
		{"null receipt", `{"receipt":null}`, 0, true},
		{"empty array", `[]`, 0, true},
		{"not JSON", `[{"type":`, 0, true},
		{"empty", ``, 0, true},
		{"a number", `42`, 0, true},
		{"lines of the wrong shape", `[1,2]`, 0, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			lines, err := ReceiptLines(json.RawMessage(tc.in))
			if tc.bad {
				var e *errs.Error
				require.ErrorAs(t, err, &e)
				assert.Equal(t, errs.InvalidArgument, e.Kind)
				assert.Equal(t, "receipt", e.Field)
				return
			}
			require.NoError(t, err)
			assert.Len(t, lines, tc.n)
		})
	}
}

// TestReceiptLongWordIsLinear (issue 10.8c): an unbroken word was cut one
// line at a time, re-measuring the whole rest after every cut: 100 KB at
// width 20 took seconds, 10 MB never ended. The work, counted as rune width
// evaluations, must stay proportional to the input.
func TestReceiptLongWordIsLinear(t *testing.T) {
	word := strings.Repeat("0123456789ÄÖÜäöüß", 100<<10/20) // ~100 KB, 2-byte runes among them
	runes := utf8.RuneCountInString(word)
	lines := []ReceiptLine{{Type: "textline", Value: &ReceiptValue{Text: Flex(word)}}}

	calls := 0
	widthCalls = &calls
	out := FormatReceipt(lines, 20)
	widthCalls = nil

	assert.LessOrEqual(t, calls, 8*runes, "rune widths evaluated for %d runes", runes)
	got := strings.Split(out, "\n")
	for i, l := range got[:len(got)-1] {
		require.Equal(t, 20, utf8.RuneCountInString(l), "line %d is full", i)
	}
	assert.LessOrEqual(t, utf8.RuneCountInString(got[len(got)-1]), 20)
	assert.Equal(t, word, strings.Join(got, ""), "nothing lost, nothing added")
	assert.Len(t, got, (runes+19)/20)
}

// TestReceiptHugeWordAmongText: a 10 MB word between ordinary words is cut
// into full lines; the words around it keep their own lines.
func TestReceiptHugeWordAmongText(t *testing.T) {
	word := strings.Repeat("x", 10<<20)
	out := FormatReceipt([]ReceiptLine{{Type: "textline", Value: &ReceiptValue{Text: Flex("Kasse 1 " + word + " Ende gut")}}}, 40)
	got := strings.Split(out, "\n")
	require.Equal(t, "Kasse 1", got[0])
	assert.Equal(t, strings.Repeat("x", 40), got[1])
	assert.Equal(t, word, strings.Join(got[1:len(got)-1], ""))
	assert.Equal(t, "Ende gut", got[len(got)-1], "the rest of the word (none) does not swallow the next words")
}

// BenchmarkReceiptLongWord prints the cost of cutting one unbroken word next
// to the cost of wrapping the same amount of ordinary words (the linear
// baseline), interleaved in each iteration; "ratio" should stay near 1 at
// every size.
func BenchmarkReceiptLongWord(b *testing.B) {
	for _, size := range []int{10 << 10, 100 << 10, 1 << 20, 10 << 20} {
		word := []ReceiptLine{{Type: "textline", Value: &ReceiptValue{Text: Flex(strings.Repeat("x", size))}}}
		words := []ReceiptLine{{Type: "textline", Value: &ReceiptValue{Text: Flex(strings.Repeat("xxxxxxxxx ", size/10))}}}
		b.Run(fmt.Sprintf("%dKB", size>>10), func(b *testing.B) {
			b.SetBytes(int64(size))
			var long, base time.Duration
			for i := 0; i < b.N; i++ {
				t0 := time.Now()
				FormatReceipt(word, 20)
				t1 := time.Now()
				FormatReceipt(words, 20)
				long, base = long+t1.Sub(t0), base+time.Since(t1)
			}
			b.ReportMetric(float64(long.Nanoseconds())/float64(b.N), "word-ns/op")
			b.ReportMetric(float64(base.Nanoseconds())/float64(b.N), "words-ns/op")
			b.ReportMetric(float64(long)/float64(base), "ratio")
		})
	}
}
