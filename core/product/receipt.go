package product

import (
	"bytes"
	"encoding/json"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/libsecucard/libsecucard/core/errs"
	"github.com/libsecucard/libsecucard/core/internal/strictjson"
)

// Receipt widths in columns. The C API (secucard_format_receipt) rejects
// widths outside Min..Max; FormatReceipt clamps them.
const (
	DefaultReceiptWidth = 40
	MinReceiptWidth     = 20
	MaxReceiptWidth     = 200
)

// FormatReceipt renders receipt lines (spec §7.1) as plain text for a till
// printer of width columns (0 = DefaultReceiptWidth; other values are clamped
// to MinReceiptWidth..MaxReceiptWidth). Lines are separated by "\n", without
// a trailing newline or trailing spaces.
//
//   - separator: a rule of '-'; a caption is centred in it (" Caption ") or,
//     when too long for that, printed centred above a plain rule;
//   - space: an empty line;
//   - textline: the text, word-wrapped at width (explicit newlines kept);
//   - name-value: name left, value right-aligned on the same line; when both
//     do not fit, the name wraps and the value goes right-aligned below;
//   - decorations: "important" prints the line in upper case (printers
//     differ in bold/double-height support, upper case works everywhere);
//     "align-center", "align-left", "align-right" (also spelled with "_")
//     align textlines. Unknown decorations are ignored, unknown line types
//     print their text like a textline: nothing is dropped.
//
// Widths count display columns: combining marks take none, East Asian wide
// characters two, so "Müller" written decomposed still aligns. Control
// characters are removed because they could drive the printer.
func FormatReceipt(lines []ReceiptLine, width int) string {
	switch {
	case width == 0:
		width = DefaultReceiptWidth
	case width < MinReceiptWidth:
		width = MinReceiptWidth
	case width > MaxReceiptWidth:
		width = MaxReceiptWidth
	}
	var out []string
	for _, l := range lines {
		out = append(out, renderReceiptLine(l, width)...)
	}
	for i, s := range out {
		out[i] = strings.TrimRight(s, " ")
	}
	return strings.Join(out, "\n")
}

// ReceiptLines decodes raw as an array of receipt lines, a smart transaction
// object (its "receipt" array is used) or the error JSON of a declined start
// (its "transaction"'s receipt). No lines is an error.
func ReceiptLines(raw json.RawMessage) ([]ReceiptLine, error) {
	b := bytes.TrimSpace(raw)
	if len(b) == 0 {
		return nil, errs.Invalid("receipt", "is empty; expected an array of receipt lines or a smart transaction object")
	}
	prefix := "" // an object names its own "receipt" key
	if b[0] == '[' {
		prefix = "receipt"
	}
	if err := strictjson.CheckUTF8(b, "receipt", prefix); err != nil {
		return nil, err
	}
	var lines []ReceiptLine
	switch b[0] {
	case '[':
		if err := json.Unmarshal(b, &lines); err != nil {
			return nil, errs.Invalid("receipt", "is not an array of receipt lines: %v", err)
		}
	case '{':
		var obj map[string]json.RawMessage
		if err := json.Unmarshal(b, &obj); err != nil {
			return nil, errs.Invalid("receipt", "is not valid JSON: %v", err)
		}
		r, ok := obj["receipt"]
		if tx, isErr := obj["transaction"]; !ok && isErr {
			// The error JSON of a declined start: its transaction's receipt.
			var inner map[string]json.RawMessage
			if json.Unmarshal(tx, &inner) == nil {
				r, ok = inner["receipt"]
			}
		}
		if !ok {
			return nil, errs.Invalid("receipt", `the object has no "receipt" array (expected receipt lines, a smart transaction or a declined start's error JSON)`)
		}
		if err := json.Unmarshal(r, &lines); err != nil {
			return nil, errs.Invalid("receipt", "is not an array of receipt lines: %v", err)
		}
	default:
		return nil, errs.Invalid("receipt", "must be a JSON array of receipt lines or a smart transaction object")
	}
	if len(lines) == 0 {
		return nil, errs.Invalid("receipt", "has no receipt lines")
	}
	return lines, nil
}

type lineStyle struct {
	important bool
	align     string // "left", "center", "right"
}

func styleOf(v *ReceiptValue) lineStyle {
	st := lineStyle{align: "left"}
	for _, d := range v.Decoration {
		switch strings.ReplaceAll(strings.ToLower(strings.TrimSpace(d)), "_", "-") {
		case "important":
			st.important = true
		case "align-center":
			st.align = "center"
		case "align-left":
			st.align = "left"
		case "align-right":
			st.align = "right"
		}
	}
	return st
}

func renderReceiptLine(l ReceiptLine, width int) []string {
	v := l.Value
	if v == nil {
		v = &ReceiptValue{}
	}
	st := styleOf(v)
	txt := func(f Flex) string {
		s := cleanText(string(f))
		if st.important {
			s = strings.ToUpper(s)
		}
		return s
	}
	switch strings.ReplaceAll(strings.ToLower(strings.TrimSpace(l.Type)), "_", "-") {
	case "space":
		return []string{""}
	case "separator":
		caption := txt(v.Caption)
		if caption == "" {
			caption = txt(v.Text)
		}
		return separator(strings.Join(strings.Fields(caption), " "), width)
	case "textline":
		return alignAll(wrapText(txt(v.Text), width), st.align, width)
	case "name-value":
		return nameValue(txt(v.Name), txt(v.Value), width)
	}
	// Unknown type: print whatever text it carries rather than lose it.
	var parts []string
	for _, f := range []Flex{v.Caption, v.Text, v.Name, v.Value} {
		if s := txt(f); s != "" {
			parts = append(parts, s)
		}
	}
	return alignAll(wrapText(strings.Join(parts, " "), width), st.align, width)
}

