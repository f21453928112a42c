package cardpointe

import (
	_ "embed"
	"fmt"
	"strings"
)

// respcodes.tsv is the Gateway's response-code reference for the gateway
// itself (PPS) and the two UAT emulators the sandbox plays (FNOR, RPCT):
// processor, respcode, respstat, resptext, one per line, as published in
// CardPointe's GatewayResponseCodes.md (spec §3).
//
//go:embed respcodes.tsv
var respcodesTSV string

type respCode struct{ stat, text string }

// codes maps "PROC/code" to its respstat and resptext.
var codes = func() map[string]respCode {
	m := map[string]respCode{}
	for _, line := range strings.Split(strings.TrimSpace(respcodesTSV), "\n") {
		f := strings.Split(line, "\t")
		if len(f) != 4 {
			panic("cardpointe: malformed respcodes.tsv line: " + line)
		}
		m[f[0]+"/"+f[1]] = respCode{stat: f[2], text: f[3]}
	}
	return m
}()

// Processors the sandbox emulates.
const (
	ProcFNOR = "FNOR" // First Data North: the processor the standard UAT MID is boarded to (spec §4)
	ProcRPCT = "RPCT" // First Data Rapid Connect: 3-digit codes
	procPPS  = "PPS"  // the gateway itself
)

// answer is one response of the gateway or a processor.
type answer struct {
	respstat, respcode, resptext, respproc string
}

// ppsAnswer is the gateway's own answer for code (spec §3 PPS table).
func ppsAnswer(code string) answer {
	c, ok := codes[procPPS+"/"+code]
	if !ok {
		panic("cardpointe: unknown PPS code " + code)
	}
	return answer{respstat: c.stat, respcode: code, resptext: c.text, respproc: procPPS}
}

// procAnswer is processor proc's answer for code. A code the published
// table lacks (an amount-driven code like FNOR "116") is a decline whose
// text the sandbox cannot know: respstat C, resptext "Decline".
func procAnswer(proc, code string) answer {
	if c, ok := codes[proc+"/"+code]; ok {
		return answer{respstat: c.stat, respcode: code, resptext: c.text, respproc: proc}
	}
	return answer{respstat: "C", respcode: code, resptext: "Decline", respproc: proc}
}

// approvalCode is the processor's plain approval code.
func approvalCode(proc string) string {
	if proc == ProcRPCT {
		return "000"
	}
	return "00"
}

// testPAN is one UAT card with a documented answer (spec §4).
type testPAN struct {
	fnor, rpct string // response code per emulator
	authcode   string // fixed authcode of the approval PANs
}

// testPANs are the specific-response UAT cards of spec §4.
var testPANs = func() map[string]testPAN {
	m := map[string]testPAN{
		"4788250000121443": {"00", "000", "PPS009"},
		"5454545454545454": {"00", "000", "PPS010"},
		"371449635398431":  {"00", "000", "PPS013"},
		"6011000995500000": {"00", "000", "PPS015"},
		"36438999960016":   {"00", "000", "PPS012"},
		"3528000000000007": {"00", "000", "PPS007"},
	}
	// Visa 43877511111110xx, MC 54429811111110xx, Discover 60110009955111xx.
	for _, d := range []struct {
		visa, mc, disc, fnor, rpct string
	}{
		{"4387751111111020", "5442981111111023", "6011000995511122", "01", "107"}, // refer to issuer / call for authorization
		{"4387751111111038", "5442981111111031", "6011000995511130", "05", "100"}, // do not honor
		{"4387751111111046", "5442981111111049", "6011000995511148", "54", "101"}, // wrong expiration / expired card
		{"4387751111111053", "5442981111111056", "6011000995511155", "NU", "500"}, // insufficient funds / decline
	} {
		for _, pan := range []string{d.visa, d.mc, d.disc} {
			m[pan] = testPAN{fnor: d.fnor, rpct: d.rpct}
		}
	}
	return m
}()

// Other UAT cards of spec §4.
const partialPAN = "4387750101010101" // amount >= 6.00 approves 5.00

var timeoutPANs = map[string]bool{ // PPS 62 "Timed out", respstat B
	"4999006200620062": true,
	"5111006200620062": true,
	"6465006200620062": true,
}

// Partial approval rule of spec §4.
const (
	partialThreshold = 600 // minor units: 6.00
	partialApproved  = 500 // minor units: 5.00
)

// emulate is what the UAT processor emulator answers an authorization of
// amount minor units on pan, and the amount it approves. The caller handles
// timeout PANs (PPS 62).
func (s *Server) emulate(pan string, amount int64) (answer, int64) {
	proc := s.opts.Processor
	if t, ok := testPANs[pan]; ok {
		code := t.fnor
		if proc == ProcRPCT {
			code = t.rpct
		}
		return procAnswer(proc, code), amount
	}
	if pan == partialPAN && amount >= partialThreshold {
		code := "10"
		if proc == ProcRPCT {
			code = "002"
		}
		return procAnswer(proc, code), partialApproved
	}
	if code, ok := amountDrivenCode(proc, amount); ok {
		return procAnswer(proc, code), amount
	}
	return procAnswer(proc, approvalCode(proc)), amount
}

// amountDrivenCode applies spec §4: a whole-dollar part of 1000..1999
// selects the processor code given by its last three digits; two-digit
// processors (FNOR) take "005" as "05". The sign is ignored, so a forced
// credit and a refund of 1500.00 both give code 500.
func amountDrivenCode(proc string, minor int64) (string, bool) {
	if minor < 0 {
		minor = -minor
	}
	dollars := minor / 100
	if dollars < 1000 || dollars > 1999 {
		return "", false
	}
	n := dollars - 1000
	if proc == ProcFNOR && n < 100 {
		return fmt.Sprintf("%02d", n), true
	}
	return fmt.Sprintf("%03d", n), true
}

// avsCodes maps the last three characters of a postal code (or a 3-digit
// value inside the address) to the AVS answer of every UAT emulator except
// Chase Paymentech (spec §4, GatewayResponseCodes "UAT Test Zip Codes").
var avsCodes = func() map[string]string {
	m := map[string]string{}
	for resp, keys := range map[string][]string{
		"X": {"1A1", "224"}, "Y": {"1A2", "225", "406"}, "A": {"1A3", "111", "201"},
		"W": {"1A4", "223"}, "Z": {"1A5", "113", "226"}, "N": {"1A6", "112", "214"},
		"U": {"1A7", "221"}, "G": {"1A8", "207"}, "R": {"1A9", "218"},
		"E": {"2B1", "205"}, "S": {"2B2", "219"}, "Q": {"2B3", "228"},
		"D": {"2B4", "204", "227"}, "B": {"2B5", "202"}, "C": {"2B6", "203"},
		"P": {"2B7", "216"}, "I": {"2B8", "209"}, "M": {"2B9", "213"},
	} {
		for _, k := range keys {
			m[k] = resp
		}
	}
	return m
}()

// avsDefault is the emulator's answer for any other postal code: the 2014
// UAT recordings answered "Z" for postal 84047 (spec §2.2).
const avsDefault = "Z"

// avsResponse picks the AVS answer from postal (last three characters) or,
// failing that, from the first 3-digit table value found in address. No
// postal and no address: no AVS answer ("").
func avsResponse(postal, address string) string {
	p := strings.ToUpper(strings.TrimSpace(postal))
	if len(p) >= 3 {
		if r, ok := avsCodes[p[len(p)-3:]]; ok {
			return r
		}
	}
	for i := 0; i+3 <= len(address); i++ {
		if k := address[i : i+3]; digitsOnly(k) {
			if r, ok := avsCodes[k]; ok {
				return r
			}
		}
	}
	if p == "" && strings.TrimSpace(address) == "" {
		return ""
	}
	return avsDefault
}

// cvvResponse is the UAT CVV answer (spec §4): 112 M, 111 N, 222 P, 333 U;
// any other CVV "M" (the recorded default for "123"); none sent "P", as
// recorded for an auth on a stored profile.
func cvvResponse(cvv string) string {
	switch cvv {
	case "":
		return "P"
	case "112":
		return "M"
	case "111":
		return "N"
	case "222":
		return "P"
	case "333":
		return "U"
	}
	return "M"
}