func separator(caption string, width int) []string {
	rule := strings.Repeat("-", width)
	if caption == "" {
		return []string{rule}
	}
	w := textWidth(caption)
	if w+4 <= width {
		left := (width - w - 2) / 2
		right := width - w - 2 - left
		return []string{strings.Repeat("-", left) + " " + caption + " " + strings.Repeat("-", right)}
	}
	return append(alignAll(wrapText(caption, width), "center", width), rule)
}

func nameValue(name, value string, width int) []string {
	name = strings.TrimSpace(name)
	value = strings.TrimSpace(value)
	if value == "" {
		return wrapText(name, width)
	}
	if name == "" {
		return alignAll(wrapText(value, width), "right", width)
	}
	nw, vw := textWidth(name), textWidth(value)
	multiline := strings.Contains(name, "\n") || strings.Contains(value, "\n")
	if !multiline && nw+1+vw <= width {
		return []string{name + strings.Repeat(" ", width-nw-vw) + value}
	}
	lines := wrapText(name, width)
	last := lines[len(lines)-1]
	if lw := textWidth(last); !strings.Contains(value, "\n") && lw+1+vw <= width {
		lines[len(lines)-1] = last + strings.Repeat(" ", width-lw-vw) + value
		return lines
	}
	return append(lines, alignAll(wrapText(value, width), "right", width)...)
}

func alignAll(lines []string, align string, width int) []string {
	for i, s := range lines {
		pad := width - textWidth(s)
		if pad <= 0 {
			continue
		}
		switch align {
		case "center":
			lines[i] = strings.Repeat(" ", pad/2) + s
		case "right":
			lines[i] = strings.Repeat(" ", pad) + s
		}
	}
	return lines
}

// wrapText wraps each paragraph at width. A paragraph that fits keeps its
// spacing (terminal receipts align columns with spaces); a longer one is
// wrapped at spaces, and a word longer than the width is cut.
func wrapText(s string, width int) []string {
	var out []string
	for _, para := range strings.Split(s, "\n") {
		para = strings.TrimRight(para, " ")
		if textWidth(para) <= width {
			out = append(out, para)
			continue
		}
		line, lw := "", 0
		for _, word := range strings.Fields(para) {
			ww := textWidth(word)
			if ww > width { // cut an over-long word into full lines
				if lw > 0 {
					out = append(out, line)
					line, lw = "", 0
				}
				var full []string
				full, word, ww = cutLines(word, width)
				out = append(out, full...)
			}
			switch {
			case ww == 0:
			case lw == 0:
				line, lw = word, ww
			case lw+1+ww <= width:
				line, lw = line+" "+word, lw+1+ww
			default:
				out = append(out, line)
				line, lw = word, ww
			}
		}
		if lw > 0 || line != "" {
			out = append(out, line)
		}
	}
	return out
}

// cutLines cuts s into lines of at most width columns in one pass (a word of
// megabytes costs linear time, not one rescan per line), keeping combining
// marks with their base character. It returns the full lines and the rest
// (at most width columns) with its width.
func cutLines(s string, width int) (lines []string, rest string, restWidth int) {
	start, w := 0, 0
	for i, r := range s {
		rw := runeWidth(r)
		if rw > 0 && w+rw > width {
			lines = append(lines, s[start:i])
			start, w = i, 0
		}
		w += rw
	}
	return lines, s[start:], w
}

// cleanText normalises line breaks and removes control characters (ESC
// sequences would reach the printer) and tabs (width unknown).
func cleanText(s string) string {
	s = strings.ReplaceAll(s, "\r\n", "\n")
	s = strings.ReplaceAll(s, "\r", "\n")
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "?")
	}
	return strings.Map(func(r rune) rune {
		switch {
		case r == '\n':
			return r
		case r == '\t':
			return ' '
		case unicode.IsControl(r):
			return -1
		}
		return r
	}, s)
}

func textWidth(s string) int {
	w := 0
	for _, r := range s {
		w += runeWidth(r)
	}
	return w
}

// widthCalls, when set (tests), counts runeWidth evaluations: the measure of
// the formatter's work that does not depend on the machine's speed.
var widthCalls *int

// runeWidth is the number of columns r takes on a monospaced printer.
func runeWidth(r rune) int {
	if widthCalls != nil {
		*widthCalls++
	}
	if r >= 0x20 && r < 0x7F {
		return 1 // printable ASCII: most of every receipt
	}
	switch {
	case r == 0x200B || r == 0x200C || r == 0x200D || r == 0xFEFF:
		return 0
	case unicode.Is(unicode.Mn, r) || unicode.Is(unicode.Me, r) || unicode.Is(unicode.Cf, r):
		return 0
	case isWide(r):
		return 2
	}
	return 1
}

// isWide covers the East Asian wide and fullwidth blocks and the common
// emoji planes.
func isWide(r rune) bool {
	return (r >= 0x1100 && r <= 0x115F) ||
		(r >= 0x2E80 && r <= 0xA4CF && r != 0x303F) ||
		(r >= 0xAC00 && r <= 0xD7A3) ||
		(r >= 0xF900 && r <= 0xFAFF) ||
		(r >= 0xFE30 && r <= 0xFE4F) ||
		(r >= 0xFF00 && r <= 0xFF60) ||
		(r >= 0xFFE0 && r <= 0xFFE6) ||
		(r >= 0x1F300 && r <= 0x1F64F) ||
		(r >= 0x1F900 && r <= 0x1F9FF) ||
		(r >= 0x20000 && r <= 0x3FFFD)
}
